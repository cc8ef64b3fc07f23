//! Host discovery before a port scan of targets one hop away, behind the
//! lab's router: no ARP reaches them, so scry sends nmap's default probes
//! (ICMP echo, SYN to 443, ACK to 80, ICMP timestamp) through the router,
//! port scans exactly the hosts that answer, and reports each with the
//! reason nmap gives and the TTL one lower than the host sent.

mod common;

use common::{host_records as hosts, nft, nft_counters, scan, Port};
use scry_lab::{require_lab, Lab, Node, TargetSpec};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// The ports every scan here asks for.
const PORTS: &str = "22,80,443,8080";
/// What a Linux host's default TTL (64) is after the router.
const ROUTED_TTL: u64 = 63;
/// The nft table counting what reaches the silent host (before its drop-all).
const COUNTS: &str = "probes";
/// One rule per probe, in this order: nmap's four discovery probes, then
/// the scan's SYNs to the ports discovery never uses.
const COUNTED: [&str; 7] = [
    "icmp type echo-request",
    "tcp dport 443 tcp flags & (syn | ack) == syn",
    "tcp dport 80 tcp flags & (syn | ack) == ack",
    "icmp type timestamp-request",
    "tcp dport 22 tcp flags & (syn | ack) == syn",
    "tcp dport 80 tcp flags & (syn | ack) == syn",
    "tcp dport 8080 tcp flags & (syn | ack) == syn",
];

/// R0 answers everything (22, 80, 443 open); R1 drops ICMP and TCP to 443
/// but answers the ACK to 80 with a RST (22 open); R2 drops everything but
/// ICMP timestamp requests; R3 drops everything and counts what arrives.
fn lab() -> Option<Lab> {
    let lab = Lab::builder()
        .target(TargetSpec::new())
        .routed_target(TargetSpec::new().tcp_listen(&[22, 80, 443]))
        .routed_target(TargetSpec::new().tcp_listen(&[22]))
        .routed_target(TargetSpec::new().tcp_listen(&[22, 80]))
        .routed_target(TargetSpec::new().tcp_listen(&[22, 80]).drop_all());
    let lab = require_lab(lab.build())?;
    let [_, r1, r2, r3] = lab.routed() else { unreachable!("four routed targets") };
    nft(
        r1,
        "table inet no_icmp_no_443 {\n chain input {\n  type filter hook input priority filter; policy accept;\n  \
         meta l4proto icmp drop\n  tcp dport 443 drop\n }\n}\n",
    );
    nft(
        r2,
        "table inet timestamp_only {\n chain input {\n  type filter hook input priority filter; policy drop;\n  \
         icmp type timestamp-request accept\n }\n}\n",
    );
    let rules: String = COUNTED.iter().map(|r| format!("  {r} counter\n")).collect();
    nft(
        r3,
        &format!(
            "table inet {COUNTS} {{\n chain count {{\n  type filter hook input priority -10; policy accept;\n{rules} }}\n}}\n"
        ),
    );
    Some(lab)
}

/// The routed targets' addresses, 198.19.0.10-13, as a scan argument.
fn routed_range(lab: &Lab) -> String {
    let routed = lab.routed();
    format!("{}-{}", routed[0].ipv4(), routed[routed.len() - 1].ipv4().octets()[3])
}

/// Any of these is R0's reason: it answers all four discovery probes, and
/// the first answer to arrive wins.
const ANY_ANSWER: [&str; 4] = ["echo-reply", "syn-ack", "reset", "timestamp-reply"];

/// Checks the up hosts R0, R1 and R2 with their reasons and routed TTL.
fn assert_discovered(lab: &Lab, records: &[Value], out: &str) {
    let [r0, r1, r2, _] = lab.routed() else { unreachable!() };
    let up: BTreeMap<Ipv4Addr, (String, String, Option<u64>)> =
        hosts(records).into_iter().filter(|(_, (state, _, _))| state == "up").collect();
    let ips: Vec<Ipv4Addr> = up.keys().copied().collect();
    assert_eq!(ips, [r0.ipv4(), r1.ipv4(), r2.ipv4()], "{out}");
    let r0_reason = &up[&r0.ipv4()].1;
    assert!(ANY_ANSWER.contains(&r0_reason.as_str()), "R0 up with {r0_reason}: {out}");
    assert_eq!(up[&r1.ipv4()], ("up".into(), "reset".into(), Some(ROUTED_TTL)), "{out}");
    assert_eq!(up[&r2.ipv4()], ("up".into(), "timestamp-reply".into(), Some(ROUTED_TTL)), "{out}");
    assert_eq!(up[&r0.ipv4()].2, Some(ROUTED_TTL), "{out}");
}

/// The silent host's counters, named after [`COUNTED`].
fn counted(node: &Node) -> BTreeMap<&'static str, u64> {
    let counts = nft_counters(node, COUNTS, "count");
    assert_eq!(counts.len(), COUNTED.len(), "one counter per rule");
    COUNTED.into_iter().zip(counts).collect()
}

#[test]
fn a_syn_scan_of_routed_targets_scans_exactly_the_hosts_discovery_finds() {
    let Some(lab) = lab() else { return };
    let [r0, r1, _, r3] = lab.routed() else { unreachable!() };
    let out = scan(lab.scanner(), &["-sS", "-p", PORTS, &routed_range(&lab)]);
    assert_discovered(&lab, &out.records, &out.stdout);
    // R3 is not reported up, and nothing of it is port scanned.
    assert!(hosts(&out.records).get(&r3.ipv4()).is_none_or(|(s, _, _)| s == "down"), "{}", out.stdout);
    let mut want = BTreeMap::new();
    let open = |port| ((r0.ipv4(), port), Port::new("open", "syn-ack", ROUTED_TTL));
    want.extend([open(22), open(80), open(443)]);
    want.insert((r0.ipv4(), 8080), Port::new("closed", "reset", ROUTED_TTL));
    want.insert((r1.ipv4(), 22), Port::new("open", "syn-ack", ROUTED_TTL));
    want.insert((r1.ipv4(), 80), Port::new("closed", "reset", ROUTED_TTL));
    want.insert((r1.ipv4(), 8080), Port::new("closed", "reset", ROUTED_TTL));
    // R1's 443 and all of R2's ports are dropped: filtered, not listed.
    assert_eq!(out.ports(), want, "{}", out.stdout);
    assert_eq!((out.stat("hosts_scanned"), out.stat("hosts_up")), (4, 3), "{}", out.stdout);

    let counts = counted(r3);
    for probe in &COUNTED[..4] {
        assert!(counts[probe] > 0, "discovery probe `{probe}` never reached R3: {counts:?}");
    }
    for probe in &COUNTED[4..] {
        assert_eq!(counts[probe], 0, "R3 was port scanned (`{probe}`): {counts:?}");
    }
}

#[test]
fn pn_port_scans_the_silent_routed_host_anyway() {
    let Some(lab) = lab() else { return };
    let r3 = &lab.routed()[3];
    let normal = std::env::temp_dir().join(format!("scry-routed-pn-{}.nmap", std::process::id()));
    let path = normal.to_str().unwrap();
    let out = scan(lab.scanner(), &["-sS", "-Pn", "-p", PORTS, &r3.ipv4().to_string(), "-oN", path]);
    let want = BTreeMap::from([(r3.ipv4(), ("up".into(), "user-set".into(), None))]);
    assert_eq!(hosts(&out.records), want, "{}", out.stdout);
    assert_eq!(out.ports(), BTreeMap::new(), "{}", out.stdout);
    let text = std::fs::read_to_string(&normal).unwrap();
    let _ = std::fs::remove_file(&normal);
    let reports = common::normal_reports(&text);
    let report = &reports[&r3.ipv4()];
    let rows: Vec<Vec<&str>> = report
        .lines()
        .filter(|l| l.contains("/tcp "))
        .map(|l| l.split_whitespace().take(2).collect())
        .collect();
    let want: Vec<Vec<&str>> =
        ["22/tcp", "80/tcp", "443/tcp", "8080/tcp"].iter().map(|p| vec![*p, "filtered"]).collect();
    assert_eq!(rows, want, "{text}");
    assert_eq!(common::normal_port_count(report), 4, "{text}");

    let counts = counted(r3);
    for probe in [COUNTED[0], COUNTED[2], COUNTED[3]] {
        assert_eq!(counts[probe], 0, "-Pn sent discovery probe `{probe}`: {counts:?}");
    }
    for probe in [COUNTED[1], COUNTED[4], COUNTED[5], COUNTED[6]] {
        assert!(counts[probe] > 0, "no SYN (`{probe}`) reached R3 under -Pn: {counts:?}");
    }
}

#[test]
fn sn_of_routed_targets_finds_exactly_the_hosts_that_answer() {
    let Some(lab) = lab() else { return };
    let r3 = &lab.routed()[3];
    let out = scan(lab.scanner(), &["-sn", &routed_range(&lab)]);
    assert_discovered(&lab, &out.records, &out.stdout);
    assert_eq!(hosts(&out.records)[&r3.ipv4()], ("down".into(), "no-response".into(), None));
    assert_eq!((out.stat("hosts_scanned"), out.stat("hosts_up")), (4, 3));
    let counts = counted(r3);
    assert!(COUNTED[4..].iter().all(|p| counts[p] == 0), "-sn port scanned R3: {counts:?}");
}

/// Hosts nmap's normal output (`--reason`) reports up, with reason and TTL.
fn nmap_up(text: &str) -> BTreeMap<Ipv4Addr, (String, u64)> {
    text.split("Nmap scan report for ")
        .skip(1)
        .filter_map(|block| {
            let (ip, rest) = block.split_once('\n')?;
            let why = rest.lines().next()?.strip_prefix("Host is up, received ")?;
            let mut words = why.split_whitespace();
            let reason = words.next()?.to_owned();
            let ttl = (words.next() == Some("ttl")).then(|| words.next()?.parse().ok()).flatten()?;
            Some((ip.trim().parse().ok()?, (reason, ttl)))
        })
        .collect()
}

/// `(ip, port, state)` of every open or closed port in nmap's normal output.
fn nmap_answered_ports(text: &str) -> BTreeSet<(Ipv4Addr, u16, String)> {
    let mut ports = BTreeSet::new();
    for block in text.split("Nmap scan report for ").skip(1) {
        let Some((ip, rest)) = block.split_once('\n') else { continue };
        let ip: Ipv4Addr = ip.trim().parse().expect("an IPv4 address");
        for line in rest.lines() {
            let mut words = line.split_whitespace();
            let (Some(port), Some(state)) = (words.next(), words.next()) else { continue };
            let Some(Ok(port)) = port.strip_suffix("/tcp").map(str::parse::<u16>) else { continue };
            if state == "open" || state == "closed" {
                ports.insert((ip, port, state.to_owned()));
            }
        }
    }
    ports
}

#[test]
fn nmap_finds_the_same_routed_hosts_up() {
    let Some(lab) = lab() else { return };
    let range = routed_range(&lab);
    let [r0, r1, r2, _] = lab.routed() else { unreachable!() };
    let run = |args: &[&str]| {
        let out = lab.scanner().command("nmap").args(["-n", "--reason", "-oN", "-"]).args(args).output();
        let out = out.expect("running nmap");
        assert!(out.status.success(), "nmap {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let nmap_sn = nmap_up(&run(&["-sn", &range]));
    let nmap_ss_text = run(&["-sS", "-p", PORTS, &range]);
    let nmap_ss = nmap_up(&nmap_ss_text);
    let scry_sn = scan(lab.scanner(), &["-sn", &range]);
    let scry_ss = scan(lab.scanner(), &["-sS", "-p", PORTS, &range]);
    let want_up: BTreeSet<Ipv4Addr> = [r0.ipv4(), r1.ipv4(), r2.ipv4()].into();
    for (name, nmap) in [("-sn", &nmap_sn), ("-sS", &nmap_ss)] {
        assert_eq!(nmap.keys().copied().collect::<BTreeSet<_>>(), want_up, "nmap {name}");
        assert_eq!(nmap[&r1.ipv4()], ("reset".to_owned(), ROUTED_TTL), "nmap {name}");
        assert_eq!(nmap[&r2.ipv4()], ("timestamp-reply".to_owned(), ROUTED_TTL), "nmap {name}");
    }
    for scry in [&scry_sn, &scry_ss] {
        let up: BTreeSet<Ipv4Addr> =
            hosts(&scry.records).into_iter().filter(|(_, (s, _, _))| s == "up").map(|(ip, _)| ip).collect();
        assert_eq!(up, want_up, "{}", scry.stdout);
    }
    // The port scans agree on what answered: every port nmap lists open or
    // closed, scry reports alike.
    let nmap_ports = nmap_answered_ports(&nmap_ss_text);
    assert_eq!(scry_ss.triples(), nmap_ports, "{nmap_ss_text}");
}

/// Regression: the up set from discovery turned the router's one next hop
/// into a per-host table, so routed hosts were taken for directly
/// connected ones: the router's MAC was printed as theirs, and OS
/// detection assumed they were one hop away.
#[test]
fn hosts_found_by_discovery_stay_routed() {
    let Some(lab) = lab() else { return };
    let xml = std::env::temp_dir().join(format!("scry-routed-{}.xml", std::process::id()));
    let path = xml.to_str().unwrap();
    let out = scan(lab.scanner(), &["-sS", "-O", "-p", PORTS, &routed_range(&lab), "-oX", path]);
    let text = std::fs::read_to_string(&xml).unwrap();
    let _ = std::fs::remove_file(&xml);
    assert!(!text.contains("addrtype=\"mac\""), "a routed host has a MAC: {text}");
    let distances: BTreeMap<String, Value> =
        out.records_of("os").map(|r| (r["ip"].as_str().unwrap().to_owned(), r["distance"].clone())).collect();
    // R0 and R1 have an open and a closed port to measure the hop count by.
    let [r0, r1] = [&lab.routed()[0], &lab.routed()[1]].map(|r| r.ipv4().to_string());
    assert_eq!(distances[&r0], 2, "{}", out.stdout);
    assert_eq!(distances[&r1], 2, "{}", out.stdout);
}

/// Regression: the route of the lowest target decided for all, so with a
/// direct target among them routed targets got no next hop (ARP for them
/// went unanswered) and were silently left out. A direct target and routed
/// ones in one scan, as nmap takes them: the direct one is up by ARP, the
/// routed ones by their answers to discovery, however they are given, for
/// a port scan and for -sn.
#[test]
fn direct_and_routed_targets_in_one_scan() {
    let Some(lab) = lab() else { return };
    let [r0, r1, r2, r3] = lab.routed() else { unreachable!() };
    let t0 = &lab.targets()[0];
    for order in [[t0.ipv4().to_string(), routed_range(&lab)], [routed_range(&lab), t0.ipv4().to_string()]] {
        let out = scan(lab.scanner(), &["-sS", "-p", PORTS, &order[0], &order[1]]);
        let up: BTreeMap<Ipv4Addr, String> = hosts(&out.records)
            .into_iter()
            .filter(|(_, (state, _, _))| state == "up")
            .map(|(ip, (_, reason, _))| (ip, reason))
            .collect();
        let ips: Vec<Ipv4Addr> = up.keys().copied().collect();
        assert_eq!(ips, [t0.ipv4(), r0.ipv4(), r1.ipv4(), r2.ipv4()], "{order:?}: {}", out.stdout);
        assert_eq!(up[&t0.ipv4()], "arp-response", "{order:?}: {}", out.stdout);
        assert_eq!(up[&r1.ipv4()], "reset", "{order:?}: {}", out.stdout);
        let closed = |ip| out.in_state(ip, "closed");
        assert_eq!(
            closed(t0.ipv4()),
            PORTS.split(',').map(|p| p.parse().unwrap()).collect(),
            "{}",
            out.stdout
        );
        assert_eq!(closed(r1.ipv4()), [80, 8080].into(), "{}", out.stdout);
        assert_eq!(out.in_state(r3.ipv4(), "filtered"), BTreeSet::new());
    }
    let out = scan(lab.scanner(), &["-sn", &t0.ipv4().to_string(), &routed_range(&lab)]);
    let up: BTreeMap<Ipv4Addr, (String, String, Option<u64>)> =
        hosts(&out.records).into_iter().filter(|(_, (state, _, _))| state == "up").collect();
    assert_eq!(up.len(), 4, "{}", out.stdout);
    assert_eq!(up[&t0.ipv4()], ("up".into(), "arp-response".into(), None), "{}", out.stdout);
    assert_discovered(
        &lab,
        &out.records[..].iter().filter(|r| r["ip"] != t0.ipv4().to_string()).cloned().collect::<Vec<_>>(),
        &out.stdout,
    );
    assert_eq!(hosts(&out.records)[&r3.ipv4()].0, "down", "{}", out.stdout);
}

/// An address on the far link that nobody has: the router gives up ARP
/// for it after about 3 s and answers host unreachable.
const NOBODY: &str = "198.19.0.99";
/// The TTL of the router's own packets (Linux's default).
const ROUTER_TTL: u64 = 64;

/// ICMP errors from the router (TTL exceeded in transit, host unreachable
/// for an address nobody has) answer no discovery probe: the hosts behind
/// stay down, as nmap reports them.
#[test]
fn router_errors_do_not_make_hosts_up() {
    let Some(lab) = lab() else { return };
    let out = scan(lab.scanner(), &["-sn", "--ttl", "1", &routed_range(&lab)]);
    let states: BTreeSet<String> = hosts(&out.records).into_values().map(|(s, _, _)| s).collect();
    assert_eq!(states, ["down".to_owned()].into(), "{}", out.stdout);
    let out = scan(lab.scanner(), &["-sn", "--wait", "5", NOBODY]);
    let nobody: Ipv4Addr = NOBODY.parse().unwrap();
    assert_eq!(hosts(&out.records)[&nobody], ("down".into(), "no-response".into(), None), "{}", out.stdout);
}

/// Regression: under -Pn the router's host unreachable for an address
/// nobody has made that address "up, received host-unreach" with the
/// router's TTL. nmap reports it up as the user said (user-set), its port
/// filtered.
#[test]
fn pn_of_an_unreachable_routed_address_is_up_by_user_set() {
    let Some(lab) = lab() else { return };
    let nobody: Ipv4Addr = NOBODY.parse().unwrap();
    let out = scan(lab.scanner(), &["-Pn", "-p", "22", "--wait", "5", NOBODY]);
    assert_eq!(hosts(&out.records), BTreeMap::from([(nobody, ("up".into(), "user-set".into(), None))]));
    let want = BTreeMap::from([((nobody, 22), Port::new("filtered", "host-unreach", ROUTER_TTL))]);
    assert_eq!(out.ports(), want, "{}", out.stdout);
    let nmap =
        lab.scanner().command("nmap").args(["-n", "--reason", "-Pn", "-p", "22", NOBODY]).output().unwrap();
    let text = String::from_utf8_lossy(&nmap.stdout);
    assert!(text.contains("Host is up, received user-set."), "{text}");
    let row: Vec<&str> =
        text.lines().find(|l| l.starts_with("22/tcp")).unwrap_or_default().split_whitespace().collect();
    // nmap may finish before the router's ARP gives up: then no-response.
    assert_eq!(row[..3], ["22/tcp", "filtered", "ssh"], "{text}");
}

/// A probe whose TTL runs out at the router comes back as ICMP time
/// exceeded: nmap reports the port filtered, reason time-exceeded, with the
/// router's TTL, for SYN and for UDP probes alike.
#[test]
fn ttl_exceeded_at_the_router_is_filtered_time_exceeded() {
    let Some(lab) = lab() else { return };
    let r0 = lab.routed()[0].ipv4();
    let ip = r0.to_string();
    for (scan_type, ports, proto) in [("-sS", "22,80", "tcp"), ("-sU", "53", "udp")] {
        let out = scan(lab.scanner(), &[scan_type, "-Pn", "--ttl", "1", "-p", ports, &ip]);
        let want: BTreeMap<(Ipv4Addr, u16), Port> = ports
            .split(',')
            .map(|p| ((r0, p.parse().unwrap()), Port::new("filtered", "time-exceeded", ROUTER_TTL)))
            .collect();
        assert_eq!(out.ports(), want, "{scan_type}: {}", out.stdout);

        let nmap = lab
            .scanner()
            .command("nmap")
            .args(["-n", "--reason", scan_type, "-Pn", "--ttl", "1", "-p", ports, &ip])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&nmap.stdout);
        let rows: Vec<Vec<&str>> = text
            .lines()
            .filter(|l| l.contains(&format!("/{proto} ")))
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .map(|row| [row[0], row[1], row[3]].to_vec())
            .collect();
        let want: Vec<Vec<String>> = ports
            .split(',')
            .map(|p| vec![format!("{p}/{proto}"), "filtered".into(), "time-exceeded".into()])
            .collect();
        assert_eq!(rows, want, "nmap {scan_type}: {text}");
    }
}
