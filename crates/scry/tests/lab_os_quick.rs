//! The OS guess from one SYN-ACK against `scry -O` on the OS lab stacks.
//!
//! Every stack of `lab_os.rs` listens on [`OPEN`]; one more has no open
//! port. For each stack with an open port, the quick guess's best family
//! must be the family of `-O`'s best match; the host with no open port
//! gets no guess, `-O` replaces the guess, and `--no-os-guess` turns it off.

mod common;

use std::net::Ipv4Addr;
use std::path::Path;

use common::{os_personalities, scan};
use scry_lab::{lab_or_skip, Lab, TargetSpec};
use serde_json::Value;

const NMAP_DB: &str = "/usr/share/nmap/nmap-os-db";
const OPEN: u16 = 22;
const CLOSED: u16 = 1;

fn lab() -> scry_lab::LabBuilder {
    let builder = os_personalities()
        .into_iter()
        .fold(Lab::builder(), |b, p| b.target(TargetSpec::new().personality(p).tcp_listen(&[OPEN])));
    builder.target(TargetSpec::new().personality(common::linux_personality()))
}

/// The family of the first class of the first match in an `os` record.
fn top_family(record: &Value) -> String {
    record["matches"][0]["classes"][0]["family"].as_str().unwrap_or_else(|| panic!("{record}")).to_owned()
}

fn record_for<'a>(records: impl Iterator<Item = &'a Value>, ip: Ipv4Addr) -> Option<&'a Value> {
    let ip = ip.to_string();
    records.into_iter().find(|r| r["ip"] == ip.as_str())
}

#[test]
fn quick_guess_names_the_family_o_names() {
    if !Path::new(NMAP_DB).is_file() {
        eprintln!("skipped: {NMAP_DB} is missing");
        return;
    }
    let _heavy = common::heavy();
    let lab = lab_or_skip!(lab());
    let ips: Vec<Ipv4Addr> = lab.targets().iter().map(|t| t.ipv4()).collect();
    let targets: Vec<String> = ips.iter().map(Ipv4Addr::to_string).collect();
    let ports = format!("{OPEN},{CLOSED}");
    let mut args = vec!["-p", &ports, "--os-db", NMAP_DB];
    args.extend(targets.iter().map(String::as_str));

    let quick = scan(lab.scanner(), &args);
    let mut with_o = args.clone();
    with_o.extend(["-O", "--osscan-guess", "--max-os-tries", "1"]);
    let full = scan(lab.scanner(), &with_o);
    assert_eq!(full.records_of("os_quick").count(), 0, "-O replaces the quick guess");

    let (last, with_open) = ips.split_last().unwrap();
    let mut families = Vec::new();
    for &ip in with_open {
        let guess =
            record_for(quick.records_of("os_quick"), ip).unwrap_or_else(|| panic!("no guess for {ip}"));
        let keys: Vec<&str> = guess.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["families", "fingerprint", "from", "ip", "matches", "type"], "{guess}");
        assert_eq!(guess["from"], OPEN);
        let fp = guess["fingerprint"].as_str().unwrap();
        // Every stack is Linux: its SYN-ACK's IP ID is zero (TI=Z).
        let seq = fp.lines().next().unwrap();
        assert!(seq.starts_with("SEQ(TI=Z"), "{fp}");
        let tests: Vec<&str> = fp.lines().map(|l| l.split('(').next().unwrap()).collect();
        assert_eq!(tests, ["SEQ", "OPS", "WIN", "T1"], "{fp}");
        assert!(fp.lines().nth(1).unwrap().starts_with("OPS(O1="), "{fp}");
        assert!(fp.contains("T1(R=Y%DF=Y%TG="), "{fp}");
        let os = record_for(full.records_of("os"), ip).unwrap_or_else(|| panic!("no -O result for {ip}"));
        let quick_family = guess["families"][0]["family"].as_str().unwrap().to_owned();
        assert_eq!(top_family(guess), quick_family, "{ip}: the matches are the best family's");
        families.push((ip, seq.to_owned(), quick_family, top_family(os)));
    }
    // Stacks 1 and 3 run without timestamps (TS=U): with TTL 128 and no
    // window scaling, O1, W1 and T1 alone look like Windows, and with TTL
    // 255 like an embedded stack; SEQ's classes tip both to Linux.
    let ts = |i: usize| if i == 1 || i == 3 { "SEQ(TI=Z%TS=U)" } else { "SEQ(TI=Z)" };
    let expected: Vec<_> = with_open
        .iter()
        .enumerate()
        .map(|(i, &ip)| (ip, ts(i).to_owned(), "Linux".to_owned(), "Linux".to_owned()))
        .collect();
    assert_eq!(families, expected);
    assert!(record_for(quick.records_of("os_quick"), *last).is_none(), "{last} has no open port");
    assert_eq!(quick.records_of("os_quick").count(), with_open.len());

    let mut off = args.clone();
    off.push("--no-os-guess");
    let off = scan(lab.scanner(), &off);
    assert_eq!(off.records_of("os_quick").count(), 0);
    assert_eq!(off.records_of("host").count(), ips.len());
}

#[test]
fn normal_output_labels_the_guess() {
    let _heavy = common::heavy();
    if !Path::new(NMAP_DB).is_file() {
        eprintln!("skipped: {NMAP_DB} is missing");
        return;
    }
    let lab =
        lab_or_skip!(Lab::builder()
            .target(TargetSpec::new().personality(common::linux_personality()).tcp_listen(&[OPEN])));
    let ip = lab.targets()[0].ipv4().to_string();
    let ports = format!("{OPEN},{CLOSED}");
    let args = ["-p", &ports, "--os-db", NMAP_DB, &ip];
    let out = lab.scanner().command(common::SCRY).args(args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("OS guess")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.starts_with("OS guess from one SYN-ACK (22/tcp; -O for OS detection): Linux ("), "{line}");
}
