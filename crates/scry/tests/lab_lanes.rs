//! Above one sender thread's rate the walk is shared by two threads, each
//! with its own TX ring: a full-range scan at maximum rate must still find
//! exactly the open ports, with every probe sent once per pass.

mod common;

use common::{heavy, random_ports, scan, Sniffer};
use scry_lab::{lab_or_skip, Lab, TargetSpec};
use std::collections::BTreeMap;

const LISTENERS: usize = 1000;
const SOURCE_PORT: u16 = 40000;

#[test]
fn two_sender_threads_at_full_rate_find_every_open_port() {
    let _one_at_a_time = heavy();
    let listening = random_ports(0x1a7e_5002, LISTENERS, SOURCE_PORT);
    let ports: Vec<u16> = listening.iter().copied().collect();
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(&ports)));
    let ip = lab.targets()[0].ipv4();
    let target = ip.to_string();
    let source = SOURCE_PORT.to_string();
    let args = ["-v", "-p-", "--rate", "10000000", "--retries", "2", "-g", &source, &target];
    let out = scan(lab.scanner(), &args);

    assert!(
        out.stderr.contains("scry: 2 sender thread(s) on eth0: PACKET_TX_RING of 8192 frames"),
        "{}",
        out.stderr
    );
    let open = out.in_state(ip, "open");
    let closed = out.in_state(ip, "closed");
    let false_open: Vec<_> = open.difference(&listening).collect();
    let missed: Vec<_> = listening.difference(&open).collect();
    assert!(false_open.is_empty() && missed.is_empty(), "false open: {false_open:?}\nmissed: {missed:?}");
    assert_eq!(closed.len(), usize::from(u16::MAX) - LISTENERS, "{}", out.stats());
    // A retry pass may resend probes whose answers were still on their way
    // to the results; it never sends more than a pass each.
    let sent = out.stat("sent");
    assert!((65535..=3 * 65535).contains(&sent), "{}", out.stats());
    assert_eq!(out.stat("send_errors"), 0, "{}", out.stats());
}

#[test]
fn two_sender_threads_split_the_walk_exactly() {
    let _one_at_a_time = heavy();
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new()));
    let target = lab.targets()[0].ipv4().to_string();
    let source = SOURCE_PORT.to_string();
    let syns = format!("tcp and src port {SOURCE_PORT} and tcp[tcpflags] == tcp-syn");
    let sniffer = Sniffer::start(&lab.targets()[0], &syns);
    let args = ["-v", "-p-", "--rate", "10000000", "--retries", "0", "--wait", "0", "-g", &source, &target];
    let out = scan(lab.scanner(), &args);
    let frames = sniffer.finish();

    assert!(out.stderr.contains("scry: 2 sender thread(s)"), "{}", out.stderr);
    let mut probes: BTreeMap<u16, usize> = BTreeMap::new();
    for frame in &frames {
        let (_, tcp) = frame.tcp().expect("the filter passes only TCP");
        *probes.entry(tcp.dst_port).or_default() += 1;
    }
    let twice: Vec<_> = probes.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "{} ports probed more than once, first {:?}",
        twice.len(),
        &twice[..twice.len().min(10)]
    );
    assert_eq!(probes.len(), 65535, "ports probed");
    assert_eq!((out.stat("sent"), out.stat("send_errors")), (65535, 0), "{}", out.stats());
}
