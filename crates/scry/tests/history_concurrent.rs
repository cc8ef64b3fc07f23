//! Scans started together on one history that does not exist yet (as
//! from cron on several targets, or a test suite) all record, and the
//! file stays sound. `--offline` sends nothing: no lab is needed.

mod common;

use common::SCRY;
use std::process::{Command, Stdio};

#[test]
fn scans_started_together_keep_a_sound_history() {
    let dir = std::env::temp_dir().join(format!("scry-history-concurrent-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("history.db");
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(SCRY)
                .args(["--offline", "-p", "1-3000", "--db"])
                .arg(&db)
                .arg("198.18.0.1")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && stderr.is_empty(), "{}: {stderr}", out.status);
    }
    let conn = rusqlite::Connection::open(&db).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    let complete: i64 =
        conn.query_row("SELECT COUNT(*) FROM scans WHERE status = 'complete'", [], |r| r.get(0)).unwrap();
    assert_eq!(complete, 4);
    // The history commands take --db before or after their word.
    for argv in [vec!["--db", db.to_str().unwrap(), "history"], vec!["history", "--db", db.to_str().unwrap()]]
    {
        let out = Command::new(SCRY).args(&argv).output().unwrap();
        let listing = String::from_utf8_lossy(&out.stdout);
        assert_eq!(listing.lines().filter(|l| l.contains(" complete ")).count(), 4, "{argv:?}: {listing}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A default history that cannot be made (here: a home that does not
/// exist) is reported, and the scan still runs and prints its results.
#[test]
fn a_default_history_that_cannot_be_made_does_not_stop_the_scan() {
    let out = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", SCRY])
        .args(["--offline", "-p", "22,80", "-oJ", "-", "198.18.0.1"])
        .env("HOME", "/nonexistent/scry-home")
        .env_remove("XDG_DATA_HOME")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", out.status);
    assert!(
        stderr.contains("scry: not keeping this scan in the history: cannot create /nonexistent/scry-home/.local/share/scry"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.lines().last().is_some_and(|l| l.contains("\"type\":\"stats\"")), "{stdout}");
}
