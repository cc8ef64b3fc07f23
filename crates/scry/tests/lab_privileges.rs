//! Privileges: scry scans as an unprivileged user when its binary carries
//! the capabilities `cap_net_raw,cap_net_admin` (setcap), and without them
//! it fails with status 1, saying what is missing, before sending anything.
//!
//! Each test copies the built binary into its own directory under Cargo's
//! test scratch directory (on the target directory's filesystem, which
//! keeps the `security.capability` extended attribute that file
//! capabilities live in; `/tmp` may be a filesystem that does not), readable
//! and executable by everyone so that uid 65534 can run it.

mod common;

use common::{Scan, Sniffer, SCRY};
use scry_lab::{lab_or_skip, Lab, TargetSpec};
use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `setpriv` arguments that become uid/gid 65534 (nobody) with no groups.
const NOBODY: [&str; 3] = ["--reuid=65534", "--regid=65534", "--clear-groups"];
const OPEN: &[u16] = &[22, 80];
const SCANNED: u16 = 100;

/// A world-readable copy of scry in a fresh directory, with `caps` set on
/// it (none when empty). Removed with the value.
struct Copy {
    dir: PathBuf,
    binary: PathBuf,
}

impl Copy {
    fn new(name: &str, caps: &str) -> Copy {
        let dir =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("privileges-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let binary = dir.join("scry");
        std::fs::copy(SCRY, &binary).unwrap();
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
        if !caps.is_empty() {
            let out =
                Command::new("setcap").arg(caps).arg(&binary).output().expect("running setcap (libcap2-bin)");
            assert!(out.status.success(), "setcap {caps}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Copy { dir, binary }
    }

    /// Runs the copy as nobody inside the lab's scanner namespace, scanning
    /// ports 1-[`SCANNED`] of target 0 with `-sS`, while a capture on target
    /// 0 counts the SYNs that arrive.
    fn scan_as_nobody(&self, lab: &Lab) -> (Scan, usize) {
        let target = lab.targets()[0].ipv4().to_string();
        let ports = format!("1-{SCANNED}");
        let syns = Sniffer::start(&lab.targets()[0], "tcp[tcpflags] == tcp-syn");
        let out = lab
            .scanner()
            .command("setpriv")
            .args(NOBODY)
            .arg(&self.binary)
            .args(["-sS", "-p", &ports, "--rate", "2000", &target, "-oJ", "-"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let seen = syns.finish_count();
        (Scan::from_output(out.status, &out.stdout, &out.stderr), seen)
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn setcap_binary_scans_as_nobody() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(OPEN)));
    let ip = lab.targets()[0].ipv4();
    let closed: BTreeSet<u16> = (1..=SCANNED).filter(|p| !OPEN.contains(p)).collect();
    // The documented pair, and CAP_NET_RAW alone, which an IPv4 scan needs.
    for (name, caps) in [("raw-admin", "cap_net_raw,cap_net_admin+ep"), ("raw", "cap_net_raw+ep")] {
        let copy = Copy::new(name, caps);
        let (out, syns) = copy.scan_as_nobody(&lab);
        assert!(out.status.success(), "{name}: {}: {}", out.status, out.stderr);
        out.check_stream();
        assert_eq!(out.in_state(ip, "open"), OPEN.iter().copied().collect::<BTreeSet<_>>(), "{name}");
        assert_eq!(out.in_state(ip, "closed"), closed, "{name}");
        assert_eq!(out.ports().len(), usize::from(SCANNED), "{name}");
        assert!(syns >= usize::from(SCANNED), "{name}: the target saw {syns} SYNs");
    }
}

/// Without CAP_NET_RAW, -sS is refused before any capture or socket is
/// opened, naming what is missing (a scan with no type would fall back to
/// -sT, see lab_connect.rs).
#[test]
fn without_cap_net_raw_nobody_is_told_and_nothing_is_sent() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(OPEN)));
    // No capability at all, and only the one that does not help.
    for (name, caps) in [("plain", ""), ("admin-only", "cap_net_admin+ep")] {
        let copy = Copy::new(name, caps);
        let (out, syns) = copy.scan_as_nobody(&lab);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", out.stderr);
        let refused = "scry: -sS (SYN scan) needs raw sockets: run scry as root, or give the binary \
                       CAP_NET_RAW (setcap cap_net_raw,cap_net_admin+ep); without privileges scry scans with \
                       -sT (TCP connect), as nmap\n";
        assert_eq!(out.stderr, refused, "{name}");
        assert!(out.stdout.is_empty(), "{name} wrote {}", out.stdout);
        assert_eq!(syns, 0, "{name}: the target saw SYNs");
    }
}

/// Whether the tests run as root; says so when they do not.
fn is_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("skipped: needs root");
    }
    root
}

/// A user's and group's ids, from `id`, as the oracle for what scry became.
fn ids(user: &str) -> (u32, u32) {
    let id = |flag: &str| {
        let out = Command::new("id").args([flag, user]).output().expect("running id");
        String::from_utf8(out.stdout).unwrap().trim().parse::<u32>().expect("a numeric id")
    };
    (id("-u"), id("-g"))
}

/// A `/proc/PID/status` field's value.
fn status_field(pid: u32, name: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines().find_map(|l| l.strip_prefix(name)).unwrap_or_default().trim().to_owned()
}

/// As root, scry parses replies as nobody with no capabilities at all: its
/// own `-d` line says so, and so does `/proc` of the process that scans,
/// read from outside while it runs. The process started keeps only what
/// the resume file and signals need, and the results are the same.
#[test]
fn root_scan_parses_replies_as_nobody_without_capabilities() {
    if !is_root() {
        return;
    }
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(OPEN)));
    let (uid, gid) = ids("nobody");
    // Four seconds of sending, long enough to look at the processes meanwhile.
    let args = ["-d", "-p", "1-8000", "--rate", "2000", "--retries", "0", "--no-os-guess", "198.18.0.10"];
    let (mut child, mut stdout) = common::spawn_piped(lab.scanner(), &args);
    let parent = child.id();
    let seen = common::read_answers(&mut stdout, 1);
    let children = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children")).unwrap();
    let scanner: u32 = children.split_whitespace().next().expect("a scanning child").parse().unwrap();
    let uids = format!("{uid}\t{uid}\t{uid}\t{uid}");
    assert_eq!(status_field(scanner, "Uid:"), uids);
    assert_eq!(status_field(scanner, "Gid:"), format!("{gid}\t{gid}\t{gid}\t{gid}"));
    for set in ["CapEff:", "CapPrm:", "CapInh:", "CapBnd:", "CapAmb:"] {
        assert_eq!(status_field(scanner, set), "0000000000000000", "{set} of the scanning process");
    }
    assert_eq!(status_field(scanner, "NoNewPrivs:"), "1");
    assert_eq!(status_field(scanner, "Groups:"), "");
    // The parent: root, with CAP_DAC_OVERRIDE (1) and CAP_KILL (5) only.
    assert_eq!(status_field(parent, "Uid:"), "0\t0\t0\t0");
    assert_eq!(status_field(parent, "CapEff:"), "0000000000000022");

    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(child.wait().unwrap().success(), "{stderr}");
    let line = format!(
        "scry: parsing replies with uid {uid}, gid {gid}, CapEff 0000000000000000, CapPrm 0000000000000000, \
         NoNewPrivs 1"
    );
    assert!(stderr.lines().any(|l| l == line), "{stderr}");
    let open: BTreeSet<u16> = (seen + &rest)
        .lines()
        .filter(|l| l.contains("\"type\":\"port\"") && l.contains("\"state\":\"open\""))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?["port"].as_u64())
        .map(|p| p as u16)
        .collect();
    assert_eq!(open, OPEN.iter().copied().collect(), "{rest}");
}

/// `--user` picks whom to scan as; an unknown name is refused before any
/// packet, and `--no-drop-privileges` keeps root, as its `-d` line says.
#[test]
fn user_option_and_keeping_privileges() {
    if !is_root() {
        return;
    }
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(OPEN)));
    let run = |extra: &[&str]| {
        let mut args = vec!["-d", "-p", "22,80,81", "--no-os-guess", "198.18.0.10"];
        args.extend(extra);
        let out = common::command(lab.scanner(), &args).output().unwrap();
        (out.status.code(), Scan::from_output(out.status, &out.stdout, &out.stderr))
    };
    let (code, out) = run(&["--user", "no-such-user-scry"]);
    assert_eq!(code, Some(1));
    assert!(
        out.stderr
            .contains("scry: no user named \"no-such-user-scry\" to scan as; choose one with --user NAME"),
        "{}",
        out.stderr
    );
    assert!(out.records.is_empty());

    let (daemon_uid, daemon_gid) = ids("daemon");
    let (code, out) = run(&["--user", "daemon"]);
    assert_eq!(code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "parsing replies with uid {daemon_uid}, gid {daemon_gid}, CapEff 0000000000000000"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(out.ports().values().filter(|p| p.state == "open").count(), 2);

    let (code, out) = run(&["--no-drop-privileges"]);
    assert_eq!(code, Some(0), "{}", out.stderr);
    assert!(out.stderr.contains("parsing replies with uid 0, gid 0, CapEff "), "{}", out.stderr);
    assert!(!out.stderr.contains("CapEff 0000000000000000"), "{}", out.stderr);
}
