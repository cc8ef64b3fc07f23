//! `scry --os-match`: a fingerprint nmap 7.93 printed, matched against the
//! same database, gives exactly the guesses nmap printed. Sends nothing.

mod common;

use common::{nmap_db_present, NMAP_DB, SCRY};
use std::process::Command;

const FIXTURE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../scry-os/tests/fixtures/localhost-nmap-7.93.txt");

fn scry(args: &[&str], stdin: &str) -> (i32, String, String) {
    common::run_with_input(Command::new(SCRY).args(args), stdin)
}

#[test]
fn guesses_equal_what_nmap_printed() {
    if !nmap_db_present() {
        return;
    }
    let fixture = std::fs::read_to_string(FIXTURE).unwrap();
    let nmap_line = fixture.lines().find(|l| l.starts_with("Aggressive OS guesses:")).unwrap();
    let (code, out, err) = scry(&["--os-match", FIXTURE, "--os-db", NMAP_DB, "--osscan-guess"], "");
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], nmap_line);
    assert!(lines[1].starts_with("No exact OS matches for host"), "{out}");
}

#[test]
fn json_from_stdin() {
    if !nmap_db_present() {
        return;
    }
    let fixture = std::fs::read_to_string(FIXTURE).unwrap();
    let (code, out, err) = scry(&["--os-match", "-", "--os-db", NMAP_DB, "-oJ", "-"], &fixture);
    assert_eq!(code, 0, "{err}");
    let record: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(record["type"], "os");
    let first = &record["matches"][0];
    assert_eq!((first["name"].as_str(), first["accuracy"].as_u64()), (Some("Linux 5.0 - 5.2"), Some(97)));
    assert_eq!(first["classes"][0]["family"], "Linux");
    assert!(first["cpe"][0].as_str().unwrap().starts_with("cpe:/o:linux:linux_kernel"), "{first}");
    assert_eq!(record["matches"].as_array().unwrap().len(), 10);
}

#[test]
fn garbage_is_a_usage_error() {
    let (code, _, err) = scry(&["--os-match", "-"], "bogus\n");
    assert_eq!(code, 2);
    assert!(err.contains("-: no fingerprint found"), "{err}");
    let (code, _, err) = scry(&["--os-match", "-"], "T1(R=Y%DF\n");
    assert_eq!(code, 2);
    assert!(err.contains("T1(R=Y%DF"), "{err}");
}
