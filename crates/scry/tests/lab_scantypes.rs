//! The stealth and firewall-mapping scans (-sF, -sN, -sX, -sM, -sA, -sW,
//! --scanflags) against nmap as the oracle: each test runs scry and nmap
//! with the same flags on the same lab targets, in the same run, and
//! compares every port's state, reason and reply TTL, and the XML
//! `<scaninfo>` lines. Nothing is hard-coded about what Linux answers; a
//! few expectations pin that the comparison is not vacuous.

mod common;

use common::services::nmap_present;
use common::{nft, Sniffer};
use quick_xml::events::Event;
use scry_lab::{require_lab, Lab, Node, Personality, RejectWith, TargetSpec};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

/// Listening ports of the Linux target.
const OPEN: &[u16] = &[22, 80];
/// Ports its firewall drops silently.
const DROPPED: &[u16] = &[81, 82];
/// Ports its firewall rejects, with the ICMP error each gets.
const REJECTED: &[(u16, RejectWith)] = &[
    (113, RejectWith::PortUnreachable),
    (25, RejectWith::AdminProhibited),
    (26, RejectWith::HostUnreachable),
];
/// Every port scanned: the above and closed ones, at most 25 per state so
/// every port is listed in every format.
const PORTS: &str = "21-26,80-82,113,443,8080";
/// The scans compared, as given to both scanners.
const SCANS: &[&[&str]] = &[
    &["-sF"],
    &["-sN"],
    &["-sX"],
    &["-sM"],
    &["-sA"],
    &["-sW"],
    &["--scanflags", "FINPSH"],
    &["--scanflags", "SYN"],
    &["-sA", "--scanflags", "SYNACK"],
    &["-sF", "--scanflags", "0x0"],
];

/// What an nmap XML document says: its `<scaninfo>` attributes, and per
/// (protocol, port) the state, reason and reason TTL.
#[derive(Debug, Default, PartialEq, Eq)]
struct Facts {
    scaninfo: Vec<BTreeMap<String, String>>,
    ports: BTreeMap<(String, u16), (String, String, String)>,
    /// `<extraports>` (state, count): none here, every port is listed.
    extraports: Vec<(String, String)>,
}

fn attributes(e: &quick_xml::events::BytesStart<'_>) -> BTreeMap<String, String> {
    e.attributes()
        .map(|a| {
            let a = a.unwrap();
            (String::from_utf8(a.key.as_ref().to_vec()).unwrap(), a.unescape_value().unwrap().into_owned())
        })
        .collect()
}

fn facts(xml: &str) -> Facts {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut facts = Facts::default();
    let mut port: Option<(String, u16)> = None;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => {
                let a = attributes(&e);
                match e.name().as_ref() {
                    b"scaninfo" => facts.scaninfo.push(a),
                    b"port" => port = Some((a["protocol"].clone(), a["portid"].parse().unwrap())),
                    b"state" => {
                        if let Some(key) = port.take() {
                            facts.ports.insert(
                                key,
                                (a["state"].clone(), a["reason"].clone(), a["reason_ttl"].clone()),
                            );
                        }
                    }
                    b"extraports" => facts.extraports.push((a["state"].clone(), a["count"].clone())),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    facts
}

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scry-scantypes-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Runs `program` (scry or nmap) in `node` with `args`, XML to `xml`.
fn run(node: &Node, program: &str, args: &[&str], xml: &Path) -> Output {
    let out = node.command(program).args(args).arg("-oX").arg(xml).output().unwrap();
    assert!(out.status.success(), "{program} {args:?}: {}", text(&out));
    out
}

/// scry and nmap with `args` on `node`'s targets: their XML facts, and
/// scry's normal output and grepable file's text.
struct Both {
    scry: Facts,
    nmap: Facts,
    scry_out: String,
    nmap_out: String,
}

fn both(node: &Node, dir: &Path, name: &str, args: &[&str]) -> Both {
    let (ours, theirs) = (dir.join(format!("{name}.scry.xml")), dir.join(format!("{name}.nmap.xml")));
    let json = dir.join(format!("{name}.scry.json"));
    let mut scry_args = args.to_vec();
    scry_args.extend(["-oJ", json.to_str().unwrap()]);
    let scry = run(node, common::SCRY, &scry_args, &ours);
    let nmap = run(node, "nmap", args, &theirs);
    assert_valid_xml(&ours);
    let got = Both {
        scry: facts(&read(&ours)),
        nmap: facts(&read(&theirs)),
        scry_out: text(&scry),
        nmap_out: text(&nmap),
    };
    assert_json_agrees(&read(&json), &got.scry);
    got
}

/// scry's JSON `port` records are its XML's answered ports: same state,
/// reason and TTL (a silent port has no record, as in a UDP scan).
fn assert_json_agrees(json: &str, xml: &Facts) {
    let records = common::parse_lines(json);
    let answered: BTreeMap<(String, u16), (String, String, String)> = records
        .iter()
        .filter(|r| r["type"] == "port")
        .map(|r| {
            let key = (r["proto"].as_str().unwrap().to_owned(), r["port"].as_u64().unwrap() as u16);
            let value = (r["state"].as_str().unwrap(), r["reason"].as_str().unwrap(), r["ttl"].to_string());
            (key, (value.0.to_owned(), value.1.to_owned(), value.2))
        })
        .collect();
    let want: BTreeMap<(String, u16), (String, String, String)> = xml
        .ports
        .iter()
        .filter(|(_, (_, reason, _))| reason != "no-response")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(answered, want, "{json}");
}

/// `xmllint --dtdvalid` against nmap's DTD.
fn assert_valid_xml(path: &Path) {
    let out = std::process::Command::new("xmllint")
        .args(["--noout", "--dtdvalid", "/usr/share/nmap/nmap.dtd"])
        .arg(path)
        .output()
        .expect("xmllint (libxml2-utils, scripts/install-deps.sh)");
    assert!(out.status.success(), "{} is not valid nmap XML: {}", path.display(), text(&out));
}

/// The Linux target: open, closed, dropped and ICMP-rejected TCP ports.
/// Its ICMP errors are not rate limited: a dozen scans in a row would
/// otherwise exhaust Linux's per-peer budget (6, then one a second), and
/// which scanner then hears a given error would depend on its timing.
fn linux_target() -> TargetSpec {
    let unlimited = Personality { icmp_ratelimit: Some(0), ..Personality::default() };
    let target = TargetSpec::new().personality(unlimited).tcp_listen(OPEN);
    REJECTED.iter().fold(target, |t, (port, how)| t.reject_tcp_port(*port, *how))
}

/// A lab of one `target`, its [`DROPPED`] ports dropped; and its address.
fn linux_lab(target: TargetSpec) -> Option<(Lab, String)> {
    let lab = require_lab(Lab::builder().target(target).build())?;
    drop_ports(&lab.targets()[0], DROPPED);
    let ip = lab.targets()[0].ipv4().to_string();
    Some((lab, ip))
}

/// Drops inbound TCP to `ports` on `node`, beside the lab's own rules.
fn drop_ports(node: &Node, ports: &[u16]) {
    let list: Vec<String> = ports.iter().map(u16::to_string).collect();
    nft(
        node,
        &format!(
            "table inet drops {{\n chain input {{\n  type filter hook input priority filter; policy accept;\n  \
             tcp dport {{ {} }} drop\n }}\n}}\n",
            list.join(", ")
        ),
    );
}

fn state(f: &Facts, port: u16) -> &str {
    &f.ports[&("tcp".to_owned(), port)].0
}

#[test]
fn every_scan_type_equals_nmap_port_by_port_on_a_linux_target() {
    if !nmap_present() {
        return;
    }
    let Some((lab, ip)) = linux_lab(linux_target()) else { return };
    let dir = scratch("linux");
    for (i, scan) in SCANS.iter().enumerate() {
        let mut args = scan.to_vec();
        args.extend(["-n", "--reason", "-p", PORTS, &ip]);
        let got = both(lab.scanner(), &dir, &format!("scan{i}"), &args);
        let what = format!("{scan:?}\nscry:\n{}\nnmap:\n{}", got.scry_out, got.nmap_out);
        assert_eq!(got.scry.ports.len(), 12, "{what}");
        assert_eq!(got.scry, got.nmap, "{what}");
        // Only the SYN scan's SYN-ACKs are samples for the one-SYN-ACK OS guess.
        assert!(!got.scry_out.contains("OS guess from one SYN-ACK"), "{what}");
        // Not vacuous: filtered by ICMP whatever the scan, and the dropped
        // ports silent (open|filtered to the FIN-like scans).
        assert_eq!(got.scry.ports[&("tcp".to_owned(), 25)].1, "admin-prohibited", "{what}");
        assert_eq!(got.scry.ports[&("tcp".to_owned(), 113)].1, "port-unreach", "{what}");
        assert_eq!(got.scry.ports[&("tcp".to_owned(), 26)].1, "host-unreach", "{what}");
        assert_eq!(got.scry.ports[&("tcp".to_owned(), 81)].1, "no-response", "{what}");
        match scan[0] {
            "-sF" | "-sN" | "-sX" => {
                // Linux drops these on a listening port and resets them on a closed one.
                assert_eq!(
                    (state(&got.scry, 22), state(&got.scry, 23)),
                    ("open|filtered", "closed"),
                    "{what}"
                );
            }
            "-sA" => assert_eq!(state(&got.scry, 22), "unfiltered", "{what}"),
            "--scanflags" if scan[1] == "SYN" => {
                assert_eq!(got.scry.ports[&("tcp".to_owned(), 22)].1, "syn-ack", "{what}");
                assert_eq!(got.scry.scaninfo[0]["scanflags"], "SYN", "{what}");
            }
            // Linux resets a segment with ACK whether it listens or not, with
            // window 0: closed to the Maimon and window scans.
            "-sM" | "-sW" => assert_eq!(state(&got.scry, 22), "closed", "{what}"),
            _ => {}
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The grepable and normal port lists equal nmap's: the state words
/// `open|filtered` and `unfiltered` as nmap writes them, reasons included,
/// and with `--open` the states that may be open listed, the rest counted.
#[test]
fn grepable_and_normal_port_lists_equal_nmaps() {
    if !nmap_present() {
        return;
    }
    let Some((lab, ip)) = linux_lab(linux_target()) else { return };
    let dir = scratch("formats");
    for (scan, open) in [("-sF", false), ("-sA", false), ("-sF", true), ("-sA", true), ("-sW", true)] {
        let mut args = vec![scan, "-n", "--reason", "-p", PORTS, &ip];
        if open {
            args.push("--open");
        }
        let mut lines = Vec::new();
        for program in [common::SCRY, "nmap"] {
            let normal = dir.join(format!("{scan}.normal"));
            let grepable = dir.join(format!("{scan}.gnmap"));
            let out = lab
                .scanner()
                .command(program)
                .args(&args)
                .arg("-oN")
                .arg(&normal)
                .arg("-oG")
                .arg(&grepable)
                .output()
                .unwrap();
            assert!(out.status.success(), "{program}: {}", text(&out));
            let normal = read(&normal);
            let not_shown = normal.lines().filter(|l| l.starts_with("Not shown: "));
            let table = normal
                .lines()
                .skip_while(|l| !l.starts_with("PORT "))
                .take_while(|l| !l.is_empty() && !l.starts_with("MAC Address"));
            let table: Vec<String> = not_shown.chain(table).map(str::to_owned).collect();
            let grepable = read(&grepable);
            let ports = grepable.lines().find(|l| l.contains("Ports: ")).unwrap_or_default();
            let ports = ports.split("Ports: ").nth(1).unwrap_or_default().to_owned();
            lines.push((table, ports));
        }
        let what = format!("{args:?}\nscry: {:#?}\nnmap: {:#?}", lines[0], lines[1]);
        assert_eq!(lines[0], lines[1], "{what}");
        // -sW finds no port that may be open on Linux: --open then leaves the host out.
        let expected = if scan == "-sW" { Vec::new() } else { vec![()] };
        assert_eq!(
            lines[0].1.split(", ").filter(|p| !p.is_empty()).map(|_| ()).take(1).collect::<Vec<_>>(),
            expected,
            "{what}"
        );
        let word = match scan {
            "-sF" => "/open|filtered/",
            "-sA" => "/unfiltered/",
            _ => "",
        };
        assert!(lines[0].1.contains(word), "{what}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two counted states: nmap names the one with more ports first, whatever
/// the states, in the normal output's `Not shown` and the XML.
#[test]
fn counted_states_most_ports_first_as_nmap() {
    if !nmap_present() {
        return;
    }
    let Some((lab, ip)) = linux_lab(TargetSpec::new().tcp_listen(OPEN)) else { return };
    let silent: Vec<u16> = (1001..=1060).collect();
    drop_ports(&lab.targets()[0], &silent);
    let dir = scratch("counted");
    let firsts = [
        ("-sS", "Not shown: 60 filtered "),
        // 22 listens: silent to FIN too.
        ("-sF", "Not shown: 61 open|filtered "),
        ("-sA", "Not shown: 60 filtered "),
    ];
    for (scan, first) in firsts {
        let mut lines = Vec::new();
        for program in [common::SCRY, "nmap"] {
            let normal = dir.join(format!("{scan}.normal"));
            let args = [scan, "-n", "-p", "1-50,1001-1060", &ip, "-oN"];
            let out = lab.scanner().command(program).args(args).arg(&normal).output().unwrap();
            assert!(out.status.success(), "{program}: {}", text(&out));
            let normal = read(&normal);
            lines.push(normal.lines().find(|l| l.starts_with("Not shown: ")).map(str::to_owned));
        }
        assert_eq!(lines[0], lines[1], "{scan}");
        let line = lines[0].as_deref().unwrap_or_default();
        assert!(line.starts_with(first), "{scan}: {line}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A stack that resets open ports with a non-zero window, as the window
/// scan looks for: the target's RSTs from its listening ports get window
/// 4096 on the way out (nft rewrites the field). Open to `-sW` as to nmap;
/// still unfiltered to `-sA`.
#[test]
fn window_scan_finds_ports_reset_with_a_window_open_as_nmap() {
    if !nmap_present() {
        return;
    }
    let Some((lab, ip)) = linux_lab(linux_target()) else { return };
    nft(
        &lab.targets()[0],
        "table inet window {\n chain output {\n  type filter hook output priority filter; policy accept;\n  \
         tcp sport { 22, 80 } tcp flags & rst == rst @th,112,16 set 4096\n }\n}\n",
    );
    let dir = scratch("window");
    for scan in ["-sW", "-sA"] {
        let got = both(lab.scanner(), &dir, scan, &[scan, "-n", "--reason", "-p", PORTS, &ip]);
        let what = format!("{scan}\nscry:\n{}\nnmap:\n{}", got.scry_out, got.nmap_out);
        assert_eq!(got.scry, got.nmap, "{what}");
        let want = if scan == "-sW" { ("open", "closed") } else { ("unfiltered", "unfiltered") };
        assert_eq!((state(&got.scry, 22), state(&got.scry, 23)), want, "{what}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A FIN scan combined with a UDP scan, as nmap runs them: TCP ports by
/// FIN probes, UDP ports by UDP probes, one `<scaninfo>` each.
#[test]
fn fin_and_udp_in_one_scan_equal_nmap() {
    if !nmap_present() {
        return;
    }
    let Some((lab, ip)) = linux_lab(linux_target().udp_listen(&[5000])) else { return };
    let dir = scratch("fin-udp");
    let list = format!("T:{PORTS},U:53,5000");
    let got = both(lab.scanner(), &dir, "sFU", &["-sFU", "-n", "-p", &list, &ip]);
    let what = format!("scry:\n{}\nnmap:\n{}", got.scry_out, got.nmap_out);
    assert_eq!(got.scry, got.nmap, "{what}");
    let types: Vec<&str> = got.scry.scaninfo.iter().map(|s| s["type"].as_str()).collect();
    assert_eq!(types, ["fin", "udp"], "{what}");
    assert_eq!(got.scry.ports[&("udp".to_owned(), 5000)].0, "open", "{what}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A target behind the lab's router whose stateless firewall lets some
/// ports through and drops the rest: the ACK scan maps it (unfiltered
/// through, filtered dropped) exactly as nmap does, and so does a FIN scan.
#[test]
fn ack_scan_maps_a_routed_firewall_as_nmap_does() {
    if !nmap_present() {
        return;
    }
    let lab = Lab::builder().routed_target(TargetSpec::new().tcp_listen(&[22, 80]));
    let Some(lab) = require_lab(lab.build()) else { return };
    let r0 = &lab.routed()[0];
    // Lets ICMP (so both find the host up) and TCP to 22, 80 and 443 in;
    // 8443 is rejected as a firewall would; everything else is dropped.
    nft(
        r0,
        "table inet mapped {\n chain input {\n  type filter hook input priority filter; policy drop;\n  \
         meta l4proto icmp accept\n  tcp dport { 22, 80, 443 } accept\n  \
         tcp dport 8443 reject with icmpx type admin-prohibited\n }\n}\n",
    );
    let ip = r0.ipv4().to_string();
    let dir = scratch("routed");
    let ports = "21-23,80,443,3389,8080,8443";
    let through = Sniffer::start(r0, "tcp and src host 198.18.0.1");
    for scan in ["-sA", "-sF", "-sW"] {
        let got = both(lab.scanner(), &dir, scan, &[scan, "-n", "--reason", "-p", ports, &ip]);
        let what = format!("{scan}\nscry:\n{}\nnmap:\n{}", got.scry_out, got.nmap_out);
        assert_eq!(got.scry.ports.len(), 8, "{what}");
        assert_eq!(got.scry, got.nmap, "{what}");
        if scan == "-sA" {
            let mapped: BTreeMap<u16, &str> =
                got.scry.ports.iter().map(|((_, port), (state, _, _))| (*port, state.as_str())).collect();
            let want: BTreeMap<u16, &str> = [
                (21, "filtered"),
                (22, "unfiltered"),
                (23, "filtered"),
                (80, "unfiltered"),
                (443, "unfiltered"),
                (3389, "filtered"),
                (8080, "filtered"),
                (8443, "filtered"),
            ]
            .into();
            assert_eq!(mapped, want, "{what}");
            // The resets came through the router: one hop less than Linux's 64.
            assert_eq!(got.scry.ports[&("tcp".to_owned(), 22)].2, "63", "{what}");
        }
    }
    assert!(through.finish_count() > 0, "no probe reached the routed target");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `<portused>` elements of an nmap XML document, as (state, proto,
/// portid); the UDP port is one each scanner draws at random, so `*`.
fn ports_used(xml: &str) -> Vec<(String, String, String)> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut used = Vec::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"portused" => {
                let a = attributes(&e);
                let port = if a["proto"] == "udp" { "*".to_owned() } else { a["portid"].clone() };
                used.push((a["state"].clone(), a["proto"].clone(), port));
            }
            _ => {}
        }
    }
    used
}

/// `-O` after a FIN or an ACK scan, where no port is known open and after
/// -sA none closed: OS detection still runs, probing an unfiltered port
/// as the closed one as nmap does, and names the same ports used.
#[test]
fn os_detection_after_fin_and_ack_scans_uses_the_ports_nmap_uses() {
    if !nmap_present() || !common::nmap_db_present() {
        return;
    }
    let Some((lab, ip)) = linux_lab(linux_target()) else { return };
    let dir = scratch("os");
    for scan in ["-sF", "-sA"] {
        let (ours, theirs) = (dir.join(format!("{scan}.scry.xml")), dir.join(format!("{scan}.nmap.xml")));
        let args = [scan, "-O", "-n", "-p", "22,23,80,81", &ip];
        let scry = run(lab.scanner(), common::SCRY, &args, &ours);
        run(lab.scanner(), "nmap", &args, &theirs);
        assert_valid_xml(&ours);
        let (a, b) = (read(&ours), read(&theirs));
        assert_eq!(facts(&a), facts(&b), "{scan}: {}", text(&scry));
        assert!(a.contains("<os>"), "{scan}: {a}");
        assert_eq!(ports_used(&a), ports_used(&b), "{scan}:\n{a}\n{b}");
        // An unfiltered port stands in for the closed one but, as in nmap, is not named.
        let tcp: Vec<String> =
            ports_used(&a).into_iter().filter(|(_, proto, _)| proto == "tcp").map(|(_, _, p)| p).collect();
        assert_eq!(tcp, if scan == "-sF" { vec!["23".to_owned()] } else { Vec::new() }, "{scan}: {a}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `-sV` after a FIN scan probes the open|filtered ports as nmap does: a
/// port that takes the connection is open (`tcp-response`), a dropped one
/// stays open|filtered; every port's state and service equal nmap's.
#[test]
fn version_detection_after_a_fin_scan_equals_nmap() {
    use common::services::{nmap_datadir, ports};
    if !nmap_present() {
        return;
    }
    let Some((lab, ip)) = linux_lab(linux_target()) else { return };
    let dir = nmap_datadir("scantypes-version");
    let (ours, theirs) = (dir.join("scry.xml"), dir.join("nmap.xml"));
    let list = "22,23,80,81";
    let scry = run(lab.scanner(), common::SCRY, &["-sF", "-sV", "-n", "-p", list, &ip], &ours);
    let datadir = dir.to_str().unwrap();
    let nmap =
        run(lab.scanner(), "nmap", &["-sF", "-sV", "-n", "--datadir", datadir, "-p", list, &ip], &theirs);
    assert_valid_xml(&ours);
    let (a, b) = (read(&ours), read(&theirs));
    let what = format!("scry:\n{}\nnmap:\n{}", text(&scry), text(&nmap));
    assert_eq!(facts(&a).ports, facts(&b).ports, "{what}");
    assert_eq!(ports(&a), ports(&b), "{what}");
    let f = facts(&a);
    assert_eq!(f.ports[&("tcp".to_owned(), 22)].0, "open", "{what}");
    assert_eq!(f.ports[&("tcp".to_owned(), 22)].1, "tcp-response", "{what}");
    assert_eq!(f.ports[&("tcp".to_owned(), 81)].0, "open|filtered", "{what}");
    let _ = std::fs::remove_dir_all(&dir);
}
