//! Stopping early: a scan stopped by SIGINT (or SIGTERM) exits 0 and leaves
//! complete output with everything found before the stop, and a resume file
//! from which `scry --resume` finishes the scan without repeating a probe;
//! one whose output pipe closes stops too.

mod common;

use common::{spawn_piped, Scan, SCRY};
use scry_lab::{lab_or_skip, Lab, Node, Personality, TargetSpec};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::process::ChildStdout;
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
    let normal = temp_path(&format!("interrupted-{signal}.txt"));
    let resume = temp_path(&format!("interrupted-{signal}.resume"));
    // 65535 probes at 2000 per second: half a minute unless stopped.
    let args = [
        "-p-",
        "--rate",
        "2000",
        "--seed",
        "77",
        "-oN",
        normal.to_str().unwrap(),
        "--resume-file",
        resume.to_str().unwrap(),
        &target.to_string(),
    ];
    let out = interrupt_after_answers(lab.scanner(), &args, signal);
    let text = std::fs::read_to_string(&normal).unwrap();
    std::fs::remove_file(&normal).unwrap();
    let resume_text = std::fs::read_to_string(&resume).unwrap();
    std::fs::remove_file(&resume).unwrap();

    assert!(out.status.success(), "{}: {}", out.status, out.stderr);
    let hint = format!("scry: stopped; continue with: scry --resume {}", resume.display());
    assert!(out.stderr.contains(&hint), "{}", out.stderr);
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
    // Each probe of a lossless first pass went out once, so the resume
    // position is exactly the number sent.
    let resume_lines: Vec<&str> = resume_text.lines().collect();
    assert_eq!(
        resume_lines[1..4],
        ["seed = 77".to_owned(), "phase = 1".to_owned(), format!("position = {sent}")],
        "{resume_text}"
    );
    assert!(resume_lines[4].starts_with("args = [\"-p-\","), "{resume_text}");

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

/// `-sS -sU`, SIGINT during the SYN phase: the UDP phase never starts (no
/// UDP probe, no UDP port) and the resume file points into the SYN phase.
/// The resumed run sends the SYN probes not yet sent, then the whole UDP
/// phase; the two runs together report what one uninterrupted run does.
#[test]
fn stop_in_the_syn_phase_then_resume_finishes_it_and_runs_the_udp_phase() {
    const TCP: u64 = 3000;
    const UDP: u64 = 100;
    let lab = lab_or_skip!(Lab::builder().target(every_closed_udp_port_answers().tcp_listen(OPEN)));
    let target = lab.targets()[0].ipv4().to_string();
    let normal = temp_path("both-syn.txt");
    let resume = temp_path("both-syn.resume");
    let scan = ["-sS", "-sU", "-p", "T:1-3000,U:14001-14100", "--rate", "500", "--seed", "9"];
    let files = ["-oN", normal.to_str().unwrap(), "--resume-file", resume.to_str().unwrap()];
    let args: Vec<&str> = scan.iter().chain(&files).copied().chain([target.as_str()]).collect();

    let first = interrupt_after_answers(lab.scanner(), &args, libc::SIGINT);
    let text = std::fs::read_to_string(&normal).unwrap();
    assert_eq!(protocols(&first), ["tcp"].into());
    assert!(!text.contains("/udp"), "{text}");
    let position = first.stat("sent");
    assert!(position < TCP, "the SYN phase was not cut short: {}", first.stats());
    assert_stopped_at(&first, &resume, ("9", 1, position));

    let second = resume_scan(&lab, &resume);
    std::fs::remove_file(&normal).unwrap();
    assert_sent_only_the_rest(&second, TCP - position + UDP);
    assert_eq!(protocols(&second), ["tcp", "udp"].into());

    let whole = common::scan(lab.scanner(), &[&scan[..], &[target.as_str()]].concat());
    assert_union_is_whole(&first, &second, &whole, TCP + UDP);
}

/// `-sS -sU`, SIGINT during the UDP phase: the resume file names the UDP
/// phase, and the resumed run sends no SYN probe at all, only the UDP
/// probes the first run never sent; the two runs together report what one
/// uninterrupted run does.
#[test]
fn stop_in_the_udp_phase_then_resume_skips_the_finished_syn_phase() {
    const TCP: u64 = 500;
    const UDP: u64 = 2000;
    let lab = lab_or_skip!(Lab::builder().target(every_closed_udp_port_answers().tcp_listen(OPEN)));
    let target = lab.targets()[0].ipv4().to_string();
    let resume = temp_path("both-udp.resume");
    let scan = ["-sS", "-sU", "-p", "T:1-500,U:14001-16000", "--rate", "500", "--seed", "11"];
    let args: Vec<&str> =
        scan.iter().copied().chain(["--resume-file", resume.to_str().unwrap(), target.as_str()]).collect();

    let first = interrupt_when(lab.scanner(), &args, libc::SIGINT, |stdout| {
        let mut seen = String::new();
        let mut udp = 0;
        while udp < ANSWERS_BEFORE_STOP {
            let mut line = String::new();
            assert!(stdout.read_line(&mut line).unwrap() > 0, "scry ended after {udp} UDP answers: {seen}");
            udp += usize::from(line.contains("\"type\":\"port\"") && line.contains("\"proto\":\"udp\""));
            seen += &line;
        }
        seen
    });
    // Every TCP port answered once, so the SYN phase sent one probe each.
    let tcp = first.records_of("port").filter(|r| r["proto"] == "tcp").count() as u64;
    assert_eq!(tcp, TCP, "{}", first.stdout);
    // The resume position is where the UDP walk stopped: every probe the
    // scan sent beyond the TCP ports, less any retransmission a loaded
    // machine made (a reply later than its retry interval).
    let position = resume_position(&resume);
    assert!(position <= first.stat("sent") - TCP, "{}", first.stats());
    assert!(first.stat("sent") - TCP - position <= 10, "{}", first.stats());
    assert!(position < UDP, "the UDP phase was not cut short: {}", first.stats());
    assert_stopped_at(&first, &resume, ("11", 2, position));

    let second = resume_scan(&lab, &resume);
    assert_eq!(second.stat("sent"), UDP - position, "only the UDP probes not yet sent: {}", second.stats());
    assert_eq!(protocols(&second), ["udp"].into());

    let whole = common::scan(lab.scanner(), &[&scan[..], &[target.as_str()]].concat());
    assert_union_is_whole(&first, &second, &whole, TCP + UDP);
}

/// `-sS -sU` killed outright (SIGKILL, no last checkpoint) early in its UDP
/// phase: the SYN phase, long enough to have written a checkpoint, moved
/// the resume file on to the UDP phase as it started, so the resumed run
/// sends no SYN probe and the whole UDP walk.
#[test]
fn killed_in_the_udp_phase_resumes_it_not_the_finished_syn_phase() {
    const UDP: u64 = 400;
    let lab = lab_or_skip!(Lab::builder().target(every_closed_udp_port_answers().tcp_listen(OPEN)));
    let target = lab.targets()[0].ipv4().to_string();
    let resume = temp_path("both-killed.resume");
    // 2300 SYN probes at 200 per second: past the first 10 s checkpoint.
    let args =
        ["-sS", "-sU", "-p", "T:1-2300,U:14001-14400", "--rate", "200", "--seed", "13", "--resume-file"];
    let args: Vec<&str> = args.iter().copied().chain([resume.to_str().unwrap(), target.as_str()]).collect();
    let first = interrupt_when(lab.scanner(), &args, libc::SIGKILL, |stdout| {
        let mut seen = String::new();
        while !seen.lines().any(|l| l.contains("\"type\":\"port\"") && l.contains("\"proto\":\"udp\"")) {
            assert!(stdout.read_line(&mut seen).unwrap() > 0, "scry ended before a UDP answer: {seen}");
        }
        seen
    });
    assert!(!first.status.success(), "scry outlived SIGKILL: {}", first.stderr);
    let text = std::fs::read_to_string(&resume).unwrap();
    assert_eq!(text.lines().collect::<Vec<_>>()[1..4], ["seed = 13", "phase = 2", "position = 0"], "{text}");

    let second = resume_scan(&lab, &resume);
    assert_eq!(second.stat("sent"), UDP, "{}", second.stats());
    assert_eq!(protocols(&second), ["udp"].into());
}

/// A target whose kernel answers every closed UDP port (no ICMP rate
/// limit), so that UDP states do not depend on timing. The tests' UDP ports
/// (14001-16000) are ones nmap-payloads has no payload for: a port with
/// several payloads gets one probe each, which would muddy the count of
/// probes sent that proves no probe of the finished part went out again.
fn every_closed_udp_port_answers() -> TargetSpec {
    TargetSpec::new().personality(Personality { icmp_ratelimit: Some(0), ..Personality::default() })
}

/// The `position` a resume file records.
fn resume_position(resume: &std::path::Path) -> u64 {
    let text = std::fs::read_to_string(resume).unwrap();
    let line = text.lines().find_map(|l| l.strip_prefix("position = ")).unwrap_or_else(|| panic!("{text}"));
    line.parse().unwrap()
}

/// `first` was stopped and exited cleanly, its resume file recording
/// `(seed, phase, position)`.
fn assert_stopped_at(first: &Scan, resume: &std::path::Path, (seed, phase, position): (&str, u32, u64)) {
    assert!(first.status.success(), "{}: {}", first.status, first.stderr);
    let hint = format!("scry: stopped; continue with: scry --resume {}", resume.display());
    assert!(first.stderr.contains(&hint), "{}", first.stderr);
    first.check_stream();
    assert_eq!(first.stats()["interrupted"], true, "{}", first.stats());
    let text = std::fs::read_to_string(resume).unwrap();
    assert_eq!(
        text.lines().collect::<Vec<_>>()[1..4],
        [format!("seed = {seed}"), format!("phase = {phase}"), format!("position = {position}")],
        "{text}"
    );
}

/// `scry --resume FILE`, which must complete the scan and remove the file.
fn resume_scan(lab: &Lab, resume: &std::path::Path) -> Scan {
    let output = lab.scanner().command(SCRY).arg("--resume").arg(resume).output().unwrap();
    let scan = Scan::from_output(output.status, &output.stdout, &output.stderr);
    assert!(scan.status.success(), "{}", scan.stderr);
    scan.check_stream();
    assert_eq!(scan.stats()["interrupted"], false);
    assert!(!resume.exists(), "a completed scan leaves no resume file");
    scan
}

/// The protocols of a run's port records.
fn protocols(scan: &Scan) -> BTreeSet<&str> {
    scan.records_of("port").map(|r| r["proto"].as_str().unwrap()).collect()
}

/// Each answered (protocol, port) of a run, with its final state.
fn states(scan: &Scan) -> BTreeMap<(String, u64), String> {
    scan.records_of("port")
        .map(|r| {
            let key = (r["proto"].as_str().unwrap().to_owned(), r["port"].as_u64().unwrap());
            (key, r["state"].as_str().unwrap().to_owned())
        })
        .collect()
}

/// No port answered in both runs, and together they report exactly the
/// `pairs` ports, protocols and states of the uninterrupted run.
fn assert_union_is_whole(first: &Scan, second: &Scan, whole: &Scan, pairs: u64) {
    let (before, after) = (states(first), states(second));
    assert!(before.keys().all(|k| !after.contains_key(k)), "a port was probed twice");
    let mut union = before;
    union.extend(after);
    let whole = states(whole);
    assert_eq!(union, whole);
    assert_eq!(union.len() as u64, pairs);
    for ((proto, port), state) in &union {
        let open = proto == "tcp" && OPEN.iter().any(|p| u64::from(*p) == *port);
        assert_eq!(state, if open { "open" } else { "closed" }, "{proto}/{port}");
    }
}

/// Runs scry with `args`, waits for [`ANSWERS_BEFORE_STOP`] port records,
/// sends `signal`, and returns the finished run.
fn interrupt_after_answers(node: &Node, args: &[&str], signal: libc::c_int) -> Scan {
    interrupt_when(node, args, signal, |stdout| common::read_answers(stdout, ANSWERS_BEFORE_STOP))
}

/// Runs scry with `args`, sends `signal` once `wait` has read what it waits
/// for, and returns the finished run.
fn interrupt_when(
    node: &Node,
    args: &[&str],
    signal: libc::c_int,
    wait: impl FnOnce(&mut BufReader<ChildStdout>) -> String,
) -> Scan {
    let (mut child, mut stdout) = spawn_piped(node, args);
    // Wait for some answers: by then the Ctrl-C handler is installed and the
    // scan is under way. `ip netns exec` execs scry, so the pid is scry's.
    let mut seen = wait(&mut stdout);
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    stdout.read_to_string(&mut seen).unwrap();
    let mut stderr = Vec::new();
    child.stderr.take().unwrap().read_to_end(&mut stderr).unwrap();
    let status = child.wait().unwrap();
    Scan::from_output(status, seen.as_bytes(), &stderr)
}

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("scry-test-{}-{name}", std::process::id()))
}

/// The resume check: a scan killed midway and resumed reports, in
/// its two runs together, exactly what an uninterrupted run reports, and the
/// resumed run sends only the probes the first never sent.
#[test]
fn resumed_scan_completes_the_interrupted_one() {
    const PORTS: &str = "1-4000";
    const PAIRS: u64 = 4000;
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(&[22, 80, 443, 1500, 3999])));
    let target = lab.targets()[0].ipv4().to_string();
    let resume = temp_path("resumed.resume");
    let args = ["-p", PORTS, "--rate", "2000", "--resume-file", resume.to_str().unwrap(), &target];

    let first = interrupt_after_answers(lab.scanner(), &args, libc::SIGINT);
    assert!(first.status.success(), "{}", first.stderr);
    let position = first.stat("sent");
    assert!(position < PAIRS, "not interrupted: {}", first.stats());
    let second = {
        let output = lab.scanner().command(SCRY).arg("--resume").arg(&resume).output().unwrap();
        Scan::from_output(output.status, &output.stdout, &output.stderr)
    };
    assert!(second.status.success(), "{}", second.stderr);
    assert_eq!(second.stats()["interrupted"], false);
    assert_sent_only_the_rest(&second, PAIRS - position);
    assert!(!resume.exists(), "a completed scan leaves no resume file");

    let whole = common::scan(lab.scanner(), &["-p", PORTS, &target]);
    let (before, after) = (first.ports(), second.ports());
    assert!(before.keys().all(|k| !after.contains_key(k)), "a port was probed twice");
    let mut union = before;
    union.extend(after);
    assert_eq!(union, whole.ports());
    assert_eq!(union.len() as u64, PAIRS);
}

/// How long a scry whose output reader went away may take to notice before
/// the test calls it hung: far longer than the whole scan needs.
const HANG: Duration = Duration::from_secs(30);

/// Regression: when writing a result failed (here: `scry ... | head -1`, a
/// broken pipe), the main thread returned while the receiver thread waited
/// forever for the end-of-scan signal, so scry hung (even SIGTERM could not
/// end it). It must stop and exit 0, as a broken pipe is a clean exit, and
/// still complete its other outputs.
#[test]
fn closed_stdout_ends_the_scan() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(OPEN)));
    let target = lab.targets()[0].ipv4().to_string();
    let grepable = temp_path("closed-stdout.gnmap");
    let args = ["-p", "1-3000", "--rate", "3000", "-oG", grepable.to_str().unwrap(), &target];
    let (mut child, mut stdout) = spawn_piped(lab.scanner(), &args);
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
    // The other outputs are still completed: the host line and the closing comment.
    let text = std::fs::read_to_string(&grepable).unwrap();
    std::fs::remove_file(&grepable).unwrap();
    // Replies to the probes in flight had the cooldown to arrive: nothing
    // is filtered on this target.
    assert!(text.contains(&format!("Host: {target} ()\tPorts: ")), "{text}");
    assert!(!text.contains("/filtered/"), "{text}");
    assert!(text.lines().last().unwrap().starts_with("# scry done at "), "{text}");
}

/// `-sV`: SIGINT while a silent service is being probed ends the version
/// scan; the report, the finished service and the interrupted one are
/// written, and scry exits 0.
#[test]
fn sigint_during_version_detection_writes_what_was_found() {
    const WRAPPED: u16 = 22;
    const SILENT: u16 = 7000;
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(&[WRAPPED])));
    let target = &lab.targets()[0];
    let ip = target.ipv4();
    // Listens but never accepts: connections complete in the kernel's
    // backlog and no byte ever comes, so nmap's probes would take minutes.
    let _silent = target.run(move || std::net::TcpListener::bind((ip, SILENT))).unwrap().unwrap();
    let ports = format!("{WRAPPED},{SILENT}");
    let args = ["-sV", "-p", &ports, &ip.to_string()];
    let out = interrupt_when(lab.scanner(), &args, libc::SIGINT, |stdout| {
        let seen = common::read_answers(stdout, 2);
        // Well inside the silent service's first probe (6 s).
        std::thread::sleep(Duration::from_secs(2));
        seen
    });
    assert!(out.status.success(), "{}: {}", out.status, out.stderr);
    assert_eq!(out.stats()["interrupted"], true, "{}", out.stats());
    let service = |port: u16| {
        out.records_of("service")
            .find(|r| r["port"] == port)
            .unwrap_or_else(|| panic!("no service {port}"))
            .clone()
    };
    assert_eq!(service(WRAPPED)["name"], "tcpwrapped");
    assert_eq!(service(WRAPPED)["outcome"], "tcpwrapped");
    assert_eq!(service(SILENT)["outcome"], "incomplete");
    assert_eq!(service(SILENT)["method"], "table");
}

/// `-sV`, SIGINT after the port scan while one service is still being
/// probed: the resume file keeps the port scan's end and the one
/// unversioned port; `scry --resume` sends no probe, does not connect to
/// the service already versioned, versions the rest (here a service that
/// has meanwhile started to greet), and removes the file.
#[test]
fn stop_in_the_version_phase_then_resume_versions_only_the_rest() {
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    const WRAPPED: u16 = 2200;
    const SLOW: u16 = 7000;
    const GREETING: &[u8] = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new()));
    let target = &lab.targets()[0];
    let ip = target.ipv4();
    let bind = |port: u16| target.run(move || std::net::TcpListener::bind((ip, port))).unwrap().unwrap();
    // Accepts and closes (tcpwrapped), counting the connections.
    let wrapped = bind(WRAPPED);
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    std::thread::spawn(move || {
        for conn in wrapped.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(conn);
        }
    });
    // Listens but never accepts: its first probe waits 6 s.
    let silent = bind(SLOW);
    let resume = temp_path("version-phase.resume");
    let ports = format!("{WRAPPED},{SLOW}");
    let args =
        ["-sV", "-p", &ports, "--seed", "5", "--resume-file", resume.to_str().unwrap(), &ip.to_string()];
    let first = interrupt_when(lab.scanner(), &args, libc::SIGINT, |stdout| {
        let seen = common::read_answers(stdout, 2);
        std::thread::sleep(Duration::from_secs(2));
        seen
    });
    // The walk's end (2 pairs): the port scan is done.
    assert_stopped_at(&first, &resume, ("5", 1, 2));
    let text = std::fs::read_to_string(&resume).unwrap();
    assert!(text.ends_with(&format!("versions = [[\"{ip}\",\"tcp\",{SLOW}]]\n")), "{text}");
    let service = |scan: &Scan, port: u16| scan.records_of("service").find(|r| r["port"] == port).cloned();
    assert_eq!(service(&first, WRAPPED).unwrap()["outcome"], "tcpwrapped");
    assert_eq!(service(&first, SLOW).unwrap()["outcome"], "incomplete");
    let wrapped_connections = accepted.load(Ordering::SeqCst);
    assert!(wrapped_connections >= 1);

    // The service now greets as OpenSSH does.
    drop(silent);
    let greeter = bind(SLOW);
    std::thread::spawn(move || {
        for mut conn in greeter.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = conn.write_all(GREETING);
                let _ = std::io::copy(&mut conn, &mut std::io::sink());
            });
        }
    });
    let second = resume_scan(&lab, &resume);
    assert_eq!(second.stat("sent"), 0, "the port scan ran again: {}", second.stats());
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        wrapped_connections,
        "the versioned service was probed again"
    );
    assert!(service(&second, WRAPPED).is_none(), "{}", second.stdout);
    let ssh = service(&second, SLOW).unwrap_or_else(|| panic!("no service {SLOW}: {}", second.stdout));
    assert_eq!(
        (ssh["name"].as_str(), ssh["product"].as_str(), ssh["version"].as_str()),
        (Some("ssh"), Some("OpenSSH"), Some("9.2p1 Debian 2+deb12u3")),
        "{ssh}"
    );
}

/// A resumed TCP scan sent the `rest` probes the stopped one had not, never
/// the stopped one's again. A few resends of pairs whose answers came after
/// the retry timeout on a busy machine are allowed (seen: 3 of 3049 with
/// every probe answered).
fn assert_sent_only_the_rest(resumed: &Scan, rest: u64) {
    let sent = resumed.stat("sent");
    assert!((rest..=rest + 10).contains(&sent), "only the {rest} probes not yet sent: {}", resumed.stats());
}
