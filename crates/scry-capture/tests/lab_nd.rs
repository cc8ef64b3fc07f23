//! IPv6 neighbours against real kernels: from the lab's scanner namespace,
//! our own Neighbor Solicitations find on-link targets and the router for
//! routed ones, host discovery (`ask_many_via`) never takes the kernel's
//! table for an answer, and a solicitation for a source address the kernel
//! does not own is answered by us. Everything sent stays in 2001:2::/64 and
//! its link-local and multicast groups, inside the lab.

use scry_capture::{
    ask_many_via, resolve_mac, resolve_many, route_to, route_with, CaptureConfig, NdResponder, RawSender,
    Receiver, RouteOverrides,
};
use scry_lab::{lab_or_skip, Lab, Node, TargetSpec};
use scry_packet::{parse_frame, Mac};
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

fn ip_cmd(node: &Node, args: &[&str]) -> String {
    let out = node.command("ip").args(args).output().expect("run ip");
    assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn mac(node: &Node) -> Mac {
    Mac(node.mac().octets())
}

#[test]
fn discovery_asks_the_wire_never_the_table() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new()).target(TargetSpec::new().drop_all()));
    let [t0, t1] = [&lab.targets()[0], &lab.targets()[1]];
    let absent: Ipv6Addr = "2001:2::63".parse().unwrap();
    let bogus = "02:00:c6:12:00:63";
    ip_cmd(lab.scanner(), &["-6", "neigh", "flush", "all"]);
    ip_cmd(
        lab.scanner(),
        &["-6", "neigh", "add", &absent.to_string(), "lladdr", bogus, "dev", "eth0", "nud", "permanent"],
    );
    let dsts: [IpAddr; 4] = [t0.ipv6().into(), t1.ipv6().into(), absent.into(), t0.ipv6().into()];
    let (asked, from_table) = lab
        .scanner()
        .run(|| {
            let routes: Vec<_> = dsts.iter().map(|&d| route_to(d).unwrap()).collect();
            let asked = ask_many_via(&routes, Duration::from_millis(600), None).unwrap();
            (asked, resolve_many(&routes[2..3], Duration::ZERO).unwrap())
        })
        .unwrap();
    // The firewalled t1 still answers neighbour discovery; the absent host
    // does not, whatever the table says.
    assert_eq!(asked, vec![Some(mac(t0)), Some(mac(t1)), None, Some(mac(t0))]);
    assert_eq!(from_table, vec![Some(bogus.parse().unwrap())], "resolve_many does read the table");
    // The kernel learnt nothing from the advertisements it did not ask for.
    let table = ip_cmd(lab.scanner(), &["-6", "neigh", "show", &t0.ipv6().to_string()]);
    assert!(!table.contains("lladdr"), "kernel table: {table}");
}

#[test]
fn a_routed_target_resolves_to_the_router() {
    let lab = lab_or_skip!(Lab::builder().routed_target(TargetSpec::new()));
    let r0 = &lab.routed()[0];
    let router = lab.router().unwrap();
    ip_cmd(lab.scanner(), &["-6", "neigh", "flush", "all"]);
    let (route, mac) = lab
        .scanner()
        .run(|| {
            let route = route_to(r0.ipv6().into()).unwrap();
            let mac = resolve_mac(&route, Duration::from_secs(1)).unwrap();
            (route, mac)
        })
        .unwrap();
    let gw = IpAddr::V6(router.ipv6());
    assert_eq!(
        (route.iface.name.as_str(), route.src, route.gateway, route.next_hop),
        ("eth0", IpAddr::V6(lab.scanner().ipv6()), Some(gw), gw)
    );
    assert_eq!(mac, self::mac(router));
}

#[test]
fn a_spoofed_source_is_answered_for() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new()));
    let (scanner, t0) = (lab.scanner().clone(), lab.targets()[0].clone());
    let spoofed: Ipv6Addr = "2001:2::99".parse().unwrap();
    let t0_addr = t0.ipv6();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let answered = std::thread::scope(|s| {
        let responder = s.spawn(|| {
            scanner
                .run(move || {
                    let overrides = RouteOverrides { iface: None, src: Some(spoofed.into()) };
                    let route = route_with(t0_addr.into(), &overrides).unwrap();
                    let responder =
                        NdResponder::for_route(&route).expect("the kernel does not own the source");
                    let config = CaptureConfig {
                        filter: responder.filter(),
                        timeout: Duration::from_millis(20),
                        ..CaptureConfig::default()
                    };
                    let mut rx = Receiver::open("eth0", &config).unwrap();
                    let tx = RawSender::open(&route.iface).unwrap();
                    ready_tx.send(()).unwrap();
                    let (deadline, mut answered) = (Instant::now() + Duration::from_secs(2), 0);
                    while Instant::now() < deadline && answered == 0 {
                        let link = rx.link_type();
                        let Some(frame) = rx.next_frame().unwrap() else { continue };
                        let Ok(frame) = parse_frame(link, frame.data) else { continue };
                        if let Some(na) = responder.answer(&frame) {
                            tx.send(&na).unwrap();
                            answered += 1;
                        }
                    }
                    answered
                })
                .unwrap()
        });
        ready_rx.recv().unwrap();
        // t0 pings the spoofed address: its kernel solicits it first. The
        // echo then goes to the scanner's MAC, whose kernel drops it (not
        // its address), so no reply is expected.
        assert_eq!(t0.ping(spoofed.into(), Duration::from_millis(500)).unwrap(), None);
        responder.join().unwrap()
    });
    assert_eq!(answered, 1);
    let table = ip_cmd(&t0, &["-6", "neigh", "show", &spoofed.to_string()]);
    assert!(table.contains(&format!("lladdr {}", lab.scanner().mac())), "t0's table: {table}");
}

/// The EUI-64 link-local address the kernel gives a MAC (RFC 4291 appendix A).
fn link_local(mac: Mac) -> Ipv6Addr {
    let m = mac.0;
    Ipv6Addr::from([0xfe, 0x80, 0, 0, 0, 0, 0, 0, m[0] ^ 2, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]])
}

#[test]
fn a_link_local_target_routes_through_the_named_interface() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new()));
    let t0 = &lab.targets()[0];
    let (dst, ours) = (link_local(mac(t0)), link_local(mac(lab.scanner())));
    let addrs = ip_cmd(t0, &["-6", "addr", "show", "dev", "eth0"]);
    assert!(addrs.contains(&format!("inet6 {dst}/64 scope link")), "{addrs}");
    ip_cmd(lab.scanner(), &["-6", "neigh", "flush", "all"]);
    let (route, found) = lab
        .scanner()
        .run(|| {
            let overrides = RouteOverrides { iface: Some("eth0".into()), src: None };
            let route = route_with(dst.into(), &overrides).unwrap();
            let found = ask_many_via(std::slice::from_ref(&route), Duration::from_millis(600), None).unwrap();
            (route, found)
        })
        .unwrap();
    assert_eq!((route.iface.name.as_str(), route.src, route.gateway), ("eth0", IpAddr::V6(ours), None));
    assert_eq!(found, vec![Some(mac(t0))]);
}
