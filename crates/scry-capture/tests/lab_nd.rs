//! IPv6 neighbours against real kernels: from the lab's scanner namespace,
//! our own Neighbor Solicitations find on-link targets and the router for
//! routed ones, host discovery (`ask_many_via`) never takes the kernel's
//! table for an answer, and a solicitation for a source address the kernel
//! does not own is answered by us. Everything sent stays in 2001:2::/64 and
//! its link-local and multicast groups, inside the lab.

use scry_capture::{
    ask_many_via, filter, resolve_mac, resolve_many, route_to, CaptureConfig, Interface, RawSender, Receiver,
};
use scry_lab::{lab_or_skip, Lab, Node, TargetSpec};
use scry_packet::{answer_solicitation, parse_frame, Mac};
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
    let our_mac = mac(&scanner);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let answered = std::thread::scope(|s| {
        let responder = s.spawn(|| {
            scanner
                .run(move || {
                    let iface = Interface::by_name("eth0").unwrap();
                    let config = CaptureConfig {
                        filter: filter::solicitations_for(spoofed),
                        timeout: Duration::from_millis(20),
                        ..CaptureConfig::default()
                    };
                    let mut rx = Receiver::open("eth0", &config).unwrap();
                    let tx = RawSender::open(&iface).unwrap();
                    ready_tx.send(()).unwrap();
                    let (deadline, mut answered) = (Instant::now() + Duration::from_secs(2), 0);
                    while Instant::now() < deadline && answered == 0 {
                        let link = rx.link_type();
                        let Some(frame) = rx.next_frame().unwrap() else { continue };
                        let Ok(frame) = parse_frame(link, frame.data) else { continue };
                        if let Some(na) = answer_solicitation(&frame, our_mac, &[spoofed]) {
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
