//! End-to-end scans of lab targets with known answers: exact port states,
//! reasons and TTLs, the normal output, `--exclude`, shards and `-Pn`.

mod common;

use common::{expect_host, scan, Port, Sniffer};
use scry_lab::{lab_or_skip, Lab, Personality, RejectWith, TargetSpec};
use scry_packet::TcpFlags;
use scry_probe::permute::{Permutation, Shard};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// The ports every scan here covers: 1-1024 plus two listeners above.
const PORTS: &str = "1-1024,3389,8080";
/// How many that is.
const PORT_COUNT: usize = 1026;
const T0_OPEN: &[u16] = &[22, 80, 443];
const T1_OPEN: &[u16] = &[135, 139, 445, 3389];
const T3_OPEN: &[u16] = &[8080];
const T3_PROHIBITED: u16 = 25;

fn scanned() -> Vec<u16> {
    (1..=1024).chain([3389, 8080]).collect()
}

#[test]
fn exact_states_reasons_ttls_and_normal_output() {
    let lab = lab_or_skip!(Lab::builder()
        .target(TargetSpec::new().tcp_listen(T0_OPEN))
        .target(TargetSpec::new().personality(Personality::windows_like()).tcp_listen(T1_OPEN))
        .target(TargetSpec::new().drop_all())
        .target(
            TargetSpec::new().tcp_listen(T3_OPEN).reject_tcp_port(T3_PROHIBITED, RejectWith::AdminProhibited)
        ));
    let ip = |i: usize| lab.targets()[i].ipv4();
    let normal = std::env::temp_dir().join(format!("scry-test-{}-normal.txt", std::process::id()));
    let normal_arg = normal.to_str().unwrap();
    let out = scan(
        lab.scanner(),
        &["-p", PORTS, "198.18.0.10-13", "--retries", "1", "--no-os-guess", "-oN", normal_arg],
    );
    let text = std::fs::read_to_string(&normal).unwrap();
    std::fs::remove_file(&normal).unwrap();

    let mut expected = BTreeMap::new();
    expect_host(&mut expected, ip(0), &scanned(), T0_OPEN, &[], 64);
    expect_host(&mut expected, ip(1), &scanned(), T1_OPEN, &[], 128);
    expect_host(&mut expected, ip(3), &scanned(), T3_OPEN, &[T3_PROHIBITED], 64);
    // t2 drops everything: no port answers, so it has no port record at all.
    let actual = out.ports();
    let wrong: Vec<_> = actual.iter().filter(|(k, v)| expected.get(k) != Some(v)).collect();
    let missing: Vec<_> = expected.keys().filter(|k| !actual.contains_key(k)).collect();
    assert!(wrong.is_empty() && missing.is_empty(), "wrong: {wrong:?}\nmissing: {missing:?}");

    // Every target answered ARP, so each is up with arp-response, t2 included.
    let hosts = out.hosts();
    let arp: BTreeMap<Ipv4Addr, (String, Option<u64>)> =
        (0..4).map(|i| (ip(i), ("arp-response".to_owned(), None))).collect();
    assert_eq!(hosts, arp);
    assert_eq!(out.begin()["hosts"], 4);
    assert_eq!(out.begin()["ports"], PORT_COUNT);
    assert_eq!(out.stat("hosts_up"), 4);
    assert_eq!(out.stat("rejected"), 0);
    // One pass over everything, one retry of t2's silent ports.
    assert!(out.stat("sent") >= (5 * PORT_COUNT) as u64, "{}", out.stats());

    let (starting, reports) = text.split_once('\n').unwrap();
    assert!(starting.starts_with("Starting scry "), "{text}");
    let blocks: Vec<&str> = std::iter::once("").chain(reports.split("\n\n")).collect();
    assert_eq!(
        blocks[1],
        "scry scan report for 198.18.0.10\nHost is up, received arp-response.\n\
         Not shown: 1023 closed tcp ports (reset)\n\
         PORT    STATE SERVICE\n22/tcp  open  ssh\n80/tcp  open  http\n443/tcp open  https",
        "{text}"
    );
    assert_eq!(
        blocks[2],
        "scry scan report for 198.18.0.11\nHost is up, received arp-response.\n\
         Not shown: 1022 closed tcp ports (reset)\n\
         PORT     STATE SERVICE\n135/tcp  open  msrpc\n139/tcp  open  netbios-ssn\n\
         445/tcp  open  microsoft-ds\n3389/tcp open  ms-wbt-server",
        "{text}"
    );
    assert_eq!(
        blocks[3],
        "scry scan report for 198.18.0.12\nHost is up, received arp-response.\n\
         All 1026 scanned ports on 198.18.0.12 are in ignored states.\n\
         Not shown: 1026 filtered tcp ports (no-response)",
        "{text}"
    );
    assert_eq!(
        blocks[4],
        "scry scan report for 198.18.0.13\nHost is up, received arp-response.\n\
         Not shown: 1024 closed tcp ports (reset)\n\
         PORT     STATE    SERVICE\n25/tcp   filtered smtp\n8080/tcp open     http-proxy",
        "{text}"
    );
    assert!(blocks[5].starts_with("scry done: 4 IP addresses (4 hosts up) scanned in "), "{text}");
    assert!(blocks[5].ends_with(" seconds\n"), "{text}");
    assert_eq!(blocks.len(), 6, "{text}");
}

#[test]
fn excluded_address_gets_no_probe() {
    let lab = lab_or_skip!(Lab::builder()
        .target(TargetSpec::new().tcp_listen(&[22]))
        .target(TargetSpec::new().tcp_listen(&[22]))
        .target(TargetSpec::new().tcp_listen(&[22])));
    let syn = "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn and src host 198.18.0.1";
    let included = Sniffer::start(&lab.targets()[0], syn);
    let excluded = Sniffer::start(&lab.targets()[1], syn);
    let out = scan(lab.scanner(), &["-p", "1-200", "198.18.0.10-12", "--exclude", "198.18.0.11"]);
    let included = included.finish();
    let excluded = excluded.finish();

    let t1 = lab.targets()[1].ipv4();
    assert_eq!(excluded.len(), 0, "the excluded target received {excluded:#?}");
    let probed: BTreeSet<u16> = included
        .iter()
        .filter_map(|f| f.tcp())
        .filter(|(_, tcp)| tcp.flags.contains(TcpFlags::SYN) && !tcp.flags.contains(TcpFlags::ACK))
        .map(|(_, tcp)| tcp.dst_port)
        .collect();
    assert_eq!(probed, (1..=200).collect(), "t0 should see a SYN on every port");
    assert_eq!(out.begin()["hosts"], 2);
    assert!(out.records.iter().all(|r| r["ip"] != t1.to_string()), "{}", out.stdout);
    for t in [0, 2] {
        let ip = lab.targets()[t].ipv4();
        assert_eq!(out.in_state(ip, "open"), BTreeSet::from([22]));
        assert_eq!(out.in_state(ip, "closed").len(), 199);
    }
}

#[test]
fn shards_together_are_the_whole_scan() {
    const SEED: u64 = 0x5eed;
    const PORTS_PER_HOST: u64 = 1000;
    // Nothing answers a retry on a clean lab, so nmap's rule allows one
    // retry pass (for the silent host's pairs) and no more.
    const RETRY_PASSES: u64 = 1;
    let lab = lab_or_skip!(Lab::builder()
        .target(TargetSpec::new().tcp_listen(T0_OPEN))
        .target(TargetSpec::new().personality(Personality::windows_like()).tcp_listen(T1_OPEN))
        .target(TargetSpec::new().drop_all()));
    let seed = SEED.to_string();
    // A fixed rate: the adaptive default climbs until the receiver drops
    // answers on a busy machine, and the dropped pairs' resends would blur
    // the count of probes each shard sends, which is what this test checks.
    let base = ["-p", "1-1000", "198.18.0.10-12", "--seed", seed.as_str(), "-v", "--rate", "10000"];
    let whole = scan(lab.scanner(), &base);
    let silent_host = 2; // t2 drops everything; its probes are retried
    let pairs = 3 * PORTS_PER_HOST;
    let permutation = Permutation::new(pairs, SEED);

    let mut union = BTreeSet::new();
    let mut sent_total = 0;
    for k in 0..4 {
        let shard = format!("{k}/4");
        let normal = std::env::temp_dir().join(format!("scry-test-{}-shard{k}.txt", std::process::id()));
        let mut args = base.to_vec();
        args.extend(["--shard", shard.as_str(), "-oN", normal.to_str().unwrap()]);
        let part = scan(lab.scanner(), &args);
        let text = std::fs::read_to_string(&normal).unwrap();
        std::fs::remove_file(&normal).unwrap();
        let positions = permutation.positions(Shard::new(k, 4).unwrap());
        let size = positions.end - positions.start;
        assert_eq!(size, pairs / 4);
        assert!(part.stderr.contains(&format!("shard {k}/4 covers {size};")), "{}", part.stderr);
        // The first pass sends the slice; each retry resends the slice's silent pairs.
        let silent =
            permutation.walk(positions.clone()).filter(|i| i / PORTS_PER_HOST == silent_host).count() as u64;
        let expected = size + RETRY_PASSES * silent;
        let sent = part.stat("sent");
        assert!(
            sent.abs_diff(expected) <= expected / 50,
            "shard {shard}: sent {sent}, expected about {expected}"
        );
        sent_total += sent;

        // Regression: a shard's normal output listed every port of every
        // host, calling the ones other shards probe "filtered (no-response)".
        let reports = common::normal_reports(&text);
        assert_eq!(reports.len(), 3, "{text}");
        for (h, (ip, report)) in reports.iter().enumerate() {
            let h = h as u64;
            let mine = permutation.walk(positions.clone()).filter(|i| i / PORTS_PER_HOST == h).count() as u64;
            assert_eq!(common::normal_port_count(report), mine, "shard {shard}, {ip}:\n{report}");
            if h == silent_host {
                let all = format!("All {mine} scanned ports on {ip} are in ignored states.");
                assert!(report.contains(&all), "shard {shard}:\n{report}");
            } else {
                assert!(!report.contains("filtered"), "shard {shard}, {ip}:\n{report}");
            }
        }
        let triples = part.triples();
        assert!(union.is_disjoint(&triples), "shard {shard} repeats answers of an earlier one");
        union.extend(triples);
    }
    assert_eq!(union, whole.triples());
    let whole_sent = whole.stat("sent");
    assert!(
        sent_total.abs_diff(whole_sent) <= whole_sent / 50,
        "shards sent {sent_total}, whole {whole_sent}"
    );
    assert_eq!(whole.in_state(lab.targets()[0].ipv4(), "open"), T0_OPEN.iter().copied().collect());
    let t1_open = T1_OPEN.iter().copied().filter(|&p| u64::from(p) <= PORTS_PER_HOST).collect();
    assert_eq!(whole.in_state(lab.targets()[1].ipv4(), "open"), t1_open);
    assert_eq!(whole.triples().len(), 2 * PORTS_PER_HOST as usize);
}

/// `-Pn` reports every target: one nobody holds (no ARP answer, so never
/// probed) is up with reason user-set and every port filtered; `--reason`
/// gives each row's reason and TTL. Regression:
/// the summary counted only hosts that answered ("3 IP addresses (2 hosts
/// up)" under three reports), and its JSON host record had no `ttl`.
#[test]
fn no_ping_reports_every_target() {
    let lab = lab_or_skip!(Lab::builder()
        .target(TargetSpec::new().tcp_listen(&[22]))
        .target(TargetSpec::new().drop_all()));
    let (t0, t1) = (lab.targets()[0].ipv4(), lab.targets()[1].ipv4());
    let nobody = Ipv4Addr::new(198, 18, 0, 99);
    let targets = "198.18.0.10-11,99";
    let normal = std::env::temp_dir().join(format!("scry-test-{}-pn.txt", std::process::id()));
    let out = scan(
        lab.scanner(),
        &["-p", "22,80", targets, "-Pn", "--reason", "--no-os-guess", "-oN", normal.to_str().unwrap()],
    );
    let text = std::fs::read_to_string(&normal).unwrap();
    std::fs::remove_file(&normal).unwrap();

    let arp = ("arp-response".to_owned(), None);
    let expected = BTreeMap::from([(t0, arp.clone()), (t1, arp), (nobody, ("user-set".to_owned(), None))]);
    assert_eq!(out.hosts(), expected);
    assert!(out.records_of("host").all(|r| r.get("ttl").is_some()), "{}", out.stdout);
    let ports = BTreeMap::from([
        ((t0, 22), Port::new("open", "syn-ack", 64)),
        ((t0, 80), Port::new("closed", "reset", 64)),
    ]);
    assert_eq!(out.ports(), ports);
    assert_eq!(out.stat("hosts_up"), 3);
    let reports = common::normal_reports(&text);
    // Regression: silent ports showed "no-response ttl 0" under --reason.
    assert_eq!(
        reports[&nobody],
        "Host is up, received user-set.\nPORT   STATE    SERVICE REASON\n\
         22/tcp filtered ssh     no-response\n80/tcp filtered http    no-response"
    );
    assert_eq!(
        reports[&t0],
        "Host is up, received arp-response.\nPORT   STATE  SERVICE REASON\n\
         22/tcp open   ssh     syn-ack ttl 64\n80/tcp closed http    reset ttl 64"
    );
    assert!(text.contains("\nscry done: 3 IP addresses (3 hosts up) scanned in "), "{text}");

    // Without -Pn only the hosts that answered (ARP) are reported.
    let out = scan(lab.scanner(), &["-p", "22,80", targets]);
    assert_eq!(out.hosts().keys().copied().collect::<Vec<_>>(), [t0, t1]);
    assert_eq!(out.stat("hosts_up"), 2);
    assert_eq!(out.ports(), ports);
}

/// Regression: a range holding the subnet's broadcast address refused the
/// whole scan (`198.18.0.255 has a broadcast route`). The broadcast
/// addresses are left out, said once, and the rest is scanned.
#[test]
fn broadcast_address_in_a_range_is_skipped() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(T0_OPEN)));
    // The kernel's own list, as the oracle: which of the /24 route as broadcast.
    let mut ip_route = lab.scanner().command("ip");
    ip_route.args(["-4", "route", "show", "table", "local", "type", "broadcast"]);
    let listed = String::from_utf8(ip_route.output().unwrap().stdout).unwrap();
    let mut expected: Vec<Ipv4Addr> = listed
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .filter(|a: &Ipv4Addr| a.octets()[..3] == [198, 18, 0])
        .collect();
    expected.sort();
    assert!(expected.contains(&Ipv4Addr::new(198, 18, 0, 255)), "{listed}");

    let normal = std::env::temp_dir().join(format!("scry-test-{}-broadcast.txt", std::process::id()));
    let out =
        scan(lab.scanner(), &["-p", "80", "--no-os-guess", "-oN", normal.to_str().unwrap(), "198.18.0.0/24"]);
    let text = std::fs::read_to_string(&normal).unwrap();
    std::fs::remove_file(&normal).unwrap();
    assert_eq!(out.stat("skipped_broadcast"), expected.len() as u64);
    assert_eq!(out.stat("hosts_scanned"), 256 - expected.len() as u64);
    let ports: Vec<_> = out.ports().into_iter().map(|(pair, port)| (pair, port.state)).collect();
    assert_eq!(ports, [((Ipv4Addr::new(198, 18, 0, 10), 80), "open".to_owned())]);
    let named: Vec<String> = expected.iter().map(ToString::to_string).collect();
    let what = match named.len() {
        1 => format!("1 broadcast address ({})", named[0]),
        n => format!("{n} broadcast addresses ({})", named.join(", ")),
    };
    let line = format!(
        "Skipping {what} of the target ranges: a broadcast address reaches every host of its link, not one."
    );
    assert_eq!(text.lines().nth(1), Some(line.as_str()), "{text}");
    let done = format!("scry done: {} IP addresses (1 host up)", 256 - expected.len());
    assert!(text.contains(&done), "{text}");

    // A broadcast address given alone is still refused, by name.
    let alone = common::command(lab.scanner(), &["-p", "80", "198.18.0.255"]).output().unwrap();
    assert_eq!(alone.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&alone.stderr),
        "scry: 198.18.0.255 routes as broadcast here; scry probes unicast hosts only\n"
    );
}
