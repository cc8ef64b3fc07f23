//! The lab against real namespaces: addressing, reachability, personalities,
//! firewalls, listeners and teardown. Each test builds its own lab; without
//! root they skip (or fail when `CI=true`).

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use scry_lab::{lab_or_skip, Lab, LabBuilder, LabError, Personality, RejectWith, TargetSpec};

const SHORT: Duration = Duration::from_millis(300);

fn two_targets() -> LabBuilder {
    Lab::builder()
        .target(TargetSpec::new().tcp_listen(&[22, 80]).udp_listen(&[53]))
        .target(TargetSpec::new().personality(Personality::windows_like()))
}

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run command");
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn netns_list() -> String {
    stdout(Command::new("ip").args(["netns", "list"]))
}

fn connect(addr: impl Into<IpAddr>, port: u16) -> std::io::Result<TcpStream> {
    TcpStream::connect_timeout(&SocketAddr::new(addr.into(), port), SHORT)
}

/// Sends `count` datagrams to `dst` and counts the echoes.
fn udp_echoes(dst: SocketAddr, count: usize) -> usize {
    let bind: SocketAddr = if dst.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().unwrap();
    let sock = UdpSocket::bind(bind).unwrap();
    sock.set_read_timeout(Some(SHORT)).unwrap();
    for i in 0..count {
        sock.send_to(format!("probe {i}").as_bytes(), dst).unwrap();
    }
    let mut buf = [0u8; 64];
    let mut got = 0;
    while let Ok((n, from)) = sock.recv_from(&mut buf) {
        assert_eq!(from, dst);
        assert!(buf[..n].starts_with(b"probe "));
        got += 1;
    }
    got
}

#[test]
fn addresses_macs_and_names_are_exact() {
    let started = Instant::now();
    let lab = lab_or_skip!(two_targets());
    eprintln!("2-target lab built in {:?}", started.elapsed());
    let prefix = format!("scry{}x", std::process::id());
    assert!(lab.prefix().starts_with(&prefix), "{}", lab.prefix());
    assert_eq!(lab.scanner().ns(), format!("{}scan", lab.prefix()));
    assert_eq!(lab.hub_ns(), format!("{}hub", lab.prefix()));
    assert_eq!(lab.scanner().ipv4().to_string(), "198.18.0.1");
    assert_eq!(lab.scanner().ipv6().to_string(), "2001:2::1");
    assert_eq!(lab.scanner().mac().to_string(), "02:00:c6:12:00:01");
    assert_eq!(lab.scanner().iface(), "eth0");
    let [t0, t1] = lab.targets() else { panic!("two targets") };
    assert_eq!((t0.ns(), t1.ns()), (&*format!("{}t0", lab.prefix()), &*format!("{}t1", lab.prefix())));
    assert_eq!((t0.ipv4().to_string(), t1.ipv4().to_string()), ("198.18.0.10".into(), "198.18.0.11".into()));
    assert_eq!((t0.ipv6().to_string(), t1.ipv6().to_string()), ("2001:2::a".into(), "2001:2::b".into()));
    assert_eq!(t1.mac().octets(), [0x02, 0x00, 0xc6, 0x12, 0x00, 0x0b]);
    assert!(lab.target(2).is_none());

    let link = stdout(t1.command("ip").args(["-br", "link", "show", "dev", "eth0"]));
    assert!(link.contains("02:00:c6:12:00:0b"), "{link}");
    let addrs = stdout(t0.command("ip").args(["-br", "addr", "show", "dev", "eth0"]));
    assert!(addrs.contains("198.18.0.10/24") && addrs.contains("2001:2::a/64"), "{addrs}");
    let list = netns_list();
    for ns in lab.namespaces() {
        assert!(list.lines().any(|l| l.split_whitespace().next() == Some(&*ns)), "{ns} missing from {list}");
    }
    // Nothing of the lab shows up in the root namespace.
    let root_links = stdout(Command::new("ip").args(["-o", "link"]));
    assert!(!root_links.contains("02:00:c6:12") && !root_links.contains("br0"), "{root_links}");
}

#[test]
fn scanner_has_no_default_route_and_only_lo_and_eth0() {
    let lab = lab_or_skip!(two_targets());
    for node in std::iter::once(lab.scanner()).chain(lab.targets()) {
        for family in ["-4", "-6"] {
            let routes =
                stdout(Command::new("ip").args([family, "-n", node.ns(), "route", "show", "default"]));
            assert_eq!(routes.trim(), "", "{} {family}", node.ns());
        }
    }
    let links = stdout(Command::new("ip").args(["-n", lab.scanner().ns(), "-o", "link", "show"]));
    let mut names: Vec<&str> = links
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["eth0", "lo"], "{links}");
    let hub = stdout(Command::new("ip").args(["-n", lab.hub_ns(), "-br", "addr"]));
    assert!(hub.contains("br0") && !hub.contains("fe80"), "hub must carry no IPv6: {hub}");
}

#[test]
fn open_port_connects_and_closed_port_refuses() {
    let lab = lab_or_skip!(two_targets());
    let t0 = &lab.targets()[0];
    let (v4, v6) = (t0.ipv4(), t0.ipv6());
    let results = lab
        .scanner()
        .run(|| [connect(v4, 22), connect(v6, 80), connect(v4, 23), connect(v6, 23)].map(|r| r.map(drop)))
        .unwrap();
    let [open4, open6, closed4, closed6] = results;
    open4.expect("v4 connect to open 22");
    open6.expect("v6 connect to open 80");
    assert_eq!(closed4.unwrap_err().kind(), ErrorKind::ConnectionRefused);
    assert_eq!(closed6.unwrap_err().kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn personality_sets_ttl_and_hop_limit() {
    let lab = lab_or_skip!(two_targets());
    let [t0, t1] = lab.targets() else { panic!("two targets") };
    let sysctl = |key: &str| stdout(t1.command("sysctl").args(["-n", key])).trim().to_owned();
    assert_eq!(sysctl("net.ipv4.ip_default_ttl"), "128");
    assert_eq!(sysctl("net.ipv6.conf.eth0.hop_limit"), "128");
    assert_eq!(sysctl("net.ipv4.tcp_timestamps"), "0");
    assert_eq!(sysctl("net.ipv4.tcp_window_scaling"), "0");
    let default_ttl = stdout(t0.command("sysctl").args(["-n", "net.ipv4.ip_default_ttl"]));
    assert_eq!(default_ttl.trim(), "64", "t0 keeps the kernel default");

    let v4 = lab.scanner().ping(t1.ipv4().into(), Duration::from_secs(2)).unwrap().expect("t1 answers ping");
    assert_eq!((v4.from, v4.ttl), (IpAddr::V4(t1.ipv4()), 128));
    let v6 = lab.scanner().ping(t1.ipv6().into(), Duration::from_secs(2)).unwrap().expect("t1 answers ping6");
    assert_eq!((v6.from, v6.ttl), (IpAddr::V6(t1.ipv6()), 128));
    let linux =
        lab.scanner().ping(t0.ipv4().into(), Duration::from_secs(2)).unwrap().expect("t0 answers ping");
    assert_eq!(linux.ttl, 64);

    // Where iputils ping is installed (`ip netns exec` fails without it), it agrees.
    let out = lab.scanner().command("ping").args(["-c1", "-W1", &t1.ipv4().to_string()]).output().unwrap();
    if out.status.success() {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("ttl=128"), "{text}");
    }
}

#[test]
fn drop_all_target_times_out() {
    let lab =
        lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(&[22]).udp_listen(&[53]).drop_all()));
    let t0 = &lab.targets()[0];
    let (v4, v6) = (t0.ipv4(), t0.ipv6());
    let (r4, r6, echoes) = lab
        .scanner()
        .run(|| {
            (
                connect(v4, 22).map(drop),
                connect(v6, 22).map(drop),
                udp_echoes(SocketAddr::new(v4.into(), 53), 3),
            )
        })
        .unwrap();
    assert_eq!(r4.unwrap_err().kind(), ErrorKind::TimedOut);
    assert_eq!(r6.unwrap_err().kind(), ErrorKind::TimedOut);
    assert_eq!(echoes, 0);
    assert_eq!(lab.scanner().ping(v4.into(), SHORT).unwrap(), None);
}

#[test]
fn reject_answers_admin_prohibited() {
    let lab = lab_or_skip!(Lab::builder()
        .target(TargetSpec::new().tcp_listen(&[25]).reject_tcp_port(25, RejectWith::AdminProhibited)));
    let v4 = lab.targets()[0].ipv4();
    let started = Instant::now();
    let err = lab.scanner().run(|| connect(v4, 25)).unwrap().unwrap_err();
    // ICMP type 3 code 13 surfaces as "no route to host", at once.
    assert_eq!(err.raw_os_error(), Some(libc::EHOSTUNREACH), "{err}");
    assert!(started.elapsed() < SHORT, "{:?}", started.elapsed());
}

#[test]
fn udp_echo_works_on_both_families() {
    let lab = lab_or_skip!(two_targets());
    let t0 = &lab.targets()[0];
    let (v4, v6) = (SocketAddr::new(t0.ipv4().into(), 53), SocketAddr::new(t0.ipv6().into(), 53));
    let (got4, got6) = lab.scanner().run(|| (udp_echoes(v4, 5), udp_echoes(v6, 5))).unwrap();
    assert_eq!((got4, got6), (5, 5));
}

#[test]
fn drop_percent_drops_about_that_share() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().udp_listen(&[7]).drop_percent(50)));
    let dst = SocketAddr::new(lab.targets()[0].ipv4().into(), 7);
    let got = lab.scanner().run(|| udp_echoes(dst, 200)).unwrap();
    // 200 trials at p = 0.5: mean 100, sd ~7; these bounds are > 8 sd away.
    assert!((40..=160).contains(&got), "{got} of 200 echoed");
}

#[test]
fn a_thousand_listeners_come_up_fast() {
    let ports: Vec<u16> = (10_000..11_000).collect();
    let started = Instant::now();
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(&ports)));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "{took:?}");
    let v4 = lab.targets()[0].ipv4();
    let ok = lab.scanner().run(|| [10_000, 10_500, 10_999].map(|p| connect(v4, p).is_ok())).unwrap();
    assert_eq!(ok, [true; 3]);
    let refused = lab.scanner().run(|| connect(v4, 11_000).map(drop)).unwrap();
    assert_eq!(refused.unwrap_err().kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn namespaces_are_gone_after_drop() {
    let lab = lab_or_skip!(two_targets());
    let prefix = lab.prefix();
    assert!(netns_list().contains(&prefix));
    drop(lab);
    let list = netns_list();
    assert!(!list.lines().any(|l| l.starts_with(&prefix)), "{prefix} left in {list}");
}

#[test]
fn a_panicking_test_still_tears_down() {
    drop(lab_or_skip!(Lab::builder())); // skip here, not in the thread, without root
    let (tx, rx) = std::sync::mpsc::channel();
    let joined = std::thread::spawn(move || {
        let lab = Lab::builder().target(TargetSpec::new()).build().expect("build lab");
        tx.send(lab.prefix()).unwrap();
        panic!("deliberate panic with the lab alive");
    })
    .join();
    assert!(joined.is_err(), "the thread panicked");
    let prefix = rx.recv().expect("lab was built");
    let list = netns_list();
    assert!(!list.lines().any(|l| l.starts_with(&prefix)), "{prefix} left in {list}");
}

#[test]
fn labs_in_parallel_threads_do_not_collide() {
    let build = || std::thread::spawn(|| two_targets().build());
    let (a, b) = (build(), build());
    let (Some(a), Some(b)) =
        (scry_lab::require_lab(a.join().unwrap()), scry_lab::require_lab(b.join().unwrap()))
    else {
        return;
    };
    assert_ne!(a.prefix(), b.prefix());
    for lab in [&a, &b] {
        let v4 = lab.targets()[0].ipv4();
        lab.scanner().run(|| connect(v4, 22)).unwrap().expect("connect in each lab");
    }
}

#[test]
fn stale_labs_of_dead_processes_are_swept() {
    drop(lab_or_skip!(Lab::builder())); // skip without root
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = format!("scry{dead}x0hub");
    stdout(Command::new("ip").args(["netns", "add", &stale]));
    let lab = lab_or_skip!(Lab::builder());
    assert!(!netns_list().lines().any(|l| l.starts_with(&stale)), "{stale} survived a build");
    drop(lab);
}

#[test]
fn a_failed_build_leaves_nothing_behind() {
    drop(lab_or_skip!(Lab::builder())); // skip without root
    let bad = Personality { extra: vec![("net.ipv4.no_such_knob".into(), "1".into())], ..Default::default() };
    let err = Lab::builder().target(TargetSpec::new().personality(bad)).build().unwrap_err();
    let text = err.to_string();
    assert!(text.contains("net.ipv4.no_such_knob=1"), "{text}");
    // The message names the target namespace; it must be gone again.
    let ns = text.split_whitespace().find(|w| w.starts_with("scry")).expect("namespace in message");
    let prefix = ns.trim_end_matches(':').trim_end_matches("t0");
    assert!(!netns_list().contains(prefix), "{prefix} left behind after: {text}");
}

#[test]
fn ping_outside_the_lab_is_refused() {
    let lab = lab_or_skip!(Lab::builder());
    let err = lab.scanner().ping("192.0.2.1".parse().unwrap(), SHORT).unwrap_err();
    assert!(matches!(err, LabError::OutsideLab(_)), "{err}");
}

#[test]
fn offloads_switch_off_and_on() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new()));
    let feature = |on_off: bool| {
        lab.set_offloads(on_off).unwrap();
        let out = lab.targets()[0].command("ethtool").args(["-k", "eth0"]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let line =
            text.lines().find(|l| l.starts_with("generic-receive-offload:")).unwrap_or_default().to_owned();
        line
    };
    assert_eq!(feature(false), "generic-receive-offload: off");
    assert_eq!(feature(true), "generic-receive-offload: on");
}
