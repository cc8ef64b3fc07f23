//! IPv6 in the lab against real namespaces: addresses are usable the moment
//! `build` returns (no duplicate address detection), solicitations reach
//! every node (no multicast snooping), the routed subnet is one hop further
//! away, and the firewall helpers drop and reject over IPv6 as over IPv4.

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;

use scry_lab::{lab_or_skip, Lab, Personality, RejectWith, TargetSpec};

const SHORT: Duration = Duration::from_millis(300);
const LONG: Duration = Duration::from_secs(1);

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run command");
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 output")
}

#[test]
fn ipv6_is_usable_at_once_between_any_two_nodes() {
    let lab = lab_or_skip!(Lab::builder()
        .targets([TargetSpec::new(), TargetSpec::new()])
        .routed_target(TargetSpec::new()));
    let router = lab.router().unwrap();
    let nodes = std::iter::once(lab.scanner()).chain(lab.targets()).chain([router]).chain(lab.routed());
    for node in nodes {
        let addrs = stdout(Command::new("ip").args(["-6", "-n", node.ns(), "addr", "show"]));
        assert!(addrs.contains(&format!("inet6 {}/64", node.ipv6())), "{}: {addrs}", node.ns());
        assert!(!addrs.contains("tentative") && !addrs.contains("dadfailed"), "{}: {addrs}", node.ns());
        for dev in ["all", "default"] {
            let key = format!("net.ipv6.conf.{dev}.accept_dad");
            assert_eq!(stdout(node.command("sysctl").args(["-n", &key])).trim(), "0", "{} {key}", node.ns());
        }
    }
    for bridge in ["br0", "br1"] {
        let link = stdout(Command::new("ip").args(["-d", "-n", lab.hub_ns(), "link", "show", bridge]));
        assert!(link.contains("mcast_snooping 0"), "{bridge}: {link}");
    }
    // Target to target: neither has solicited the other before, so this
    // needs a solicitation to the solicited-node group crossing the bridge.
    let [t0, t1] = lab.targets() else { panic!("two targets") };
    let reply = t0.ping(t1.ipv6().into(), Duration::from_secs(2)).unwrap().expect("t1 answers t0's ping6");
    assert_eq!((reply.from, reply.ttl), (IpAddr::V6(t1.ipv6()), 64));
    let neigh =
        stdout(Command::new("ip").args(["-6", "-n", t0.ns(), "neigh", "show", &t1.ipv6().to_string()]));
    assert!(neigh.contains(&format!("lladdr {}", t1.mac())), "{neigh}");
    // And the router reaches a routed target on its far link likewise.
    let r0 = &lab.routed()[0];
    let reply =
        router.ping(r0.ipv6().into(), Duration::from_secs(2)).unwrap().expect("r0 answers the router");
    assert_eq!(reply.ttl, 64);
}

#[test]
fn a_routed_targets_hop_limit_arrives_one_lower() {
    let hops = Personality { ttl: Some(100), ..Personality::default() };
    let lab = lab_or_skip!(Lab::builder()
        .target(TargetSpec::new().personality(hops.clone()))
        .routed_target(TargetSpec::new().personality(hops)));
    let ping = |dst: IpAddr| lab.scanner().ping(dst, Duration::from_secs(2)).unwrap().expect("an echo reply");
    let (t0, r0) = (&lab.targets()[0], &lab.routed()[0]);
    assert_eq!(ping(t0.ipv6().into()).ttl, 100);
    assert_eq!(ping(r0.ipv6().into()).ttl, 99);
    assert_eq!(ping(r0.ipv4().into()).ttl, 99);
    let route = stdout(Command::new("ip").args([
        "-6",
        "-n",
        lab.scanner().ns(),
        "route",
        "get",
        &r0.ipv6().to_string(),
    ]));
    assert!(route.contains("via 2001:2::2 dev eth0"), "{route}");
}

#[test]
fn firewall_drops_and_rejects_over_ipv6() {
    let lab = lab_or_skip!(Lab::builder().target(
        TargetSpec::new()
            .tcp_listen(&[22, 25])
            .udp_listen(&[53, 161])
            .drop_tcp_ports(&[23])
            .drop_udp_ports(&[53])
            .reject_tcp_port(25, RejectWith::AdminProhibited)
            .reject_udp_port(161, RejectWith::AdminProhibited)
    ));
    let v6 = lab.targets()[0].ipv6();
    // Linux reports an ICMPv6 error to a connecting socket only once the
    // retransmitted SYN draws it again (about a second), so wait longer.
    let tcp = |port| TcpStream::connect_timeout(&SocketAddr::new(v6.into(), port), 3 * LONG).map(drop);
    // A connected UDP socket learns of an ICMPv6 error on its next receive.
    let udp = |port| {
        let sock = UdpSocket::bind("[::]:0").unwrap();
        sock.set_read_timeout(Some(SHORT)).unwrap();
        sock.connect(SocketAddr::new(v6.into(), port)).unwrap();
        sock.send(b"probe").unwrap();
        sock.recv(&mut [0; 64]).map(drop)
    };
    let [open, prohibited] = lab.scanner().run(|| [tcp(22), tcp(25)]).unwrap();
    open.expect("connect to open 22 over IPv6");
    let dropped = lab
        .scanner()
        .run(|| TcpStream::connect_timeout(&SocketAddr::new(v6.into(), 23), SHORT).map(drop))
        .unwrap();
    assert_eq!(dropped.unwrap_err().kind(), ErrorKind::TimedOut);
    // ICMPv6 destination unreachable code 1 (administratively prohibited)
    // is EACCES to Linux sockets; ICMP's type 3 code 13 is EHOSTUNREACH.
    assert_eq!(prohibited.unwrap_err().raw_os_error(), Some(libc::EACCES));
    let [closed, silent, udp_prohibited] = lab.scanner().run(|| [udp(9), udp(53), udp(161)]).unwrap();
    assert_eq!(closed.unwrap_err().kind(), ErrorKind::ConnectionRefused, "the kernel's port unreachable");
    let silent = silent.unwrap_err().kind();
    assert!(matches!(silent, ErrorKind::WouldBlock | ErrorKind::TimedOut), "{silent:?}");
    let udp_prohibited = udp_prohibited.unwrap_err();
    assert_eq!(udp_prohibited.raw_os_error(), Some(libc::EACCES), "{udp_prohibited:?}");
}

#[test]
fn drop_all_ipv6_leaves_ipv4_up() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(&[22]).drop_all_ipv6()));
    let t0 = &lab.targets()[0];
    assert_eq!(lab.scanner().ping(t0.ipv4().into(), SHORT).unwrap().map(|r| r.ttl), Some(64));
    assert_eq!(lab.scanner().ping(t0.ipv6().into(), SHORT).unwrap(), None);
    let (v4, v6) = (t0.ipv4(), t0.ipv6());
    let (c4, c6) = lab
        .scanner()
        .run(|| {
            let connect = |a: IpAddr| TcpStream::connect_timeout(&SocketAddr::new(a, 22), SHORT).map(drop);
            (connect(v4.into()), connect(v6.into()))
        })
        .unwrap();
    c4.expect("IPv4 still connects");
    assert_eq!(c6.unwrap_err().kind(), ErrorKind::TimedOut);
}

/// Closed UDP ports of `target` among 40001..=40000+n that answer a
/// datagram with an ICMPv6 port unreachable, sent all at once.
fn closed_udp_answers(lab: &Lab, target: std::net::Ipv6Addr, n: u16) -> usize {
    lab.scanner()
        .run(|| {
            let socks: Vec<UdpSocket> = (1..=n)
                .map(|i| {
                    let sock = UdpSocket::bind("[::]:0").unwrap();
                    sock.connect(SocketAddr::new(target.into(), 40000 + i)).unwrap();
                    sock.send(b"probe").unwrap();
                    sock
                })
                .collect();
            std::thread::sleep(SHORT);
            socks
                .iter()
                .filter(|s| {
                    s.set_nonblocking(true).unwrap();
                    s.recv(&mut [0; 8]).is_err_and(|e| e.kind() == ErrorKind::ConnectionRefused)
                })
                .count()
        })
        .unwrap()
}

#[test]
fn icmp_ratelimit_zero_lets_every_closed_udp_port_answer_over_ipv6() {
    let unlimited = Personality { icmp_ratelimit: Some(0), ..Personality::default() };
    let lab = lab_or_skip!(Lab::builder()
        .target(TargetSpec::new().personality(unlimited))
        .target(TargetSpec::new()));
    let [t0, t1] = lab.targets() else { panic!("two targets") };
    assert_eq!(closed_udp_answers(&lab, t0.ipv6(), 30), 30);
    // Linux's default (1000 ms per peer, a burst of a few) answers fewer.
    let limited = closed_udp_answers(&lab, t1.ipv6(), 30);
    assert!(limited < 30, "{limited} of 30 answered with the default rate limit");
}
