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
    /// ports 1-[`SCANNED`] of target 0, while a capture on target 0 counts
    /// the SYNs that arrive.
    fn scan_as_nobody(&self, lab: &Lab) -> (Scan, usize) {
        let target = lab.targets()[0].ipv4().to_string();
        let ports = format!("1-{SCANNED}");
        let syns = Sniffer::start(&lab.targets()[0], "tcp[tcpflags] == tcp-syn");
        let out = lab
            .scanner()
            .command("setpriv")
            .args(NOBODY)
            .arg(&self.binary)
            .args(["-p", &ports, "--rate", "2000", &target, "-oJ", "-"])
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

/// The first thing scry opens is its capture; without CAP_NET_RAW that
/// fails, and scry says so and stops before any socket that could send.
#[test]
fn without_cap_net_raw_nobody_is_told_and_nothing_is_sent() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(OPEN)));
    // No capability at all, and only the one that does not help.
    for (name, caps) in [("plain", ""), ("admin-only", "cap_net_admin+ep")] {
        let copy = Copy::new(name, caps);
        let (out, syns) = copy.scan_as_nobody(&lab);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", out.stderr);
        let prefix = "scry: opening a libpcap capture on eth0 needs CAP_NET_RAW (or root): ";
        let detail = out.stderr.strip_prefix(prefix).unwrap_or_else(|| panic!("{name}: {:?}", out.stderr));
        // The rest is libpcap's own words for the refused socket(2).
        assert!(
            detail.ends_with("Operation not permitted\n") && detail.lines().count() == 1,
            "{name}: {detail:?}"
        );
        assert!(out.stdout.is_empty(), "{name} wrote {}", out.stdout);
        assert_eq!(syns, 0, "{name}: the target saw SYNs");
    }
}
