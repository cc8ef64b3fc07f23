//! The adaptive rate scry sends at without `--rate`: exact on a clean
//! link, nearly exact with 10% random loss, no worse than nmap behind a
//! target's rate limit, and never above its ceiling when nothing answers.
//! Recall and correctness only; the times are in benches/lab/defaults.sh.

mod common;

use common::{heavy, nft, scan, Scan};
use scry_lab::{lab_or_skip, Lab, Personality, TargetSpec, IFACE};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

const LISTENERS: usize = 1000;
/// The scanner's source port (`-g`); no target listens on it.
const SOURCE_PORT: u16 = 40000;
/// The default ceiling of the adaptive rate (docs/scanning.md).
const DEFAULT_MAX_RATE: f64 = 1_000_000.0;
/// The adaptive rate's start (docs/scanning.md).
const START_RATE: f64 = 10_000.0;

fn listening_ports() -> BTreeSet<u16> {
    common::random_ports(0x5c12_1000, LISTENERS, SOURCE_PORT)
}

/// `-p-` of `lab`'s first target at scry's defaults, with progress lines and `-v`.
fn full_scan_at_defaults(lab: &Lab) -> Scan {
    let _one_at_a_time = heavy();
    let source = SOURCE_PORT.to_string();
    let target = lab.targets()[0].ipv4().to_string();
    scan(lab.scanner(), &["-p-", "-v", "--stats-every", "20ms", "-g", &source, &target])
}

/// The `rate N pps` of every progress line that has one, with the rest of the line.
fn rates(stderr: &str) -> Vec<(f64, &str)> {
    stderr
        .lines()
        .filter(|l| l.starts_with("Stats: "))
        .filter_map(|l| {
            let (_, rest) = l.split_once(", rate ")?;
            let (rate, _) = rest.split_once(" pps")?;
            Some((rate.parse().expect("a rate"), l))
        })
        .collect()
}

/// The peak the final progress line reports.
fn peak(stderr: &str) -> f64 {
    let last = stderr.lines().rfind(|l| l.starts_with("Stats: ")).expect("a final Stats line");
    let (_, rest) = last.split_once("adaptive rate peaked at ").unwrap_or_else(|| panic!("no peak: {last}"));
    rest.strip_suffix(" pps").expect("pps").parse().expect("a rate")
}

fn open_and_closed(out: &Scan, ip: Ipv4Addr) -> (BTreeSet<u16>, BTreeSet<u16>) {
    let others: Vec<_> =
        out.ports().into_iter().filter(|(_, p)| p.state != "open" && p.state != "closed").collect();
    assert!(others.is_empty(), "only open and closed expected, got {others:?}");
    (out.in_state(ip, "open"), out.in_state(ip, "closed"))
}

/// (a) A clean link at defaults: exactly the listeners open, every other
/// port closed, and the rate climbed from its start, within its ceiling.
#[test]
fn thousand_listeners_at_defaults_exactly() {
    let listening = listening_ports();
    let ports: Vec<u16> = listening.iter().copied().collect();
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(&ports)));
    let ip = lab.targets()[0].ipv4();
    let out = full_scan_at_defaults(&lab);
    let (open, closed) = open_and_closed(&out, ip);
    assert_eq!(open, listening, "{}", out.stats());
    assert_eq!(closed.len(), usize::from(u16::MAX) - LISTENERS, "{}", out.stats());
    assert!(closed.is_disjoint(&listening));
    let peak = peak(&out.stderr);
    assert!(peak > START_RATE && peak <= DEFAULT_MAX_RATE, "peak {peak}: {}", out.stderr);
    // -v: the progress line says why the rate last changed.
    let seen = rates(&out.stderr);
    assert!(seen.iter().any(|(_, l)| l.contains(" pps (up: ")), "{}", out.stderr);
    assert!(seen.iter().all(|(r, _)| *r <= DEFAULT_MAX_RATE), "{}", out.stderr);
}

/// (b) 10% random inbound loss at defaults: recall at least 0.999, nothing
/// invented, no listener reported closed.
#[test]
fn ten_percent_loss_at_defaults_finds_999_of_1000() {
    let listening = listening_ports();
    let ports: Vec<u16> = listening.iter().copied().collect();
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(&ports).drop_percent(10)));
    let ip = lab.targets()[0].ipv4();
    let out = full_scan_at_defaults(&lab);
    let (open, closed) = open_and_closed(&out, ip);
    let invented: Vec<_> = open.difference(&listening).collect();
    assert!(invented.is_empty(), "reported open but not listening: {invented:?}");
    assert!(open.len() >= 999, "found {} of {LISTENERS}; {}", open.len(), out.stats());
    assert!(closed.is_disjoint(&listening));
    let peak = peak(&out.stderr);
    assert!(peak <= DEFAULT_MAX_RATE, "peak {peak}");
}

/// Inbound packets per second the rate-limited target lets through.
const LIMIT_PPS: u32 = 3000;
/// Ports scanned behind the limit, and listeners among them.
const LIMITED_PORTS: u16 = 10_000;
const LIMITED_LISTENERS: usize = 100;

/// The open ports of nmap's grepable output.
fn nmap_open(text: &str) -> BTreeSet<u16> {
    text.lines()
        .filter_map(|l| l.split_once("Ports: ").map(|(_, p)| p))
        .flat_map(|ports| ports.split(", "))
        .filter(|p| p.contains("/open/"))
        .map(|p| p.split('/').next().unwrap().trim().parse().expect("a port"))
        .collect()
}

/// (c) A target whose ingress an nft `limit rate` caps at a few thousand
/// packets a second: scry at defaults misses no more listeners than nmap
/// at defaults, and invents none.
#[test]
fn behind_a_rate_limit_scry_misses_no_more_than_nmap() {
    let listening: BTreeSet<u16> = common::random_ports(0x5c12_3000, LIMITED_LISTENERS * 10, SOURCE_PORT)
        .into_iter()
        .filter(|p| *p <= LIMITED_PORTS)
        .take(LIMITED_LISTENERS)
        .collect();
    assert_eq!(listening.len(), LIMITED_LISTENERS);
    let ports: Vec<u16> = listening.iter().copied().collect();
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(&ports)));
    let target = &lab.targets()[0];
    nft(
        target,
        &format!(
            "table inet scry_rate {{\n chain cap {{\n  type filter hook input priority -10; policy accept;\n  \
             limit rate over {LIMIT_PPS}/second drop\n }}\n}}\n"
        ),
    );
    let ip = target.ipv4().to_string();
    let range = format!("1-{LIMITED_PORTS}");
    let _one_at_a_time = heavy();
    let out = scan(lab.scanner(), &["-p", &range, "-v", "--stats-every", "50ms", "-g", "40000", &ip]);
    let (open, _) = open_and_closed(&out, target.ipv4());
    let invented: Vec<_> = open.difference(&listening).collect();
    assert!(invented.is_empty(), "reported open but not listening: {invented:?}");
    let nmap = lab.scanner().command("nmap").args(["-n", "-p", &range, "-oG", "-", &ip]).output().unwrap();
    assert!(nmap.status.success(), "{}", String::from_utf8_lossy(&nmap.stderr));
    let nmap_found = nmap_open(&String::from_utf8_lossy(&nmap.stdout));
    assert!(nmap_found.is_subset(&listening), "nmap: {nmap_found:?}");
    let (scry_missed, nmap_missed) = (LIMITED_LISTENERS - open.len(), LIMITED_LISTENERS - nmap_found.len());
    eprintln!(
        "behind {LIMIT_PPS} pps: scry missed {scry_missed} ({} sent), nmap {nmap_missed}",
        out.stat("sent")
    );
    assert!(
        scry_missed <= nmap_missed,
        "scry missed {scry_missed}, nmap {nmap_missed}: {}\n{}",
        out.stats(),
        out.stderr.lines().filter(|l| l.contains(", rate ")).collect::<Vec<_>>().join("\n")
    );
    // The limit was found: the rate came down from its start at least once.
    assert!(rates(&out.stderr).iter().any(|(r, _)| *r < START_RATE), "{}", out.stderr);
}

/// The empty network of (d), routed to a gateway that drops it all.
const VOID_NET: &str = "198.19.0.0/16";

/// (d) A /16 where nothing answers: no evidence to grow on, so the rate
/// stays at its start, far below the ceiling, from the first line to the last.
#[test]
fn nothing_answering_the_rate_stays_at_its_start() {
    let gateway = TargetSpec::new()
        .personality(Personality {
            extra: vec![("net.ipv4.ip_forward".into(), "0".into())],
            ..Personality::default()
        })
        .drop_all();
    let lab = lab_or_skip!(Lab::builder().target(gateway));
    let gw = &lab.targets()[0];
    let status = lab
        .scanner()
        .command("ip")
        .args(["route", "add", VOID_NET, "via", &gw.ipv4().to_string(), "dev", IFACE])
        .status()
        .unwrap();
    assert!(status.success());
    nft(
        gw,
        &format!(
            "table ip scry_void {{\n chain void {{\n  type filter hook prerouting priority raw; policy accept;\n  \
             ip daddr {VOID_NET} drop\n }}\n}}\n"
        ),
    );
    let _one_at_a_time = heavy();
    let out = scan(
        lab.scanner(),
        &["-Pn", "-p", "80", "--max-retries", "0", "--wait", "0.2", "-v", "--stats-every", "200ms", VOID_NET],
    );
    assert_eq!(out.stat("sent"), 65_536, "{}", out.stats());
    assert_eq!(out.stat("received"), 0, "{}", out.stats());
    let seen = rates(&out.stderr);
    assert!(seen.len() >= 5, "{}", out.stderr);
    assert!(seen.iter().all(|(r, _)| *r == START_RATE), "{}", out.stderr);
    assert_eq!(peak(&out.stderr), START_RATE);
}

/// `--max-rate` caps a rate that would climb: on a clean link every
/// progress line stays at or under it, and the peak reaches it.
#[test]
fn max_rate_caps_the_climb() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(&[22, 80, 443])));
    let ip = lab.targets()[0].ipv4().to_string();
    let out = scan(lab.scanner(), &["-p", "1-40000", "--max-rate", "20000", "--stats-every", "20ms", &ip]);
    assert_eq!(out.in_state(lab.targets()[0].ipv4(), "open"), BTreeSet::from([22, 80, 443]));
    let seen = rates(&out.stderr);
    assert!(!seen.is_empty(), "{}", out.stderr);
    assert!(seen.iter().all(|(r, _)| *r <= 20_000.0), "{}", out.stderr);
    assert_eq!(peak(&out.stderr), 20_000.0, "{}", out.stderr);
}
