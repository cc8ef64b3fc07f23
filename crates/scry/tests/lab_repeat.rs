//! Run-to-run stability: on a lossless lab, the same scan repeated gives the
//! same port table every time, whether its order is seeded or random, and
//! that table is the exact answer. Flaky repeats are the complaint users
//! raise most often against fast stateless scanners.

mod common;

use common::{expect_host, scan, Port};
use scry_lab::{lab_or_skip, Lab, Personality, RejectWith, TargetSpec};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

const RUNS: usize = 3;
const PORTS: &str = "1-300,8080";
const T0_OPEN: &[u16] = &[22, 80, 443];
const T2_OPEN: &[u16] = &[8080];
/// Answered with ICMP admin-prohibited by t2's firewall.
const T2_PROHIBITED: &[u16] = &[25, 110, 143];

fn scanned() -> Vec<u16> {
    (1..=300).chain([8080]).collect()
}

type Table = BTreeMap<(Ipv4Addr, u16), Port>;
type Hosts = BTreeMap<Ipv4Addr, (String, Option<u64>)>;

/// Runs the scan [`RUNS`] times with `extra` arguments and returns each
/// run's port table and hosts.
fn runs(lab: &Lab, extra: &[&str]) -> Vec<(Table, Hosts)> {
    let mut args = vec!["-p", PORTS, "--rate", "2000", "198.18.0.10-12"];
    args.extend_from_slice(extra);
    (0..RUNS)
        .map(|_| {
            let out = scan(lab.scanner(), &args);
            assert_eq!(out.stat("rejected"), 0, "{}", out.stats());
            (out.ports(), out.hosts())
        })
        .collect()
}

#[test]
fn repeated_scans_give_identical_tables() {
    // Linux limits ICMP errors to each peer to one a second after a burst of
    // six (icmp_ratelimit), which over repeated runs silences some of t2's
    // admin-prohibited answers: a lossy lab. Lift the limit.
    let unlimited = Personality { icmp_ratelimit: Some(0), ..Personality::default() };
    let mut t2 = TargetSpec::new().personality(unlimited).tcp_listen(T2_OPEN);
    for &port in T2_PROHIBITED {
        t2 = t2.reject_tcp_port(port, RejectWith::AdminProhibited);
    }
    let lab = lab_or_skip!(Lab::builder()
        .target(TargetSpec::new().tcp_listen(T0_OPEN))
        .target(TargetSpec::new().drop_all())
        .target(t2));
    let ip = |i: usize| lab.targets()[i].ipv4();
    let mut expected = Table::new();
    expect_host(&mut expected, ip(0), &scanned(), T0_OPEN, &[], 64);
    expect_host(&mut expected, ip(2), &scanned(), T2_OPEN, T2_PROHIBITED, 64);
    // t1 drops everything: it is up (it answers ARP) but no port answers.
    let hosts: Hosts = (0..3).map(|i| (ip(i), ("arp-response".to_owned(), None))).collect();

    for (label, extra) in [("seeded", &["--seed", "7"][..]), ("unseeded", &[][..])] {
        for (run, (table, up)) in runs(&lab, extra).into_iter().enumerate() {
            let wrong: Vec<_> = table.iter().filter(|(k, v)| expected.get(k) != Some(v)).collect();
            let missing: Vec<_> = expected.keys().filter(|k| !table.contains_key(k)).collect();
            assert!(
                wrong.is_empty() && missing.is_empty(),
                "{label} run {run}: wrong {wrong:?}\nmissing {missing:?}"
            );
            assert_eq!(up, hosts, "{label} run {run}");
        }
    }
}
