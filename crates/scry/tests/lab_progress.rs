//! Progress on stderr: plain `Stats:` lines with `--stats-every` when stderr
//! is not a terminal, a live status line on a terminal (a pty from
//! `script`), nothing with `-q`; and the final statistics of `-v`.

mod common;

use common::{scan, SCRY};
use scry_lab::{lab_or_skip, Lab, TargetSpec};

const OPEN: &[u16] = &[22, 80, 443];

fn lab() -> Option<Lab> {
    scry_lab::require_lab(Lab::builder().target(TargetSpec::new().tcp_listen(OPEN)).build())
}

#[test]
fn stats_lines_and_final_statistics() {
    let Some(lab) = lab() else { return };
    let normal = std::env::temp_dir().join(format!("scry-test-{}-progress.txt", std::process::id()));
    let args =
        ["-p", "1-2000", "--rate", "4000", "--stats-every", "100ms", "-v", "-oN", normal.to_str().unwrap()];
    let out = scan(lab.scanner(), &[&args[..], &["198.18.0.10"]].concat());
    let text = std::fs::read_to_string(&normal).unwrap();
    std::fs::remove_file(&normal).unwrap();

    let stats: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("Stats: ")).collect();
    // The one-second wait after the last probe alone spans ten intervals.
    assert!(stats.len() >= 2, "{}", out.stderr);
    for line in &stats[..stats.len() - 1] {
        assert!(line.contains("% done, ") && line.contains("/2000 probes, "), "{line}");
        assert!(line.contains(" pps now (") && line.contains(" open found"), "{line}");
    }
    let last = stats.last().unwrap();
    let sent = out.stat("sent");
    let middle = format!(" elapsed; finished, {sent} probes sent in all (2000 in the first pass), ");
    assert!(last.contains(&middle) && last.ends_with(" pps average, 3 open found"), "{last}");

    // -v: the final statistics close the normal output, from the same counters as the JSON.
    let lines: Vec<&str> = text.lines().collect();
    let n = lines.len();
    assert!(lines[n - 3].starts_with("scry done: 1 IP address (1 host up) scanned in "), "{text}");
    let packets = format!(
        "           Raw packets sent: {sent} ({} send errors) | Rcvd: {} valid, {} rejected, {} duplicates",
        out.stat("send_errors"),
        out.stat("received"),
        out.stat("rejected"),
        out.stat("duplicates")
    );
    assert_eq!(lines[n - 2], packets);
    let drops = format!(
        "           Dropped by libpcap: {} (by the interface: {})",
        out.stat("capture_dropped"),
        out.stat("interface_dropped")
    );
    assert_eq!(lines[n - 1], drops);
    let answers = out.stat("received") - out.stat("duplicates");
    assert_eq!(answers, 2000, "every port of the lab host answers once");
}

#[test]
fn quiet_silences_progress() {
    let Some(lab) = lab() else { return };
    let out = scan(
        lab.scanner(),
        &["-q", "--stats-every", "100ms", "-p", "1-2000", "--rate", "4000", "198.18.0.10"],
    );
    assert_eq!(out.stderr, "");
    assert_eq!(out.stat("sent"), 2000);
}

#[test]
fn live_status_line_on_a_terminal() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(OPEN)));
    // `script` runs scry on a pty, as a person at a terminal would; wide
    // enough for the whole line (the message is cut to the width).
    let command = format!("stty rows 24 cols 200 && {SCRY} -p 1-3000 --rate 3000 --no-os-guess 198.18.0.10");
    let out = lab.scanner().command("script").args(["-qec", &command, "/dev/null"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(screen.contains("] 100.00% done, 3000/3000 probes, "), "{screen}");
    assert!(screen.contains(" 3 open found"), "{screen}");
    // The line is erased before the report, which comes whole.
    let report = screen.split("\x1b[2K").last().unwrap();
    let report = report.trim_start_matches(|c: char| c != 's');
    let expected = "scry scan report for 198.18.0.10\r\nHost is up, received arp-response.\r\n\
                    Not shown: 2997 closed tcp ports (reset)\r\nPORT    STATE SERVICE\r\n22/tcp  open  ssh\r\n\
                    80/tcp  open  http\r\n443/tcp open  https\r\n\r\nscry done: 1 IP address (1 host up) scanned in ";
    assert!(report.starts_with(expected), "{report:?}");
}

/// The probes of a `Stats:` line while the first pass runs, and its current pps.
fn probes_and_rate(line: &str) -> Option<(u64, u64, f64)> {
    let (_, rest) = line.split_once("% done, ")?;
    let (sent, rest) = rest.split_once('/')?;
    let (total, rest) = rest.split_once(" probes, ")?;
    let (pps, _) = rest.split_once(" pps now")?;
    Some((sent.parse().ok()?, total.parse().ok()?, pps.parse().ok()?))
}

/// Regression: the probe count in progress lines stayed at 0 until a phase
/// ended, because the senders' counts reached the shared counters only then.
#[test]
fn stats_lines_count_probes_while_they_are_sent() {
    let Some(lab) = lab() else { return };
    // Five seconds of sending at 2000 pps: four lines before the last probe.
    let args = ["-p", "1-10000", "--rate", "2000", "--retries", "0", "--stats-every", "1s", "198.18.0.10"];
    let out = scan(lab.scanner(), &args);
    let stats: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("Stats: ")).collect();
    let sending: Vec<(u64, u64, f64)> =
        stats.iter().filter_map(|l| probes_and_rate(l)).filter(|(sent, ..)| *sent < 10_000).collect();
    assert!(sending.len() >= 3, "{}", out.stderr);
    for pair in sending.windows(2) {
        assert!(pair[0].0 < pair[1].0, "probe counts must grow: {}", out.stderr);
        assert_eq!(pair[1].1, 10_000, "{}", out.stderr);
    }
    let (_, _, pps) = sending[sending.len() / 2];
    assert!(
        (1600.0..=2400.0).contains(&pps),
        "middle line's rate {pps} not within 20% of 2000: {}",
        out.stderr
    );
    let sent = out.stat("sent");
    assert_eq!(sent, 10_000);
    let last = stats.last().unwrap();
    assert!(
        last.contains(&format!("finished, {sent} probes sent in all (10000 in the first pass)")),
        "{last}"
    );
}

/// Without `--rate` the rate adapts: every progress line while probes go
/// out shows it, `-v` adds why it last changed, and the last line its peak.
/// A fixed `--rate` shows none of this.
#[test]
fn stats_lines_show_the_adaptive_rate_and_with_v_why() {
    let Some(lab) = lab() else { return };
    for verbose in [false, true] {
        let mut args = vec!["-p", "1-30000", "--stats-every", "20ms", "198.18.0.10"];
        if verbose {
            args.insert(0, "-v");
        }
        let out = scan(lab.scanner(), &args);
        let stats: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("Stats: ")).collect();
        let (last, running) = stats.split_last().expect("Stats lines");
        assert!(!running.is_empty(), "{}", out.stderr);
        for line in running {
            let (_, rest) = line.split_once(", rate ").unwrap_or_else(|| panic!("no rate: {line}"));
            let (rate, after) = rest.split_once(" pps").unwrap();
            let rate: f64 = rate.parse().unwrap();
            assert!((100.0..=1_000_000.0).contains(&rate), "{line}");
            let why = after.starts_with(" (up: ") || after.starts_with(" (down: ");
            assert!(!why || verbose, "a reason without -v: {line}");
        }
        if verbose {
            assert!(running.iter().any(|l| l.contains(" pps (up: ")), "{}", out.stderr);
        }
        assert!(last.contains(", 3 open found, adaptive rate peaked at "), "{last}");
    }
    let fixed = scan(
        lab.scanner(),
        &["-v", "-p", "1-2000", "--rate", "4000", "--stats-every", "20ms", "198.18.0.10"],
    );
    assert!(!fixed.stderr.contains(", rate ") && !fixed.stderr.contains("peaked"), "{}", fixed.stderr);
}
