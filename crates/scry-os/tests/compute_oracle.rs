//! nmap 7.93 as the oracle for scry's fingerprint computation.
//!
//! nmap's own exchange with a target (its probes and the target's replies,
//! captured with tcpdump in the lab's scanner namespace) is fed to
//! `scry_os::compute`, and the result must equal the fingerprint nmap
//! printed for that exchange on every test that does not depend on timing:
//! everything but `SEQ`'s `SP` and `ISR` (which depend on when nmap's clock
//! says it sent each probe; the capture's clock differs by microseconds).
//!
//! * [`captured_exchanges_compute_like_nmap`]: committed captures
//!   (`tests/fixtures/os-exchange/`), no root needed.
//! * [`lab_personalities_compute_like_nmap`]: a fresh capture of nmap
//!   against every lab personality of `lab_oracle.rs`; skipped without
//!   root or nmap, except under `CI=true`.

// Shared with lab_oracle.rs, which uses the rest of it.
#[allow(dead_code)]
mod oracle;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use scry_lab::lab_or_skip;
use scry_os::compute::compute;
use scry_os::{SubjectFingerprint, SubjectTest};

/// SEQ attributes that depend on the send clock.
const TIMING: [&str; 2] = ["SP", "ISR"];

/// The tests of `fp` without SCAN and without timing-dependent attributes.
fn comparable(fp: &SubjectFingerprint) -> Vec<SubjectTest> {
    fp.tests
        .iter()
        .map(|t| {
            let attrs = t.attrs.iter().filter(|(a, _)| !(t.name == "SEQ" && TIMING.contains(&a.as_str())));
            SubjectTest { name: t.name.clone(), attrs: attrs.cloned().collect() }
        })
        .collect()
}

/// Differences between nmap's and scry's fingerprints, one line each.
fn differences(nmap: &SubjectFingerprint, scry: &SubjectFingerprint) -> Vec<String> {
    let (ours, theirs) = (comparable(scry), comparable(nmap));
    let mut out = Vec::new();
    for t in &theirs {
        match ours.iter().find(|o| o.name == t.name) {
            None => out.push(format!("{}: nmap has it, scry does not", t)),
            Some(o) if o != t => out.push(format!("nmap {t}\n     scry {o}")),
            Some(_) => {}
        }
    }
    for o in ours.iter().filter(|o| !theirs.iter().any(|t| t.name == o.name)) {
        out.push(format!("{o}: scry has it, nmap does not"));
    }
    let names = |v: &[SubjectTest]| v.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
    if out.is_empty() && names(&ours) != names(&theirs) {
        out.push(format!("order: nmap {:?}, scry {:?}", names(&theirs), names(&ours)));
    }
    out
}

fn check(pcap: &Path, target: Ipv4Addr, nmap_text: &str) -> Vec<String> {
    let nmap = SubjectFingerprint::parse(nmap_text).unwrap_or_else(|e| panic!("{e}\n{nmap_text}"));
    let exchange = oracle::exchange::from_pcap(pcap, target);
    let scry = compute(&exchange).fingerprint;
    let diffs = differences(&nmap, &scry);
    eprintln!(
        "{target} ({}):\nnmap:\n{}scry:\n{}",
        pcap.display(),
        nmap.to_lines(false),
        scry.to_lines(false)
    );
    let names: Vec<&str> = scry.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["SEQ", "OPS", "WIN", "ECN", "T1", "T2", "T3", "T4", "T5", "T6", "T7", "U1", "IE"]);
    diffs.into_iter().map(|d| format!("{target}: {d}")).collect()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/os-exchange").join(name)
}

#[test]
fn captured_exchanges_compute_like_nmap() {
    let mut diffs = Vec::new();
    for (name, target) in [("linux-defaults", 10), ("linux-ttl128-nots-nows", 11)] {
        let text = std::fs::read_to_string(fixture(&format!("{name}.nmap.txt"))).unwrap();
        diffs.extend(check(&fixture(&format!("{name}.pcap")), Ipv4Addr::new(198, 18, 0, target), &text));
    }
    assert!(diffs.is_empty(), "scry computes differently from nmap:\n{}", diffs.join("\n"));
}

/// tcpdump writing the scanner's traffic to `path` until killed.
fn start_tcpdump(lab: &scry_lab::Lab, path: &Path) -> Child {
    let mut cmd = lab.scanner().command("tcpdump");
    // Immediate mode: without it the kernel holds packets back in blocks
    // and those still held when tcpdump stops are lost.
    cmd.args(["-i", scry_lab::IFACE, "--immediate-mode", "-U", "-n", "-w"]).arg(path).arg("ip");
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("run tcpdump");
    // tcpdump says "listening on ..." once its capture is open.
    let mut err = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    std::io::BufRead::read_line(&mut err, &mut line).expect("tcpdump's first line");
    assert!(line.contains("listening"), "tcpdump: {line}");
    child
}

fn stop(mut child: Child) {
    // Let the last replies reach the capture before it ends.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    let _ = child.wait();
}

#[test]
fn lab_personalities_compute_like_nmap() {
    let Some(()) = oracle::nmap_or_skip("lab_personalities_compute_like_nmap") else { return };
    let lab = lab_or_skip!(oracle::lab_builder());
    let dir = std::env::temp_dir().join(format!("scry-os-oracle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("nmap.pcap");
    let tcpdump = start_tcpdump(&lab, &pcap);
    let reports = oracle::nmap::os_scan(&lab, &oracle::system_datadir());
    stop(tcpdump);
    let mut diffs = Vec::new();
    let mut compared = 0;
    for (target, report) in lab.targets().iter().zip(&reports) {
        let Some(text) = report.fingerprint.as_deref() else { continue };
        diffs.extend(check(&pcap, target.ipv4(), text));
        compared += 1;
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(compared, reports.len(), "nmap printed a fingerprint for every target");
    assert!(diffs.is_empty(), "scry computes differently from nmap:\n{}", diffs.join("\n"));
}
