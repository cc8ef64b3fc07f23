//! Routed labs against real namespaces: the router forwards between the
//! scanner's link and the far link, routes are specific (never default),
//! and routed targets take personalities, firewalls and listeners as
//! direct ones do, one hop further away.

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use scry_lab::{lab_or_skip, Lab, LabBuilder, Personality, Role, TargetSpec};

const SHORT: Duration = Duration::from_millis(300);

/// A direct target, a Linux routed target and a Windows-like routed target
/// that drops TCP to 23.
fn routed_lab() -> LabBuilder {
    Lab::builder()
        .target(TargetSpec::new().tcp_listen(&[22]))
        .routed_target(TargetSpec::new().tcp_listen(&[22, 80]))
        .routed_target(
            TargetSpec::new()
                .personality(Personality::windows_like())
                .tcp_listen(&[445])
                .reject_tcp_port(23, scry_lab::RejectWith::AdminProhibited),
        )
}

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run command");
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn connect(addr: impl Into<IpAddr>, port: u16) -> std::io::Result<TcpStream> {
    TcpStream::connect_timeout(&SocketAddr::new(addr.into(), port), SHORT)
}

#[test]
fn routed_nodes_are_addressed_and_named() {
    let lab = lab_or_skip!(routed_lab());
    let router = lab.router().expect("a lab with routed targets has a router");
    assert_eq!(router.ns(), format!("{}rt", lab.prefix()));
    assert_eq!((router.role(), router.ipv4().to_string()), (Role::Router, "198.18.0.2".to_owned()));
    let [r0, r1] = lab.routed() else { panic!("two routed targets") };
    assert_eq!(r1.ns(), format!("{}r1", lab.prefix()));
    assert_eq!(
        (r0.ipv4().to_string(), r0.ipv6().to_string()),
        ("198.19.0.10".into(), "2001:2:0:1::a".into())
    );
    assert_eq!(r1.mac().to_string(), "02:00:c6:13:00:0b");
    let addrs = stdout(Command::new("ip").args(["-n", router.ns(), "-br", "addr"]));
    assert!(addrs.contains("198.18.0.2/24") && addrs.contains("198.19.0.1/24"), "{addrs}");
    assert!(addrs.contains("2001:2::2/64") && addrs.contains("2001:2:0:1::1/64"), "{addrs}");
    let table = lab.to_string();
    assert!(table.contains("router; eth1 198.19.0.1 2001:2:0:1::1"), "{table}");
    let r1_row: Vec<&str> =
        table.lines().find(|l| l.starts_with("r1 ")).unwrap().split_whitespace().collect();
    assert_eq!(r1_row[..5], ["r1", r1.ns(), "198.19.0.11", "2001:2:0:1::b", "02:00:c6:13:00:0b"], "{table}");
    assert_eq!(lab.namespaces().len(), 6, "hub, scanner, t0, router, r0, r1");
    let names = scry_lab::list_labs().unwrap().remove(&lab.id()).expect("the lab is listed");
    let roles: Vec<Role> = names.into_iter().map(|(role, _)| role).collect();
    assert_eq!(
        roles,
        [Role::Hub, Role::Scanner, Role::Target(0), Role::Router, Role::Routed(0), Role::Routed(1)]
    );
}

#[test]
fn only_specific_routes_and_only_the_router_forwards() {
    let lab = lab_or_skip!(routed_lab());
    let router = lab.router().unwrap();
    let everyone = std::iter::once(lab.scanner()).chain(lab.targets()).chain([router]).chain(lab.routed());
    for node in everyone {
        for family in ["-4", "-6"] {
            let routes =
                stdout(Command::new("ip").args([family, "-n", node.ns(), "route", "show", "default"]));
            assert_eq!(routes.trim(), "", "{} {family}", node.ns());
        }
        let sysctl = |key: &str| stdout(node.command("sysctl").args(["-n", key])).trim().to_owned();
        let forwarding = if node.role() == Role::Router { "1" } else { "0" };
        assert_eq!(sysctl("net.ipv4.ip_forward"), forwarding, "{}", node.ns());
        assert_eq!(sysctl("net.ipv6.conf.all.forwarding"), forwarding, "{}", node.ns());
    }
    let route = |node: &scry_lab::Node, family: &str, dst: &str| {
        let text = stdout(Command::new("ip").args([family, "-n", node.ns(), "route", "show", dst]));
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    let scanner = lab.scanner();
    assert_eq!(route(scanner, "-4", "198.19.0.0/24"), "198.19.0.0/24 via 198.18.0.2 dev eth0");
    assert!(route(scanner, "-6", "2001:2:0:1::/64").starts_with("2001:2:0:1::/64 via 2001:2::2 dev eth0"));
    let r0 = &lab.routed()[0];
    assert_eq!(route(r0, "-4", "198.18.0.0/24"), "198.18.0.0/24 via 198.19.0.1 dev eth0");
    assert!(route(r0, "-6", "2001:2::/64").starts_with("2001:2::/64 via 2001:2:0:1::1 dev eth0"));
    assert_eq!(route(&lab.targets()[0], "-4", "198.19.0.0/24"), "", "direct targets know no far link");
}

#[test]
fn routed_targets_answer_one_hop_away_with_their_personality() {
    let lab = lab_or_skip!(routed_lab());
    let [r0, r1] = lab.routed() else { panic!("two routed targets") };
    let ping = |dst: IpAddr| lab.scanner().ping(dst, Duration::from_secs(2)).unwrap().expect("an echo reply");
    assert_eq!(ping(r0.ipv4().into()).ttl, 63);
    assert_eq!(ping(r0.ipv6().into()).ttl, 63);
    assert_eq!(ping(r1.ipv4().into()).ttl, 127);
    let (v4, v6, win) = (r0.ipv4(), r0.ipv6(), r1.ipv4());
    let [open4, open6, closed, open_win, rejected] = lab
        .scanner()
        .run(|| {
            [connect(v4, 22), connect(v6, 80), connect(v4, 23), connect(win, 445), connect(win, 23)]
                .map(|r| r.map(drop))
        })
        .unwrap();
    open4.expect("v4 connect to routed 22");
    open6.expect("v6 connect to routed 80");
    open_win.expect("connect to the Windows-like routed 445");
    assert_eq!(closed.unwrap_err().kind(), ErrorKind::ConnectionRefused);
    // Admin-prohibited from the routed target's firewall.
    assert_eq!(rejected.unwrap_err().kind(), ErrorKind::HostUnreachable);
    let sysctl = stdout(r1.command("sysctl").args(["-n", "net.ipv4.tcp_timestamps"]));
    assert_eq!(sysctl.trim(), "0");
}

#[test]
fn a_routed_drop_all_target_is_silent() {
    let lab = lab_or_skip!(Lab::builder().routed_target(TargetSpec::new().tcp_listen(&[22]).drop_all()));
    let r0 = &lab.routed()[0];
    assert_eq!(lab.scanner().ping(r0.ipv4().into(), SHORT).unwrap(), None);
    let (v4, v6) = (r0.ipv4(), r0.ipv6());
    let (c4, c6) = lab.scanner().run(|| (connect(v4, 22).map(drop), connect(v6, 22).map(drop))).unwrap();
    assert_eq!(c4.unwrap_err().kind(), ErrorKind::TimedOut);
    assert_eq!(c6.unwrap_err().kind(), ErrorKind::TimedOut);
}

#[test]
fn a_lab_without_routed_targets_has_no_router() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new()));
    assert!(lab.router().is_none() && lab.routed().is_empty());
    let hub = stdout(Command::new("ip").args(["-n", lab.hub_ns(), "-br", "link"]));
    assert!(!hub.contains("br1"), "{hub}");
    let routes = stdout(Command::new("ip").args(["-4", "-n", lab.scanner().ns(), "route"]));
    assert_eq!(routes.lines().count(), 1, "only the link route: {routes}");
}

#[test]
fn stale_routers_and_routed_targets_are_swept() {
    drop(lab_or_skip!(Lab::builder())); // skip without root
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = [format!("scry{dead}x0rt"), format!("scry{dead}x0r0")];
    for ns in &stale {
        stdout(Command::new("ip").args(["netns", "add", ns]));
    }
    let lab = lab_or_skip!(Lab::builder());
    let list = stdout(Command::new("ip").args(["netns", "list"]));
    for ns in &stale {
        assert!(!list.lines().any(|l| l.split_whitespace().next() == Some(ns)), "{ns} survived a build");
    }
    drop(lab);
}
