//! Stopping early: a scan stopped by SIGINT (or SIGTERM) exits 0 and leaves
//! complete output with everything found before the stop; one whose output
//! pipe closes stops too.

mod common;

use common::{spawn_piped, Scan};
use scry_lab::{lab_or_skip, Lab, TargetSpec};
use std::io::{BufRead, Read};
use std::time::{Duration, Instant};

const OPEN: &[u16] = &[22, 80, 443];
/// Port records to read before sending SIGINT.
const ANSWERS_BEFORE_STOP: usize = 50;

#[test]
fn sigint_flushes_results_and_exits_zero() {
    stop_mid_scan(libc::SIGINT);
}

#[test]
fn sigterm_flushes_results_and_exits_zero() {
    stop_mid_scan(libc::SIGTERM);
}

/// Starts a long scan, sends `signal` once answers flow, and checks the output.
fn stop_mid_scan(signal: libc::c_int) {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(OPEN)));
    let target = lab.targets()[0].ipv4();
    let name = format!("scry-test-{}-interrupted-{signal}.txt", std::process::id());
    let normal = std::env::temp_dir().join(name);
    // 65535 probes at 2000 per second: half a minute unless stopped.
    let args = ["-p-", "--rate", "2000", "-oN", normal.to_str().unwrap(), &target.to_string()];
    let (mut child, mut stdout) = spawn_piped(lab.scanner(), &args);

    // Wait for some answers: by then the Ctrl-C handler is installed and the
    // scan is under way. `ip netns exec` execs scry, so the pid is scry's.
    let mut seen = common::read_answers(&mut stdout, ANSWERS_BEFORE_STOP);
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    stdout.read_to_string(&mut seen).unwrap();
    let mut stderr = Vec::new();
    child.stderr.take().unwrap().read_to_end(&mut stderr).unwrap();
    let status = child.wait().unwrap();
    let text = std::fs::read_to_string(&normal).unwrap();
    std::fs::remove_file(&normal).unwrap();

    let out = Scan::from_output(status, seen.as_bytes(), &stderr);
    assert!(out.status.success(), "{}: {}", out.status, out.stderr);
    out.check_stream();
    assert_eq!(out.stats()["interrupted"], true, "{}", out.stats());
    let ports = out.ports();
    assert!(ports.len() >= ANSWERS_BEFORE_STOP);
    for ((ip, port), answer) in &ports {
        assert_eq!(*ip, target);
        let state = if OPEN.contains(port) { "open" } else { "closed" };
        assert_eq!(answer.state, state, "port {port}");
    }
    let sent = out.stat("sent");
    assert!(sent < u64::from(u16::MAX), "the scan was not cut short: {}", out.stats());
    assert!(ports.len() as u64 <= sent);

    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("Starting scry "), "{text}");
    assert!(text.contains(&format!("scry scan report for {target}\n")), "{text}");
    // Regression: ports never probed before the stop were reported as
    // "filtered (no-response)", all 65535 of them accounted for.
    let reported = common::normal_port_count(&text);
    assert!(
        reported >= ports.len() as u64 && reported <= sent,
        "{reported} ports reported, {sent} sent:\n{text}"
    );
    let n = lines.len();
    assert_eq!(
        lines[n - 2],
        "scry was interrupted; results above are those found before the stop.",
        "{text}"
    );
    assert!(lines[n - 1].starts_with("scry done: 1 IP address (1 host up) scanned in "), "{text}");
    assert!(text.ends_with(" seconds\n"), "{text}");
}

/// How long a scry whose output reader went away may take to notice before
/// the test calls it hung: far longer than the whole scan needs.
const HANG: Duration = Duration::from_secs(30);

/// Regression: when writing a result failed (here: `scry ... | head -1`, a
/// broken pipe), the main thread returned while the receiver thread waited
/// forever for the end-of-scan signal, so scry hung (even SIGTERM could not
/// end it). It must stop and exit 0, as a broken pipe is a clean exit.
#[test]
fn closed_stdout_ends_the_scan() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(OPEN)));
    let target = lab.targets()[0].ipv4().to_string();
    let (mut child, mut stdout) = spawn_piped(lab.scanner(), &["-p", "1-3000", "--rate", "3000", &target]);
    // Close the pipe once answers flow, so the failing write is one made
    // while the sender and receiver threads run.
    let mut line = String::new();
    while !line.contains("\"type\":\"port\"") {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "scry ended before any answer");
    }
    drop(stdout);

    let watching = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if watching.elapsed() > HANG {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("scry still running {HANG:?} after its stdout closed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert_eq!(stderr, "");
}
