//! `--pcap FILE`: every frame scry sends and receives lands in a pcap file
//! that tcpdump reads.

mod common;

use common::scan;
use scry_lab::{lab_or_skip, Lab, TargetSpec};
use std::process::Command;

const OPEN: &[u16] = &[22, 80, 443];
const PORTS: &str = "1-200,443";

#[test]
fn tcpdump_reads_every_probe_and_reply() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(OPEN)));
    let target = lab.targets()[0].ipv4().to_string();
    let file = std::env::temp_dir().join(format!("scry-test-{}-scan.pcap", std::process::id()));
    let out = scan(lab.scanner(), &["-p", PORTS, "-g", "40000", "--pcap", file.to_str().unwrap(), &target]);
    assert!(out.status.success(), "{}", out.stderr);

    let dump = Command::new("tcpdump").args(["-nn", "-r"]).arg(&file).output().expect("tcpdump runs");
    std::fs::remove_file(&file).unwrap();
    assert!(dump.status.success(), "tcpdump: {}", String::from_utf8_lossy(&dump.stderr));
    let text = String::from_utf8(dump.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let count = |pred: &dyn Fn(&str) -> bool| lines.iter().filter(|l| pred(l)).count() as u64;

    let probes = count(&|l| l.contains(".40000 > ") && l.contains("Flags [S]"));
    assert_eq!(probes, out.stat("sent"), "{text}");
    assert_eq!(probes, 201, "one SYN per port, nothing silent to retry: {}", out.stats());
    let syn_acks = count(&|l| l.contains(" > ") && l.contains(".40000: Flags [S.]"));
    assert_eq!(syn_acks, OPEN.len() as u64, "{text}");
    let resets = count(&|l| l.contains(".40000: Flags [R.]"));
    assert_eq!(resets, 201 - OPEN.len() as u64, "{text}");
    assert_eq!(out.in_state(lab.targets()[0].ipv4(), "open").into_iter().collect::<Vec<_>>(), OPEN);
}
