//! The tools that read nmap's outputs, for the output tests: xmllint with
//! nmap's DTD, python3-libnmap, ndiff. They come from Debian
//! (scripts/install-deps.sh); a missing one fails the test with its package
//! name rather than skipping it.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const DTD: &str = "/usr/share/nmap/nmap.dtd";

/// Runs a tool of Debian package `package`; fails the test when it is missing.
pub fn tool(program: &str, package: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} ({package}, scripts/install-deps.sh): {e}"))
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `xmllint --dtdvalid` against nmap's DTD: succeeds silently.
pub fn assert_valid_xml(path: &Path) {
    let out = tool("xmllint", "libxml2-utils", &["--noout", "--dtdvalid", DTD, path.to_str().unwrap()]);
    assert!(out.status.success(), "{} is not valid nmap XML:\n{}", path.display(), text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
}

/// What python3-libnmap reads from an XML file: per host, address, MAC,
/// status and listed ports `[port, protocol, state, reason, service]`, and
/// the counted ("extraports") states with their counts.
pub fn libnmap(path: &Path) -> Value {
    const SCRIPT: &str = r#"
import json, sys
from libnmap.parser import NmapParser
report = NmapParser.parse_fromfile(sys.argv[1])
print(json.dumps({
    "up": report.hosts_up, "total": report.hosts_total, "scan_type": report.scan_type,
    "hosts": [{
        "address": h.address, "mac": h.mac, "status": h.status,
        "ports": [[s.port, s.protocol, s.state, s.reason, s.service] for s in h.services],
        "open": [p for p, _ in h.get_open_ports()],
        "extraports": [[r["reason"], int(r["count"])] for r in h.extraports_reasons or []],
    } for h in report.hosts],
}))
"#;
    let out = tool("/usr/bin/python3", "python3-libnmap", &["-c", SCRIPT, path.to_str().unwrap()]);
    assert!(out.status.success(), "libnmap could not read {}:\n{}", path.display(), text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}

/// ndiff of two XML files: its exit status and output.
pub fn ndiff(a: &Path, b: &Path) -> (Option<i32>, String) {
    let out = tool("ndiff", "ndiff", &[a.to_str().unwrap(), b.to_str().unwrap()]);
    (out.status.code(), text(&out.stdout))
}

/// A fresh directory for one test's files.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scry-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
