//! Routes and next-hop MACs against a real kernel: from the lab's scanner
//! namespace, `route_to` must agree with the routing table (on-link, via a
//! gateway, loopback, own address, no route, broadcast), the overrides must
//! bend it as `-e` and `-S` promise, and `resolve_mac` must find the target's
//! MAC from the kernel's neighbour table, by our own ARP when the table is
//! empty, and by our own neighbour discovery for IPv6. Everything sent
//! goes to 198.18.0.0/24 or 2001:2::/64 from inside the lab.

use scry_capture::{
    resolve_mac, resolve_many, route_to, route_with, CaptureConfig, Error, Receiver, RouteOverrides,
};
use scry_lab::{lab_or_skip, Lab, Node, TargetSpec};
use scry_packet::Mac;
use std::net::{IpAddr, UdpSocket};
use std::time::{Duration, Instant};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// Runs `ip ARGS` in the node's namespace and returns its output.
fn ip_cmd(node: &Node, args: &[&str]) -> String {
    let out = node.command("ip").args(args).output().expect("run ip");
    assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn one_target_lab() -> Option<Lab> {
    scry_lab::require_lab(Lab::builder().target(TargetSpec::new()).build())
}

#[test]
fn routes_match_the_kernel_tables() {
    let Some(lab) = one_target_lab() else { return };
    let (t4, t6) = (IpAddr::V4(lab.targets()[0].ipv4()), IpAddr::V6(lab.targets()[0].ipv6()));
    lab.scanner()
        .run(|| {
            let r = route_to(t4).unwrap();
            assert_eq!((r.iface.name.as_str(), r.src, r.next_hop, r.gateway), ("eth0", ip("198.18.0.1"), t4, None));

            let r = route_to(t6).unwrap();
            assert_eq!((r.iface.name.as_str(), r.src, r.next_hop, r.gateway), ("eth0", ip("2001:2::1"), t6, None));

            for (dst, src) in [("127.0.0.1", "127.0.0.1"), ("127.1.2.3", "127.0.0.1"), ("::1", "::1")] {
                let r = route_to(ip(dst)).unwrap();
                assert!(r.iface.is_loopback, "{dst} via {}", r.iface.name);
                assert_eq!((r.iface.name.as_str(), r.src, r.next_hop), ("lo", ip(src), ip(dst)));
            }
            let own = route_to(ip("198.18.0.1")).unwrap();
            assert_eq!((own.iface.name.as_str(), own.gateway), ("lo", None), "own address goes via lo");

            for dst in ["198.19.0.5", "2001:2:0:1::5"] {
                let err = route_to(ip(dst)).unwrap_err();
                assert!(matches!(err, Error::NoRoute(a) if a == ip(dst)), "{dst}: {err}");
                assert_eq!(
                    err.to_string(),
                    format!("no route to {dst} (this network namespace has no matching route and no default route)")
                );
            }
            let err = route_to(ip("198.18.0.255")).unwrap_err();
            assert!(matches!(err, Error::NotUnicast { kind: "broadcast", .. }), "{err}");
        })
        .unwrap();
}

#[test]
fn gateway_routes_name_the_gateway() {
    let Some(lab) = one_target_lab() else { return };
    let target = &lab.targets()[0];
    let (gw4, gw6) = (IpAddr::V4(target.ipv4()), IpAddr::V6(target.ipv6()));
    ip_cmd(lab.scanner(), &["route", "add", "198.19.0.0/16", "via", &gw4.to_string()]);
    ip_cmd(lab.scanner(), &["-6", "route", "add", "2001:2:0:1::/64", "via", &gw6.to_string()]);
    lab.scanner()
        .run(|| {
            let r = route_to(ip("198.19.7.7")).unwrap();
            assert_eq!(
                (r.iface.name.as_str(), r.src, r.next_hop, r.gateway),
                ("eth0", ip("198.18.0.1"), gw4, Some(gw4))
            );
            let r6 = route_to(ip("2001:2:0:1::7")).unwrap();
            assert_eq!((r6.src, r6.next_hop, r6.gateway), (ip("2001:2::1"), gw6, Some(gw6)));
            // The next hop's MAC is the gateway's; nothing goes to 198.19.7.7 itself.
            let want = Mac(target.mac().octets());
            assert_eq!(resolve_mac(&r, Duration::from_secs(1)).unwrap(), want);
            assert_eq!(resolve_mac(&r6, Duration::from_secs(1)).unwrap(), want);
        })
        .unwrap();
}

#[test]
fn overrides_pick_interface_and_source() {
    let Some(lab) = one_target_lab() else { return };
    let t4 = IpAddr::V4(lab.targets()[0].ipv4());
    lab.scanner()
        .run(|| {
            let own = RouteOverrides { iface: None, src: Some(ip("198.18.0.1")) };
            assert_eq!(route_with(t4, &own).unwrap().src, ip("198.18.0.1"));
            // A spoofed source changes the source only.
            let spoofed = RouteOverrides { iface: None, src: Some(ip("198.18.0.77")) };
            let r = route_with(t4, &spoofed).unwrap();
            assert_eq!((r.iface.name.as_str(), r.src, r.next_hop), ("eth0", ip("198.18.0.77"), t4));

            let eth0 = RouteOverrides { iface: Some("eth0".into()), src: None };
            assert_eq!(route_with(t4, &eth0).unwrap().iface.name, "eth0");
            // With -e and no route, the kernel takes the destination as on-link.
            let r = route_with(ip("198.19.0.5"), &eth0).unwrap();
            assert_eq!((r.iface.name.as_str(), r.next_hop, r.gateway), ("eth0", ip("198.19.0.5"), None));

            let nosuch = RouteOverrides { iface: Some("nosuch0".into()), src: None };
            assert!(matches!(route_with(t4, &nosuch), Err(Error::NoSuchInterface(n)) if n == "nosuch0"));
            let mixed = RouteOverrides { iface: None, src: Some(ip("2001:2::1")) };
            assert!(matches!(route_with(t4, &mixed), Err(Error::SourceFamily { .. })));
        })
        .unwrap();
}

/// The classic way to learn the source address: UDP `connect` only looks up
/// the route and binds the socket. It must send nothing, and agree with us.
#[test]
fn udp_connect_sends_nothing_and_agrees_on_the_source() {
    let Some(lab) = one_target_lab() else { return };
    let target = &lab.targets()[0];
    let dsts = [IpAddr::V4(target.ipv4()), IpAddr::V6(target.ipv6())];
    ip_cmd(lab.scanner(), &["neigh", "flush", "all"]);
    lab.scanner()
        .run(|| {
            // Only UDP: the target's own neighbour probes may pass by meanwhile.
            let config =
                CaptureConfig { filter: "udp".into(), inbound_only: false, ..CaptureConfig::default() };
            let mut rx = Receiver::open("eth0", &config).unwrap();
            for dst in dsts {
                let bind = if dst.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
                let socket = UdpSocket::bind(bind).unwrap();
                socket.connect((dst, 9)).unwrap();
                assert_eq!(socket.local_addr().unwrap().ip(), route_to(dst).unwrap().src, "{dst}");
            }
            let quiet_until = Instant::now() + Duration::from_millis(300);
            while Instant::now() < quiet_until {
                if let Some(frame) = rx.next_frame().unwrap() {
                    panic!("connect() sent a {}-byte frame", frame.wire_len);
                }
            }
        })
        .unwrap();
}

#[test]
fn our_arp_resolves_with_an_empty_neighbour_table() {
    let Some(lab) = one_target_lab() else { return };
    let target = &lab.targets()[0];
    let t4 = IpAddr::V4(target.ipv4());
    ip_cmd(lab.scanner(), &["neigh", "flush", "all"]);
    let mac =
        lab.scanner().run(|| resolve_mac(&route_to(t4).unwrap(), Duration::from_secs(1))).unwrap().unwrap();
    assert_eq!(mac, Mac(target.mac().octets()));
    // The kernel did not learn the address: the MAC came from our own ARP.
    let table = ip_cmd(lab.scanner(), &["neigh", "show", &t4.to_string()]);
    assert!(!table.contains("lladdr"), "kernel table: {table}");
}

#[test]
fn populated_table_answers_without_sending() {
    let Some(lab) = one_target_lab() else { return };
    let target = &lab.targets()[0];
    let (t4, t6) = (IpAddr::V4(target.ipv4()), IpAddr::V6(target.ipv6()));
    // Building the lab pinged the target; ping again to be sure the entries are fresh.
    for dst in [t4, t6] {
        assert!(lab.scanner().ping(dst, Duration::from_secs(2)).unwrap().is_some());
    }
    lab.scanner()
        .run(|| {
            // A zero timeout consults the table only.
            for dst in [t4, t6] {
                assert_eq!(
                    resolve_mac(&route_to(dst).unwrap(), Duration::ZERO).unwrap(),
                    Mac(target.mac().octets())
                );
            }
        })
        .unwrap();
}

#[test]
fn ipv6_resolves_through_our_neighbour_discovery() {
    let Some(lab) = one_target_lab() else { return };
    let target = &lab.targets()[0];
    let t6 = IpAddr::V6(target.ipv6());
    ip_cmd(lab.scanner(), &["-6", "neigh", "flush", "all"]);
    let mac =
        lab.scanner().run(|| resolve_mac(&route_to(t6).unwrap(), Duration::from_secs(1))).unwrap().unwrap();
    assert_eq!(mac, Mac(target.mac().octets()));
    // The kernel did not learn the address: the MAC came from our own solicitation.
    let table = ip_cmd(lab.scanner(), &["-6", "neigh", "show", &t6.to_string()]);
    assert!(!table.contains("lladdr"), "kernel table: {table}");
}

#[test]
fn silent_next_hops_time_out() {
    let Some(lab) = one_target_lab() else { return };
    let timeout = Duration::from_millis(500);
    for (unused, what) in [("198.18.0.99", "ARP reply"), ("2001:2::63", "neighbour advertisement")] {
        let (err, took) = lab
            .scanner()
            .run(|| {
                let started = Instant::now();
                (resolve_mac(&route_to(ip(unused)).unwrap(), timeout).unwrap_err(), started.elapsed())
            })
            .unwrap();
        assert_eq!(err.to_string(), format!("no {what} from {unused} on eth0 within 500ms"));
        assert!(took >= timeout && took < timeout * 3, "{unused}: gave up after {took:?}");
    }
}

#[test]
fn many_next_hops_at_once() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new()).target(TargetSpec::new()));
    let [t0, t1] = [&lab.targets()[0], &lab.targets()[1]];
    ip_cmd(lab.scanner(), &["neigh", "flush", "all"]);
    let dsts = [
        t0.ipv4().into(),
        t1.ipv4().into(),
        t0.ipv4().into(),
        ip("127.0.0.1"),
        ip("198.18.0.99"),
        t1.ipv6().into(),
    ];
    let (macs, took) = lab
        .scanner()
        .run(|| {
            let routes: Vec<_> = dsts.iter().map(|&d| route_to(d).unwrap()).collect();
            let started = Instant::now();
            (resolve_many(&routes, Duration::from_millis(600)).unwrap(), started.elapsed())
        })
        .unwrap();
    let (m0, m1) = (Some(Mac(t0.mac().octets())), Some(Mac(t1.mac().octets())));
    assert_eq!(macs, vec![m0, m1, m0, Some(Mac::ZERO), None, m1]);
    assert!(took < Duration::from_secs(2), "{took:?}");
}
