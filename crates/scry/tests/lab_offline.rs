//! `--offline`: every probe is built and counted, none is sent, nothing is
//! listened to, and so no privilege is needed.

mod common;

use common::{Scan, Sniffer, SCRY};
use scry_lab::{lab_or_skip, Lab, TargetSpec};

#[test]
fn offline_builds_every_probe_sends_none_and_needs_no_privilege() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(&[22])));
    let sniffer = Sniffer::start(&lab.targets()[0], "src host 198.18.0.1");
    // As `nobody`, with no capability: a real scan would stop at the raw socket.
    let output = lab
        .scanner()
        .command("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"])
        .arg(SCRY)
        .args(["--offline", "--retries", "0", "-p", "1-1000", "198.18.0.10-11", "-oJ", "-"])
        .output()
        .unwrap();
    let seen = sniffer.finish();
    let out = Scan::from_output(output.status, &output.stdout, &output.stderr);
    assert!(out.status.success(), "{}: {}", out.status, out.stderr);
    assert_eq!(out.stat("sent"), 2000, "{}", out.stats());
    assert_eq!(out.stat("received"), 0);
    assert_eq!(out.ports().len(), 0);
    assert!(seen.is_empty(), "an offline scan reached the target: {seen:#?}");
}

/// Without nmap's data files (a machine without nmap-common), a scan of
/// numbered ports still runs: ports are named "unknown", UDP probes carry
/// the built-in payloads, and stderr says what is missing and where scry
/// looked.
#[test]
fn scans_numbered_ports_without_nmaps_data_files() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(&[22])));
    let dir = std::env::temp_dir().join(format!("scry-offline-no-nmap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| {
        let output = lab
            .scanner()
            .command(SCRY)
            .env("SCRY_DATADIR", &dir)
            .env("XDG_DATA_HOME", &dir)
            .env("XDG_DATA_DIRS", &dir)
            .env("SCRY_NMAP_DIRS", "")
            .args(["--retries", "0", "--no-os-guess", "-oJ", "-"])
            .args(args)
            .arg("198.18.0.10")
            .output()
            .unwrap();
        Scan::from_output(output.status, &output.stdout, &output.stderr)
    };
    let d = dir.display();
    let looked = format!("(looked in {d}, {d}/scry, {d}/scry)");
    let hint = "Debian's nmap-common package installs it without nmap itself, or give --datadir DIR";
    let services = format!(
        "scry: warning: nmap-services was not found {looked}; {hint}; ports are shown as \"unknown\"\n"
    );
    let payloads = format!("scry: notice: nmap-payloads was not found {looked}; {hint}; UDP probes use scry's built-in payloads\n");

    let out = run(&["-sS", "-sU", "--offline", "-p", "T:1-10,U:40000"]);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(out.stat("sent"), 11, "{}", out.stats());
    assert!(out.stderr.starts_with(&format!("{services}{payloads}")), "{}", out.stderr);

    // A real scan of the lab target: its open port is named "unknown".
    let out = run(&["-p", "22,23"]);
    assert!(out.status.success(), "{}", out.stderr);
    assert!(out.stderr.starts_with(&services), "{}", out.stderr);
    let open: Vec<_> = out.records_of("port").filter(|r| r["state"] == "open").collect();
    assert_eq!(open.len(), 1, "{}", out.stdout);
    assert_eq!((open[0]["port"].as_u64(), open[0]["service"].as_str()), (Some(22), Some("unknown")));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `-sS -sU` picks its ports as nmap: without `-p` the top 1000 of each
/// protocol, `--top-ports N` N of each, an unprefixed port for both.
#[test]
fn syn_and_udp_ports_per_protocol() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new()));
    let run = |args: &[&str]| {
        let output = lab
            .scanner()
            .command(SCRY)
            .args(["-sS", "-sU", "--offline", "--retries", "0", "-v", "-oG", "-"])
            .args(args)
            .arg("198.18.0.10")
            .output()
            .unwrap();
        let (stdout, stderr) =
            (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr).into_owned());
        assert!(output.status.success(), "{args:?}: {stderr}");
        (stdout.lines().nth(1).unwrap_or_default().to_owned(), stderr)
    };
    let counts = |line: &str| {
        let count = |proto: &str| {
            let after = line.split(&format!("{proto}(")).nth(1).unwrap_or_else(|| panic!("{line}"));
            after.split(';').next().unwrap().parse::<usize>().unwrap()
        };
        (count("TCP"), count("UDP"))
    };
    assert_eq!(counts(&run(&[]).0), (1000, 1000));
    assert_eq!(counts(&run(&["--top-ports", "10"]).0), (10, 10));
    assert_eq!(
        run(&["-p", "9,T:22,U:7"]).0,
        "# Ports scanned: TCP(2;9,22) UDP(2;7,9) SCTP(0;) PROTOCOLS(0;)"
    );
    // A scan type without ports is skipped with a warning, as nmap does.
    let (line, stderr) = run(&["-p", "U:53"]);
    assert_eq!(line, "# Ports scanned: TCP(0;) UDP(1;53) SCTP(0;) PROTOCOLS(0;)");
    let warning = "scry: warning: -sS asked for, but no TCP ports are left to scan; skipping the SYN scan\n";
    assert!(stderr.starts_with(warning), "{stderr}");
}

/// `--resume` counted offline: a file without a `phase` line (as written
/// before combined scans could be resumed) resumes the first phase; with
/// `-sS -sU`, phase 1 finishes the SYN walk then runs the whole UDP one,
/// phase 2 runs only the rest of the UDP walk.
#[test]
fn resume_starts_at_the_recorded_phase_and_position() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new()));
    let path = std::env::temp_dir().join(format!("scry-offline-{}.resume", std::process::id()));
    let resume = |lines: &str, args: &str| {
        let text = format!(
            "# scry resume file\nseed = 7\n{lines}args = [{args}, \"-v\", \"198.18.0.10\", \"-oJ\", \"-\"]\n"
        );
        std::fs::write(&path, text).unwrap();
        let output = lab.scanner().command(SCRY).arg("--resume").arg(&path).output().unwrap();
        let out = Scan::from_output(output.status, &output.stdout, &output.stderr);
        assert!(out.status.success(), "{lines}{args}: {}", out.stderr);
        let walks: Vec<&str> = out.stderr.lines().filter(|l| l.contains(" probes per pass")).collect();
        (
            out.stat("sent"),
            walks.iter().map(|l| l.split(" = ").next().unwrap().to_owned()).collect::<Vec<_>>(),
        )
    };
    let one = r#""--offline", "--retries", "0", "-p", "1-10""#;
    assert_eq!(resume("position = 3\n", one), (7, vec!["scry: 1 targets x 10 TCP ports".to_owned()]));
    let both = r#""-sS", "-sU", "--offline", "--retries", "0", "-p", "T:1-10,U:1-20""#;
    let (tcp, udp) =
        ("scry: 1 targets x 10 TCP ports".to_owned(), "scry: 1 targets x 20 UDP ports".to_owned());
    assert_eq!(resume("phase = 1\nposition = 4\n", both), (6 + 20, vec![tcp, udp.clone()]));
    assert_eq!(resume("phase = 2\nposition = 5\n", both), (15, vec![udp]));
    std::fs::remove_file(&path).unwrap();
}
