//! IPv6 scans against nmap -6 on the same lab targets, in the same run:
//! port states and reasons over TCP and UDP (open, closed, dropped and
//! rejected with ICMPv6 admin-prohibited), directly connected and one hop
//! away; discovery of on-link hosts by Neighbor Discovery and of routed ones
//! by probes; IPv4 and IPv6 targets in one scan.

mod common;

use common::tools::{assert_valid_xml, libnmap, ndiff, read, scratch, text};
use common::{ethernet, forged_tcp, forging_during, nft, parse_lines, SCRY};
use rand::rngs::StdRng;
use rand::Rng;
use scry_lab::{lab_or_skip, router_far_ipv6, Lab, Node, RejectWith, TargetSpec};
use scry_packet::{build_frame, build_ip, IcmpSpec, IpSpec, L4Spec, TcpFlags, TcpSpec};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};
use std::process::Command;
use std::time::Duration;

/// TCP ports: 22 and 80 open, 443 closed, 8080 dropped, 25 rejected.
const TCP: &str = "22,25,80,443,8080";
/// UDP ports: 53 open, 161 closed, 500 dropped, 69 rejected.
const UDP: &str = "53,69,161,500";

/// A target with every kind of port of [`TCP`] and [`UDP`].
fn ports_target() -> TargetSpec {
    TargetSpec::new()
        .tcp_listen(&[22, 80])
        .udp_listen(&[53])
        .drop_tcp_ports(&[8080])
        .drop_udp_ports(&[500])
        .reject_tcp_port(25, RejectWith::AdminProhibited)
        .reject_udp_port(69, RejectWith::AdminProhibited)
}

/// One port's (state, reason, reason TTL) by (host, protocol, port).
type Ports = BTreeMap<(IpAddr, String, u16), (String, String, Option<u64>)>;

/// Runs scry in `node` with JSON Lines out; its records.
fn scry(node: &Node, args: &[&str]) -> Vec<Value> {
    let out = node.command(SCRY).args(args).args(["-oJ", "-"]).output().expect("running scry");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "scry {args:?}: {stderr}");
    parse_lines(&String::from_utf8_lossy(&out.stdout))
}

fn scry_ports(records: &[Value]) -> Ports {
    records
        .iter()
        .filter(|r| r["type"] == "port")
        .map(|r| {
            let key = (
                r["ip"].as_str().unwrap().parse().unwrap(),
                r["proto"].as_str().unwrap().to_owned(),
                r["port"].as_u64().unwrap() as u16,
            );
            (
                key,
                (
                    r["state"].as_str().unwrap().to_owned(),
                    r["reason"].as_str().unwrap().to_owned(),
                    r["ttl"].as_u64(),
                ),
            )
        })
        .collect()
}

/// Runs `program` (scry or nmap) in `node` with `args`, --reason and -n;
/// its normal output. Runs one at a time in this test binary.
fn normal(node: &Node, program: &str, args: &[&str]) -> String {
    // One comparison at a time: a connect() timing out on a loaded machine
    // reads as no-response where nmap, run later, saw the ICMPv6 error.
    let _one_at_a_time = common::heavy();
    let out =
        node.command(program).args(args).args(["--reason", "-n"]).output().expect("running the scanner");
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Each line of normal output with the host whose report it is in.
fn by_host(text: &str) -> impl Iterator<Item = (IpAddr, &str)> {
    let mut host: Option<IpAddr> = None;
    text.lines().filter_map(move |line| {
        let report =
            line.strip_prefix("Nmap scan report for ").or_else(|| line.strip_prefix("scry scan report for "));
        if let Some(rest) = report {
            host = rest.split_whitespace().next().and_then(|a| a.parse().ok());
            return None;
        }
        Some((host?, line))
    })
}

/// The port lines of normal output (`22/tcp open ssh syn-ack ttl 64`) by host.
fn port_lines(text: &str) -> Ports {
    let mut ports = Ports::new();
    for (host, line) in by_host(text) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some((port, proto)) = fields.first().and_then(|f| f.split_once('/')) else { continue };
        let Ok(port) = port.parse::<u16>() else { continue };
        // PORT STATE SERVICE REASON [ttl N]
        let ttl = fields.iter().position(|f| *f == "ttl").and_then(|i| fields.get(i + 1)?.parse().ok());
        ports.insert((host, proto.to_owned(), port), (fields[1].to_owned(), fields[3].to_owned(), ttl));
    }
    ports
}

/// Each host's "Host is up, received REASON" of normal output.
fn host_reasons(text: &str) -> BTreeMap<IpAddr, String> {
    by_host(text)
        .filter_map(|(ip, line)| {
            let rest = line.strip_prefix("Host is up, received ")?;
            Some((ip, rest.split([' ', '.']).next().unwrap_or_default().to_owned()))
        })
        .collect()
}

#[test]
fn tcp_and_udp_port_states_and_reasons_equal_nmap_6() {
    let lab = lab_or_skip!(Lab::builder().target(ports_target()).routed_target(ports_target()));
    let (t0, r0) = (&lab.targets()[0], &lab.routed()[0]);
    let (near, far) = (t0.ipv6().to_string(), r0.ipv6().to_string());
    let ports = format!("T:{TCP},U:{UDP}");
    let args = ["-6", "-sS", "-sU", "-Pn", "-p", &ports, &near, &far];
    let ours = normal(lab.scanner(), SCRY, &args);
    let theirs = normal(lab.scanner(), "nmap", &args);
    assert_eq!(port_lines(&ours), port_lines(&theirs), "scry:\n{ours}\nnmap:\n{theirs}");
    // The routed target's hop limit arrives one lower (the ports' reason TTLs,
    // above); the directly connected one is up by its Neighbor Advertisement.
    assert_eq!(host_reasons(&ours)[&IpAddr::V6(t0.ipv6())], "nd-response");
    assert_eq!(host_reasons(&theirs)[&IpAddr::V6(t0.ipv6())], "nd-response");
    // The JSON Lines carry the answered ones likewise.
    let records = scry(lab.scanner(), &args);
    let answered: Ports =
        port_lines(&theirs).into_iter().filter(|(_, (_, reason, _))| reason != "no-response").collect();
    assert_eq!(scry_ports(&records), answered);
}

/// nmap's four-probe race decides a routed host's reason: any answer will do.
const ROUTED_REASONS: [&str; 3] = ["echo-reply", "syn-ack", "reset"];

#[test]
fn discovery_of_ipv6_subnets_finds_the_hosts_nmap_finds() {
    let lab = lab_or_skip!(Lab::builder()
        .targets([TargetSpec::new(), TargetSpec::new().tcp_listen(&[443]), TargetSpec::new().drop_all_ipv6()])
        .routed_targets([
            TargetSpec::new(),
            TargetSpec::new().tcp_listen(&[443]),
            TargetSpec::new().drop_all()
        ]));
    let near = format!("{}/120", lab.targets()[0].ipv6());
    let far = format!("{}/120", lab.routed()[0].ipv6());
    let scanner = lab.scanner().ipv6();
    // The router answers for its address and the subnet-router anycast
    // address (RFC 4291 2.6.1) on the near link, for its address on the far
    // one; the silent targets answer solicitations, which no firewall drops,
    // but nothing routed.
    let router = lab.router().unwrap().ipv6();
    let anycast = Ipv6Addr::from(u128::from(router) & !(u128::from(u64::MAX)));
    let targets = lab.targets().iter().map(Node::ipv6);
    let routed = lab.routed()[..2].iter().map(Node::ipv6);
    let expected = |subnet: &String| -> Vec<IpAddr> {
        let hosts: Vec<Ipv6Addr> = if *subnet == near {
            [anycast, scanner, router].into_iter().chain(targets.clone()).collect()
        } else {
            std::iter::once(router_far_ipv6()).chain(routed.clone()).collect()
        };
        hosts.into_iter().map(IpAddr::V6).collect()
    };
    for (subnet, reasons) in [(&near, &["nd-response"][..]), (&far, &ROUTED_REASONS[..])] {
        // Both list the scanner itself on the near link, up as localhost-response.
        let args = ["-6", "-sn", subnet.as_str()];
        let ours = normal(lab.scanner(), SCRY, &args);
        let theirs = normal(lab.scanner(), "nmap", &args);
        let (a, b) = (host_reasons(&ours), host_reasons(&theirs));
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "scry:\n{ours}\nnmap:\n{theirs}"
        );
        assert_eq!(a.keys().copied().collect::<Vec<_>>(), expected(subnet), "{ours}");
        for (ip, reason) in a.iter().chain(&b) {
            let want = if *ip == IpAddr::V6(scanner) { &["localhost-response"][..] } else { reasons };
            assert!(want.contains(&reason.as_str()), "{ip}: {reason}\nscry:\n{ours}\nnmap:\n{theirs}");
        }
    }
}

/// nmap's reasons for a host being up where no probe decides them: with
/// -Pn every host is up as the user said (user-set), whatever answers,
/// except that a directly connected one answered ARP or ND first; and a -sn
/// over a subnet holding the scanner's own address lists it, up as
/// localhost-response. Both families, scry against nmap, exactly.
#[test]
fn pn_and_own_address_host_reasons_equal_nmap() {
    let lab = lab_or_skip!(Lab::builder()
        .target(TargetSpec::new().tcp_listen(&[22]))
        .routed_targets([TargetSpec::new().tcp_listen(&[22]), TargetSpec::new().drop_all()]));
    let (t0, r0, r1) = (&lab.targets()[0], &lab.routed()[0], &lab.routed()[1]);
    let v4 = [t0.ipv4().to_string(), r0.ipv4().to_string(), r1.ipv4().to_string()];
    let v6 = [t0.ipv6().to_string(), r0.ipv6().to_string(), r1.ipv6().to_string()];
    let near4 = format!("{}/28", lab.scanner().ipv4());
    let near6 = format!("{}/124", lab.scanner().ipv6());
    let runs: [Vec<&str>; 4] = [
        [&["-Pn", "-p", "22,81"][..], &v4.iter().map(String::as_str).collect::<Vec<_>>()].concat(),
        [&["-6", "-Pn", "-p", "22,81"][..], &v6.iter().map(String::as_str).collect::<Vec<_>>()].concat(),
        vec!["-sn", &near4],
        vec!["-6", "-sn", &near6],
    ];
    for args in &runs {
        let ours = normal(lab.scanner(), SCRY, args);
        let theirs = normal(lab.scanner(), "nmap", args);
        let (a, b) = (host_reasons(&ours), host_reasons(&theirs));
        assert_eq!(a, b, "{args:?}\nscry:\n{ours}\nnmap:\n{theirs}");
        let want = if args.contains(&"-Pn") {
            let neighbor = if args.contains(&"-6") { "nd-response" } else { "arp-response" };
            vec![neighbor, "user-set", "user-set"]
        } else {
            vec!["localhost-response"]
        };
        let own = if args.contains(&"-6") {
            IpAddr::V6(lab.scanner().ipv6())
        } else {
            IpAddr::V4(lab.scanner().ipv4())
        };
        if args.contains(&"-sn") {
            assert_eq!(a.get(&own).map(String::as_str), Some(want[0]), "{ours}");
        } else {
            let targets: Vec<IpAddr> = if args.contains(&"-6") {
                [t0.ipv6(), r0.ipv6(), r1.ipv6()].map(IpAddr::V6).to_vec()
            } else {
                [t0.ipv4(), r0.ipv4(), r1.ipv4()].map(IpAddr::V4).to_vec()
            };
            let got: Vec<&str> = targets.iter().map(|ip| a.get(ip).map_or("-", String::as_str)).collect();
            assert_eq!(got, want, "{ours}");
        }
    }
}

/// The `Host:` lines of grepable output.
fn grepable_hosts(text: &str) -> Vec<String> {
    text.lines().filter(|l| l.starts_with("Host: ")).map(str::to_owned).collect()
}

/// Every output format of an IPv6 scan, read by nmap's tools and compared
/// with nmap -6's own files of the same scan; the history keeps it and
/// prints it back.
#[test]
fn every_output_format_holds_ipv6_hosts_as_nmap_writes_them() {
    let lab = lab_or_skip!(Lab::builder().target(ports_target()));
    let t0 = lab.targets()[0].ipv6().to_string();
    let dir = scratch("ipv6-outputs");
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let run = |program: &str, args: &[&str]| {
        let out = lab.scanner().command(program).args(args).current_dir(&dir).output().unwrap();
        assert!(out.status.success(), "{program}: {}", text(&out.stderr));
        out
    };
    run(SCRY, &["-6", "-n", "-p", TCP, "-oA", "scry", "--db", &path("history.db"), &t0]);
    run("nmap", &["-6", "-n", "-p", TCP, "-oA", "nmap", &t0]);
    let (ours, theirs) = (dir.join("scry.xml"), dir.join("nmap.xml"));
    assert_valid_xml(&ours);
    assert!(read(&ours).contains(&format!("<address addr=\"{t0}\" addrtype=\"ipv6\"/>")), "{}", read(&ours));
    let (status, diff) = ndiff(&theirs, &ours);
    assert_eq!(status, Some(0), "{diff}");
    assert!(diff.lines().skip(2).all(str::is_empty), "{diff}");
    let report = libnmap(&ours);
    assert_eq!(report["hosts"][0]["address"], t0.as_str(), "{report}");
    assert_eq!(report["hosts"][0]["open"], serde_json::json!([22, 80]), "{report}");
    assert_eq!(
        grepable_hosts(&read(&dir.join("scry.gnmap"))),
        grepable_hosts(&read(&dir.join("nmap.gnmap")))
    );
    // The history prints the scan back, in nmap's XML too.
    let shown = run(SCRY, &["--db", &path("history.db"), "show", "1", "-oX", "-"]);
    std::fs::write(dir.join("shown.xml"), &shown.stdout).unwrap();
    assert_valid_xml(&dir.join("shown.xml"));
    let (status, diff) = ndiff(&ours, &dir.join("shown.xml"));
    assert_eq!(status, Some(0), "{diff}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The scanner's source port in the forgery test.
const SOURCE_PORT: u16 = 40000;
/// Closed ports of the victim that forged SYN-ACKs claim are open.
const FORGED_OPEN: std::ops::Range<u16> = 1000..1100;
/// Ports that forged ICMPv6 admin-prohibited errors claim are filtered.
const FORGED_FILTERED: &[u16] = &[22, 80, 2000, 2001, 2002];

/// One round of forgeries from `victim`'s IPv6 address to the scanner's:
/// SYN-ACKs for [`FORGED_OPEN`] and RSTs for 22 and 80 with random
/// acknowledgements, and ICMPv6 admin-prohibited errors (type 1 code 1)
/// quoting SYNs from the scan's source port with sequence numbers scry never
/// used.
fn forgeries(forger: &Node, victim: Ipv6Addr, scanner: &Node, rng: &mut StdRng) -> Vec<Vec<u8>> {
    let eth = ethernet(forger, scanner);
    let to = (scanner.ipv6(), SOURCE_PORT);
    let syn_acks = FORGED_OPEN.map(|port| (port, TcpFlags::SYN | TcpFlags::ACK));
    let resets = [22, 80].map(|port| (port, TcpFlags::RST | TcpFlags::ACK));
    let mut frames: Vec<Vec<u8>> = syn_acks
        .chain(resets)
        .map(|(port, flags)| forged_tcp(&eth, (victim, port), to, flags, rng))
        .collect();
    for &port in FORGED_FILTERED {
        let probe = IpSpec::new(scanner.ipv6().into(), victim.into()).unwrap();
        let syn = TcpSpec {
            src_port: SOURCE_PORT,
            dst_port: port,
            seq: rng.random(),
            flags: TcpFlags::SYN,
            ..TcpSpec::default()
        };
        let quoted = build_ip(&probe, &L4Spec::Tcp(syn)).unwrap();
        let error = IcmpSpec { icmp_type: 1, code: 1, rest: [0; 4], payload: &quoted };
        let ip = IpSpec::new(victim.into(), scanner.ipv6().into()).unwrap();
        frames.push(build_frame(&eth, &ip, &L4Spec::Icmp(error)).unwrap());
    }
    frames
}

/// Forged IPv6 replies aimed at the scan while it runs are never reported
/// and the stats count them as rejected, as over IPv4 (lab_forged.rs).
#[test]
fn forged_ipv6_replies_and_icmpv6_errors_are_rejected() {
    let lab = lab_or_skip!(Lab::builder()
        .target(TargetSpec::new().tcp_listen(&[22, 80]))
        .target(TargetSpec::new()));
    let (victim, forger, scanner) = (lab.targets()[0].ipv6(), &lab.targets()[1], lab.scanner());
    let (source, target) = (SOURCE_PORT.to_string(), victim.to_string());
    let (records, forged) = forging_during(
        forger,
        Duration::from_millis(10),
        |rng| forgeries(forger, victim, scanner, rng),
        // About a second of probes, so forgeries arrive before, among and after the answers.
        || scry(scanner, &["-p", "1-3000", "--rate", "3000", "-g", &source, &target]),
    );
    let ports = scry_ports(&records);
    let host = IpAddr::V6(victim);
    let in_state = |state: &str| -> Vec<u16> {
        ports
            .iter()
            .filter(|((ip, _, _), (s, _, _))| *ip == host && s == state)
            .map(|((_, _, p), _)| *p)
            .collect()
    };
    assert_eq!(in_state("open"), [22, 80]);
    assert_eq!(in_state("closed").len(), 3000 - 2);
    assert_eq!(ports.len(), 3000, "only the victim's ports, each open or closed");
    let believed: Vec<_> = records
        .iter()
        .filter(|r| r["type"] == "port" && r["state"] != "open" && r["state"] != "closed")
        .collect();
    assert!(believed.is_empty(), "forged ICMPv6 errors were believed: {believed:?}");
    let stats = records.iter().find(|r| r["type"] == "stats").expect("a stats record");
    let rejected = stats["rejected"].as_u64().unwrap();
    assert!(rejected > 0, "no forgery was counted as rejected: {stats}");
    assert!(rejected <= forged as u64, "rejected {rejected} but only {forged} forged");
}

/// 10% loss both ways on a target with 1000 listeners at seeded random
/// ports: `-p-` over IPv6 with the default retries finds at least 999 of
/// them (recall 0.999), invents none, and leaves at most 5 ports silent.
#[test]
fn ten_percent_loss_keeps_recall_over_ipv6() {
    let listening = common::random_ports(0x5c12_1000, 1000, SOURCE_PORT);
    let ports: Vec<u16> = listening.iter().copied().collect();
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(&ports).drop_percent(10)));
    let target = lab.targets()[0].ipv6().to_string();
    let source = SOURCE_PORT.to_string();
    let records = {
        let _one_at_a_time = common::heavy();
        scry(lab.scanner(), &["-p-", "--rate", "50000", "-g", &source, &target])
    };
    let ports = scry_ports(&records);
    let state = |want: &str| -> std::collections::BTreeSet<u16> {
        ports.iter().filter(|(_, (s, _, _))| s == want).map(|((_, _, p), _)| *p).collect()
    };
    let (open, closed) = (state("open"), state("closed"));
    assert_eq!(open.len() + closed.len(), ports.len(), "only open and closed ports");
    let stats = records.iter().find(|r| r["type"] == "stats").expect("a stats record");
    let false_open: Vec<_> = open.difference(&listening).collect();
    assert!(false_open.is_empty(), "reported open but not listening: {false_open:?}");
    assert!(closed.is_disjoint(&listening));
    assert!(open.len() >= 999, "found {} of 1000 open ports; {stats}", open.len());
    let silent = usize::from(u16::MAX) - open.len() - closed.len();
    assert!(silent <= 5, "{silent} ports never answered; {stats}");
    // Lost probes were sent again. (How many more than one pass depends on
    // how fast the receiver keeps up on a loaded machine: not asserted.)
    assert!(stats["sent"].as_u64().unwrap() > u64::from(u16::MAX), "{stats}");
}

/// Beyond nmap: one scan of IPv4 and IPv6 targets, directly connected and
/// routed, reports each address once in its own family, with what nmap
/// finds scanning each family on its own (nmap, then nmap -6).
#[test]
fn a_mixed_ipv4_and_ipv6_scan_reports_each_host_once_as_nmap_per_family() {
    let lab = lab_or_skip!(Lab::builder().target(ports_target()).routed_target(ports_target()));
    let (t0, r0) = (&lab.targets()[0], &lab.routed()[0]);
    let v4 = [t0.ipv4().to_string(), r0.ipv4().to_string()];
    let v6 = [t0.ipv6().to_string(), r0.ipv6().to_string()];
    let ports = format!("T:{TCP},U:{UDP}");
    let with = |targets: &[String]| -> Vec<String> {
        let mut args: Vec<String> = ["-sS", "-sU", "-p", &ports].map(str::to_owned).to_vec();
        args.extend_from_slice(targets);
        args
    };
    let mixed: Vec<String> = with(&[v6[1].clone(), v4[0].clone(), v6[0].clone(), v4[1].clone()]);
    let ours = normal(lab.scanner(), SCRY, &mixed.iter().map(String::as_str).collect::<Vec<_>>());
    let mut theirs = String::new();
    for (family, targets) in [(None, &v4), (Some("-6"), &v6)] {
        let mut args = with(targets);
        args.extend(family.map(str::to_owned));
        theirs += &normal(lab.scanner(), "nmap", &args.iter().map(String::as_str).collect::<Vec<_>>());
    }
    assert_eq!(port_lines(&ours), port_lines(&theirs), "scry:\n{ours}\nnmap:\n{theirs}");
    let reports: Vec<&str> = ours.lines().filter(|l| l.starts_with("scry scan report for ")).collect();
    let addresses = [&v4[0], &v4[1], &v6[0], &v6[1]];
    assert_eq!(reports.len(), 4, "{ours}");
    for address in addresses {
        assert_eq!(
            reports.iter().filter(|l| l.ends_with(&format!(" {address}"))).count(),
            1,
            "{address}: {ours}"
        );
    }
    // Up for the reasons nmap gives: the neighbour lookups on the link, the
    // discovery probes one hop away.
    let (a, b) = (host_reasons(&ours), host_reasons(&theirs));
    assert_eq!(a[&IpAddr::V4(t0.ipv4())], "arp-response");
    assert_eq!(a[&IpAddr::V6(t0.ipv6())], "nd-response");
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for routed in [IpAddr::V4(r0.ipv4()), IpAddr::V6(r0.ipv6())] {
        assert!(
            ["echo-reply", "syn-ack", "reset", "timestamp-reply"].contains(&a[&routed].as_str()),
            "{ours}"
        );
    }
}

/// Linux rations ICMPv6 errors per peer: after a burst of 6, one per
/// net.ipv6.icmp.ratelimit ms (100 in this kernel; some kernels shift it
/// right by the route's prefix length, net/ipv6/icmp.c icmpv6_xrlim_allow).
/// A UDP scan of 199 closed ports, far faster than that, sees only the
/// burst in its first pass; the paced pass measures the interval from the
/// errors' spacing (instead of assuming IPv4's one a second, which took
/// 203 s here) and finds every port closed, as `nmap -6 -sU` does.
#[test]
fn udp_pacing_finds_every_closed_port_behind_the_icmpv6_rate_limit() {
    const CLOSED: u16 = 200;
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().udp_listen(&[53])));
    let (target, t0) = (&lab.targets()[0], lab.targets()[0].ipv6());
    let limit = target.command("sysctl").args(["-n", "net.ipv6.icmp.ratelimit"]).output().unwrap();
    let limit: f64 = String::from_utf8_lossy(&limit.stdout).trim().parse().unwrap();
    assert!(limit > 0.0, "the target rations its ICMPv6 errors");

    let spec = format!("U:1-{CLOSED}");
    let out =
        lab.scanner().command(SCRY).args(["-sU", "-v", "-p", &spec, &t0.to_string(), "-oJ", "-"]).output();
    let out = out.expect("running scry");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let ports = scry_ports(&parse_lines(&String::from_utf8_lossy(&out.stdout)));
    let mut want: Ports = (1..=CLOSED)
        .map(|p| {
            (
                (IpAddr::V6(t0), "udp".to_owned(), p),
                ("closed".to_owned(), "port-unreach".to_owned(), Some(64)),
            )
        })
        .collect();
    want.insert(
        (IpAddr::V6(t0), "udp".to_owned(), 53),
        ("open".to_owned(), "udp-response".to_owned(), Some(64)),
    );
    assert_eq!(ports, want, "{stderr}");
    // The first pass saw the burst only, and the interval was learned from
    // the errors: no shorter than the limiter's, far from IPv4's second.
    assert!(stderr.contains("measured now"), "{stderr}");
    let learned = stderr
        .lines()
        .find_map(|l| l.split(" answers one ICMP error per ").nth(1)?.strip_suffix("; pacing to that"))
        .unwrap_or_else(|| panic!("no interval learned: {stderr}"));
    let learned = learned.strip_suffix("ms").expect("milliseconds").parse::<f64>().unwrap();
    assert!(
        learned >= limit / 4.0 * 0.95 && learned <= limit * 1.5,
        "learned {learned} ms, ratelimit {limit} ms"
    );

    let nmap = lab
        .scanner()
        .command("nmap")
        .args(["-6", "-sU", "-n", "-p", &spec, "-oG", "-", &t0.to_string()])
        .output();
    let grepable = String::from_utf8_lossy(&nmap.unwrap().stdout).into_owned();
    let listed = grepable.split("Ports: ").nth(1).unwrap_or_default();
    let listed = listed.split('\t').next().unwrap_or_default();
    let mut states: BTreeMap<&str, usize> = BTreeMap::new();
    for port in listed.split(", ").filter(|p| !p.is_empty()) {
        *states.entry(port.split('/').nth(1).unwrap()).or_default() += 1;
    }
    if let Some(ignored) = grepable.split("Ignored State: ").nth(1) {
        let (state, count) = ignored.lines().next().unwrap().trim().split_once(" (").unwrap();
        *states.entry(state).or_default() += count.trim_end_matches(')').parse::<usize>().unwrap();
    }
    // 53 is among 1-200: the one open port.
    assert_eq!(
        states,
        BTreeMap::from([("closed", usize::from(CLOSED) - 1), ("open", 1)]),
        "nmap:\n{grepable}"
    );
    assert!(grepable.contains("53/open/udp"), "{grepable}");
}

/// `--shard`/`--seed` split an IPv6 scan exactly, and `--pcap` writes its
/// frames as tcpdump reads them: one SYN per port from the source port,
/// the answers to it.
#[test]
fn shards_and_pcap_over_ipv6() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(&[22, 80])));
    let target = lab.targets()[0].ipv6().to_string();
    let base = ["-p", "1-200", "-g", "40000", "--seed", "7"];
    let shard = |which: &str| {
        let mut args = base.to_vec();
        args.extend(["--shard", which, &target]);
        scry_ports(&scry(lab.scanner(), &args))
    };
    let (first, second) = (shard("0/2"), shard("1/2"));
    let whole = scry_ports(&scry(lab.scanner(), &[&base[..], &[&target]].concat()));
    assert_eq!(whole.len(), 200);
    assert!(first.keys().all(|k| !second.contains_key(k)), "the shards overlap");
    assert_eq!(first.into_iter().chain(second).collect::<Ports>(), whole);

    let file = std::env::temp_dir().join(format!("scry-test-{}-v6.pcap", std::process::id()));
    let records = scry(lab.scanner(), &[&base[..], &["--pcap", file.to_str().unwrap(), &target]].concat());
    let dump = Command::new("tcpdump").args(["-nn", "-r"]).arg(&file).output().expect("tcpdump runs");
    std::fs::remove_file(&file).unwrap();
    assert!(dump.status.success(), "tcpdump: {}", text(&dump.stderr));
    let dump = text(&dump.stdout);
    let count = |pred: &dyn Fn(&str) -> bool| dump.lines().filter(|l| l.contains("IP6 ") && pred(l)).count();
    let stats = records.iter().find(|r| r["type"] == "stats").expect("a stats record");
    let syns = count(&|l| l.contains(".40000 > ") && l.contains("Flags [S]"));
    assert_eq!(syns as u64, stats["sent"].as_u64().unwrap(), "{dump}");
    assert_eq!(syns, 200, "{dump}");
    assert_eq!(count(&|l| l.contains(".40000: Flags [S.]")), 2, "{dump}");
    assert_eq!(count(&|l| l.contains(".40000: Flags [R.]")), 198, "{dump}");
}

/// nmap-os-db holds IPv4 fingerprints: -O says once that IPv6 OS detection
/// is not available yet, and without -O the one-SYN-ACK guess says once
/// that IPv6 hosts get none; the ports are scanned all the same.
#[test]
fn os_detection_says_once_that_ipv6_hosts_get_none() {
    let lab =
        lab_or_skip!(Lab::builder()
            .targets([TargetSpec::new().tcp_listen(&[22]), TargetSpec::new().tcp_listen(&[22]),]));
    let targets: Vec<String> = lab.targets().iter().map(|t| t.ipv6().to_string()).collect();
    let run = |extra: &[&str]| {
        let mut cmd = lab.scanner().command(SCRY);
        cmd.args(["-p", "22,80"]).args(extra).args(&targets).args(["-oJ", "-"]);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let records = parse_lines(&text(&out.stdout));
        let open = records.iter().filter(|r| r["type"] == "port" && r["state"] == "open").count();
        assert_eq!(open, 2, "{records:?}");
        assert!(records.iter().all(|r| r["type"] != "os" && r["type"] != "os_quick"), "{records:?}");
        text(&out.stderr)
    };
    let with_o = run(&["-O"]);
    let said = "IPv6 OS detection is not available yet";
    assert_eq!(with_o.matches(said).count(), 1, "{with_o}");
    let quick = run(&[]);
    let said = "no OS guess for IPv6 hosts: nmap-os-db's fingerprints are of IPv4 replies";
    assert_eq!(quick.matches(said).count(), 1, "{quick}");
}

/// -sT over IPv6 goes through the kernel's IPv6 sockets and reads as nmap
/// -6 -sT reads the same ports, directly connected and routed.
#[test]
fn connect_scan_over_ipv6_equals_nmap() {
    let lab = lab_or_skip!(Lab::builder().target(ports_target()).routed_target(ports_target()));
    let (near, far) = (lab.targets()[0].ipv6().to_string(), lab.routed()[0].ipv6().to_string());
    let args = ["-6", "-sT", "-Pn", "-p", TCP, &near, &far];
    let ours = normal(lab.scanner(), SCRY, &args);
    let theirs = normal(lab.scanner(), "nmap", &args);
    let (ours_ports, mut theirs_ports) = (port_lines(&ours), port_lines(&theirs));
    // The ICMPv6 admin-prohibited error comes back within microseconds of
    // the SYN, often while connect() still holds the socket; Linux then
    // keeps it as a soft error and waits for the SYN's retransmission, so
    // nmap reads the port as no-response or admin-prohibited from run to
    // run. scry reads the error from the socket's error queue: always
    // admin-prohibited. Both say filtered.
    for host in [&near, &far] {
        let ip: IpAddr = host.parse().unwrap();
        let key = (ip, "tcp".to_owned(), 25);
        assert_eq!(
            ours_ports.get(&key),
            Some(&("filtered".to_owned(), "admin-prohibited".to_owned(), None)),
            "{ours}"
        );
        let nmaps = theirs_ports.get_mut(&key).expect("nmap reports 25/tcp");
        assert_eq!(nmaps.0, "filtered", "{theirs}");
        assert!(["admin-prohibited", "no-response"].contains(&nmaps.1.as_str()), "{theirs}");
        nmaps.1 = "admin-prohibited".to_owned();
    }
    assert_eq!(ours_ports, theirs_ports, "scry:\n{ours}\nnmap:\n{theirs}");
    assert_eq!(ours_ports.len(), 10, "{ours}");
}

/// From a spoofed IPv6 source (-S an address no interface has), the target
/// must find that address by Neighbor Discovery before it replies; the scan
/// answers its solicitations itself, so the ports read as from the real one.
#[test]
fn a_spoofed_ipv6_source_gets_its_replies() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(&[22, 80])));
    let t0 = lab.targets()[0].ipv6();
    let spoofed = Ipv6Addr::from(u128::from(lab.scanner().ipv6()) + 0x99).to_string();
    let records = scry(
        lab.scanner(),
        &["-S", &spoofed, "-e", scry_lab::IFACE, "-Pn", "-p", "22,80,443", &t0.to_string()],
    );
    let ports = scry_ports(&records);
    let state = |port: u16| {
        ports.get(&(IpAddr::V6(t0), "tcp".to_owned(), port)).map(|(s, r, _)| (s.as_str(), r.as_str()))
    };
    assert_eq!(
        [state(22), state(80), state(443)],
        [Some(("open", "syn-ack")), Some(("open", "syn-ack")), Some(("closed", "reset"))],
        "{records:?}"
    );
    // The target now knows the spoofed address at the scanner's MAC.
    let neigh = lab.targets()[0].command("ip").args(["-6", "neigh", "show", &spoofed]).output().unwrap();
    let neigh = text(&neigh.stdout);
    assert!(neigh.contains(&format!("lladdr {}", lab.scanner().mac())), "{neigh}");
}

/// The spoofed source needs its solicitations answered from the first
/// probe on: without -Pn, the discovery before the port scan (ND on the
/// link, -PE -PS443 -PA80 through the router) gets its answers too, and
/// both hosts are found up and scanned.
#[test]
fn a_spoofed_ipv6_source_is_answered_during_discovery() {
    let target = || TargetSpec::new().tcp_listen(&[22, 80]);
    let lab = lab_or_skip!(Lab::builder().target(target()).routed_target(target()));
    let (near, far) = (lab.targets()[0].ipv6(), lab.routed()[0].ipv6());
    let spoofed = Ipv6Addr::from(u128::from(lab.scanner().ipv6()) + 0x98).to_string();
    let args =
        ["-S", &spoofed, "-e", scry_lab::IFACE, "-p", "22,80,443", &near.to_string(), &far.to_string()];
    let records = scry(lab.scanner(), &args);
    let up: BTreeMap<IpAddr, String> = records
        .iter()
        .filter(|r| r["type"] == "host" && r["state"] == "up")
        .map(|r| (r["ip"].as_str().unwrap().parse().unwrap(), r["reason"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(up.keys().copied().collect::<Vec<_>>(), [IpAddr::V6(near), IpAddr::V6(far)], "{records:?}");
    assert_eq!(up[&IpAddr::V6(near)], "nd-response");
    let ports = scry_ports(&records);
    for host in [near, far] {
        let state = |port: u16| {
            ports.get(&(IpAddr::V6(host), "tcp".to_owned(), port)).map(|(s, r, _)| (s.as_str(), r.as_str()))
        };
        assert_eq!(
            [state(22), state(80), state(443)],
            [Some(("open", "syn-ack")), Some(("open", "syn-ack")), Some(("closed", "reset"))],
            "{host}: {records:?}"
        );
    }
}

/// The EUI-64 link-local address the kernel gives a node (RFC 4291 appendix A).
fn link_local(node: &Node) -> Ipv6Addr {
    let m = node.mac().octets();
    Ipv6Addr::from([0xfe, 0x80, 0, 0, 0, 0, 0, 0, m[0] ^ 2, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]])
}

/// A link-local target with its interface (`fe80::...%eth0`) is scanned
/// through that interface, as nmap -6 scans it.
#[test]
fn a_link_local_target_is_scanned_through_its_interface() {
    let lab = lab_or_skip!(Lab::builder().target(ports_target()));
    let target = format!("{}%{}", link_local(&lab.targets()[0]), scry_lab::IFACE);
    let args = ["-6", "-sS", "-p", TCP, &target];
    let ours = normal(lab.scanner(), SCRY, &args);
    let theirs = normal(lab.scanner(), "nmap", &args);
    assert_eq!(port_lines(&ours), port_lines(&theirs), "scry:\n{ours}\nnmap:\n{theirs}");
    assert_eq!(port_lines(&ours).len(), 5, "{ours}");
    let wrong = lab.scanner().command(SCRY).args(["-e", "lo", "-p", "22", &target]).output().unwrap();
    assert!(!wrong.status.success(), "{}", text(&wrong.stderr));
    let said = format!("target {target} names interface eth0, but -e says lo");
    assert!(text(&wrong.stderr).contains(&said), "{}", text(&wrong.stderr));
}

/// The scanner's eth0 transmit counter.
fn tx_packets(lab: &Lab) -> u64 {
    let out = lab.scanner().command("cat").arg("/sys/class/net/eth0/statistics/tx_packets").output().unwrap();
    text(&out.stdout).trim().parse().unwrap()
}

/// Runs `program` with `args` in the scanner: wall seconds, packets sent on
/// eth0, standard output.
fn timed(lab: &Lab, program: &str, args: &[&str]) -> (f64, u64, String) {
    let before = tx_packets(lab);
    let begin = std::time::Instant::now();
    let out = lab.scanner().command(program).args(args).output().unwrap();
    let wall = begin.elapsed().as_secs_f64();
    assert!(out.status.success(), "{program} {args:?}: {}", text(&out.stderr));
    (wall, tx_packets(lab) - before, text(&out.stdout))
}

/// The measurements of docs/benchmarks.md's IPv6 section, printed as table
/// rows (`cargo test --release -p scry --test lab_ipv6 -- --ignored
/// --nocapture benchmark`): the 1000-open-port host over IPv6 against nmap -6
/// and over IPv4, and the send rate into a sink over IPv6 against IPv4's.
/// Nothing is asserted about time.
#[test]
#[ignore]
fn benchmark_ipv6_against_nmap_and_ipv4() {
    let listening = common::random_ports(0x5c12_1000, 1000, SOURCE_PORT);
    let ports: Vec<u16> = listening.iter().copied().collect();
    let lab = lab_or_skip!(Lab::builder()
        .target(TargetSpec::new().tcp_listen(&ports))
        .routed_target(TargetSpec::new()));
    let t0 = &lab.targets()[0];
    let (v4, v6) = (t0.ipv4().to_string(), t0.ipv6().to_string());
    let source = SOURCE_PORT.to_string();
    let recall = |json: &str| {
        let open = parse_lines(json)
            .iter()
            .filter(|r| r["type"] == "port" && r["state"] == "open")
            .filter(|r| listening.contains(&(r["port"].as_u64().unwrap() as u16)))
            .count();
        format!("{open}/1000")
    };
    println!("| tool | case | wall s | sent | pps (sent/wall) | recall |");
    println!("|---|---|---:|---:|---:|---:|");
    let row = |tool: &str, case: &str, (wall, sent, recall): (f64, u64, String)| {
        println!("| {tool} | {case} | {wall:.2} | {sent} | {:.0} | {recall} |", sent as f64 / wall);
    };
    for (family, target) in [("IPv6", &v6), ("IPv4", &v4)] {
        for rate in ["50000", "10000000"] {
            let (wall, sent, out) =
                timed(&lab, SCRY, &["-p-", "--rate", rate, "-g", &source, "-Pn", target, "-oJ", "-"]);
            row("scry", &format!("{family} `-p-` --rate {rate}"), (wall, sent, recall(&out)));
        }
    }
    for (family, flag, target) in [("IPv6", Some("-6"), &v6), ("IPv4", None, &v4)] {
        let mut args = vec!["-p-", "-T4", "-n", "-Pn", "-oG", "-", target.as_str()];
        args.extend(flag);
        let (wall, sent, out) = timed(&lab, "nmap", &args);
        let open = out.matches("/open/").count();
        row("nmap", &format!("{family} `-p-` -T4"), (wall, sent, format!("{open}/1000")));
    }
    // The sink: the router forwards nothing, so every probe is only sent.
    let router = lab.router().unwrap();
    nft(router, "table inet sink {\n chain forward {\n  type filter hook forward priority filter; policy drop;\n }\n}\n");
    let far6 = format!("{}/120", lab.routed()[0].ipv6());
    let far4 = format!("{}/24", lab.routed()[0].ipv4());
    for (family, net) in [("IPv6", &far6), ("IPv4", &far4)] {
        let args = ["-Pn", "--open", "-p", "1-4096", "--rate", "10000000", net.as_str(), "-oJ", "-"];
        let (wall, sent, _) = timed(&lab, SCRY, &args);
        row("scry", &format!("{family} sink, 256 x 4096 probes"), (wall, sent, "-".to_owned()));
    }
}

/// An IPv6 scan stopped with SIGINT leaves a resume file; `scry --resume`
/// finishes it, and the two runs together report every port once.
#[test]
fn a_stopped_ipv6_scan_resumes_where_it_stopped() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(&[22, 80])));
    let target = lab.targets()[0].ipv6().to_string();
    let resume = std::env::temp_dir().join(format!("scry-test-{}-v6.resume", std::process::id()));
    let args =
        ["-p", "1-3000", "--rate", "500", "--seed", "5", "--resume-file", resume.to_str().unwrap(), &target];
    let (mut child, mut stdout) = common::spawn_piped(lab.scanner(), &args);
    let mut first = common::read_answers(&mut stdout, 50);
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    std::io::Read::read_to_string(&mut stdout, &mut first).unwrap();
    assert!(child.wait().unwrap().success());
    let first = scry_ports(&parse_lines(&first));
    assert!(first.len() >= 50 && first.len() < 3000, "{} ports before the stop", first.len());
    // The resume file holds the first run's arguments, -oJ - among them.
    let second = lab.scanner().command(SCRY).args(["--resume", resume.to_str().unwrap()]).output().unwrap();
    assert!(second.status.success(), "{}", text(&second.stderr));
    let second = scry_ports(&parse_lines(&text(&second.stdout)));
    // A finished scan removes its resume file.
    assert!(!resume.exists(), "the finished scan left {}", resume.display());
    assert!(first.keys().all(|k| !second.contains_key(k)), "a port was probed twice");
    let all: Ports = first.into_iter().chain(second).collect();
    assert_eq!(all.len(), 3000);
    let open: Vec<u16> = all.iter().filter(|(_, (s, _, _))| s == "open").map(|((_, _, p), _)| *p).collect();
    assert_eq!(open, [22, 80]);
}

/// `-sn` of IPv4 and IPv6 targets together, on the link and one hop away:
/// every host up once in its family, by ARP, ND or the discovery probes.
#[test]
fn a_mixed_ping_scan_finds_every_host_in_its_family() {
    let lab = lab_or_skip!(Lab::builder()
        .target(TargetSpec::new())
        .routed_target(TargetSpec::new().tcp_listen(&[443])));
    let (t0, r0) = (&lab.targets()[0], &lab.routed()[0]);
    let targets =
        [t0.ipv4().to_string(), t0.ipv6().to_string(), r0.ipv4().to_string(), r0.ipv6().to_string()];
    let mut args = vec!["-sn"];
    args.extend(targets.iter().map(String::as_str));
    let ours = normal(lab.scanner(), SCRY, &args);
    let up = host_reasons(&ours);
    assert_eq!(up.len(), 4, "{ours}");
    assert_eq!(up[&IpAddr::V4(t0.ipv4())], "arp-response", "{ours}");
    assert_eq!(up[&IpAddr::V6(t0.ipv6())], "nd-response", "{ours}");
    for routed in [IpAddr::V4(r0.ipv4()), IpAddr::V6(r0.ipv6())] {
        assert!(
            ["echo-reply", "syn-ack", "reset", "timestamp-reply"].contains(&up[&routed].as_str()),
            "{ours}"
        );
    }
}

/// `-sV` over IPv6 reaches services through the kernel's IPv6 sockets and
/// names them as nmap -6 -sV does (nmap without its NSE version scripts).
#[test]
fn version_detection_over_ipv6_equals_nmap() {
    use common::services::{nmap_datadir, nmap_present};
    use scry_lab::{Daemon, Service};
    if !nmap_present() {
        return;
    }
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new()));
    let t0 = &lab.targets()[0];
    let daemons: Vec<Daemon> =
        [Service::Ssh, Service::Redis].into_iter().filter_map(|s| Daemon::start_or_skip(t0, s)).collect();
    if daemons.is_empty() {
        return;
    }
    let ports: Vec<String> =
        daemons.iter().flat_map(|d| d.service().tcp_ports()).map(u16::to_string).collect();
    let (ports, target) = (ports.join(","), t0.ipv6().to_string());
    let dir = nmap_datadir("v6-version");
    let ours = normal(lab.scanner(), SCRY, &["-6", "-sV", "-Pn", "-p", &ports, &target]);
    let theirs = normal(
        lab.scanner(),
        "nmap",
        &["-6", "-sV", "-Pn", "-p", &ports, "--datadir", dir.to_str().unwrap(), &target],
    );
    std::fs::remove_dir_all(&dir).unwrap();
    // PORT STATE SERVICE REASON VERSION...: everything after the reason's TTL.
    let versions = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.contains("/tcp "))
            .map(|l| {
                l.split_whitespace()
                    .skip(2)
                    .filter(|w| *w != "ttl" && *w != "64" && *w != "syn-ack")
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    };
    assert_eq!(versions(&ours), versions(&theirs), "scry:\n{ours}\nnmap:\n{theirs}");
    assert_eq!(versions(&ours).len(), ports.split(',').count(), "{ours}");
    assert!(versions(&ours).iter().all(|v| v.split_whitespace().count() > 1), "{ours}");
}

/// A hitlist on standard input (`-iL -`), one address a line, IPv6 and IPv4
/// mixed, with an IPv6 prefix excluded by `--excludefile`.
#[test]
fn an_address_list_on_stdin_with_an_ipv6_exclude_file() {
    let lab =
        lab_or_skip!(Lab::builder()
            .targets([TargetSpec::new().tcp_listen(&[22]), TargetSpec::new().tcp_listen(&[22])]));
    let (t0, t1) = (&lab.targets()[0], &lab.targets()[1]);
    let skip = std::env::temp_dir().join(format!("scry-test-{}-skip.txt", std::process::id()));
    std::fs::write(&skip, format!("# not this one\n{}/128\n", t1.ipv6())).unwrap();
    let list = format!("{}\n# a comment\n{}\n{}\n", t0.ipv6(), t1.ipv6(), t1.ipv4());
    let mut cmd = lab.scanner().command(SCRY);
    cmd.args(["-iL", "-", "--excludefile", skip.to_str().unwrap(), "-p", "22", "-oJ", "-"]);
    let (code, out, err) = common::run_with_input(&mut cmd, &list);
    std::fs::remove_file(&skip).unwrap();
    assert_eq!(code, 0, "{err}");
    let open: Vec<IpAddr> = scry_ports(&parse_lines(&out))
        .into_iter()
        .filter(|(_, (s, _, _))| s == "open")
        .map(|((ip, _, _), _)| ip)
        .collect();
    assert_eq!(open, [IpAddr::V4(t1.ipv4()), IpAddr::V6(t0.ipv6())]);
}
