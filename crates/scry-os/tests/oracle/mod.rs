//! Shared by the lab oracle tests (`tests/lab_oracle.rs`): the lab's
//! targets, running nmap 7.93 in the lab's scanner namespace, reading its
//! XML, and turning measured fingerprints into `tests/fixtures/lab.db` entries.
//!
//! Every probe goes from the lab's scanner namespace to lab addresses
//! (198.18.0.0/15) only: nmap is started with `Node::command`, which wraps
//! it in `ip netns exec <scanner>`, and is given the targets' addresses.

pub mod entry;
// Only compute_oracle.rs reads captures.
#[allow(dead_code)]
pub mod exchange;
pub mod nmap;

use std::path::{Path, PathBuf};

use scry_lab::{LabBuilder, Personality, TargetSpec};

/// nmap's database as Debian installs it with nmap 7.93.
pub const SYSTEM_DB: &str = "/usr/share/nmap/nmap-os-db";

/// The directory of [`SYSTEM_DB`], for nmap's `--datadir`: nmap would
/// otherwise prefer a `nmap-os-db` under `~/.nmap` or `$NMAPDIR`.
pub fn system_datadir() -> PathBuf {
    Path::new(SYSTEM_DB).parent().map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
}

/// The open TCP port every target listens on.
pub const OPEN_TCP: u16 = 22;
/// A TCP port no target listens on (answers with a reset).
pub const CLOSED_TCP: u16 = 1;
/// A UDP port no target binds (answers with ICMP port unreachable).
pub const CLOSED_UDP: u16 = 1;

/// The kernel's own default `tcp_rmem` on Linux 6.18, written explicitly:
/// the kernel sizes the maximum by the machine's memory, and the maximum
/// sets the window scale nmap sees, so leaving it alone would make the
/// "defaults" fingerprint depend on the test machine's RAM.
const DEFAULT_RMEM: &str = "4096 131072 33554432";

/// One lab target: how its stack is tuned and what to call it.
pub struct Target {
    /// Short description, the end of its lab.db name ("defaults", ...).
    pub description: &'static str,
    /// The sysctls the lab writes in its namespace.
    pub personality: Personality,
}

/// The lab's targets, in lab order (target `i` is 198.18.0.(10+i)).
pub fn targets() -> Vec<Target> {
    let base = || Personality { tcp_rmem: Some(DEFAULT_RMEM.to_owned()), ..Personality::default() };
    vec![
        Target { description: "defaults", personality: base() },
        Target {
            description: "ttl 128, no timestamps, no window scaling",
            personality: Personality {
                ttl: Some(128),
                tcp_timestamps: Some(false),
                tcp_window_scaling: Some(false),
                ..base()
            },
        },
        Target {
            description: "no SACK, ECN requested, tcp_rmem 4096 8192 16384",
            personality: Personality {
                tcp_sack: Some(false),
                tcp_ecn: Some(1),
                tcp_rmem: Some("4096 8192 16384".to_owned()),
                ..base()
            },
        },
        Target {
            description: "ttl 255, no timestamps",
            personality: Personality { ttl: Some(255), tcp_timestamps: Some(false), ..base() },
        },
        Target {
            description: "ttl 32, no window scaling, no ECN",
            personality: Personality {
                ttl: Some(32),
                tcp_window_scaling: Some(false),
                tcp_ecn: Some(0),
                ..base()
            },
        },
        Target {
            description: "ICMP echo ignored",
            personality: Personality { icmp_echo_ignore_all: Some(true), ..base() },
        },
    ]
}

/// A lab with every target of [`targets`], each listening on [`OPEN_TCP`].
pub fn lab_builder() -> LabBuilder {
    targets().into_iter().fold(scry_lab::Lab::builder(), |b, t| {
        b.target(TargetSpec::new().personality(t.personality).tcp_listen(&[OPEN_TCP]))
    })
}

/// `tests/fixtures/lab.db`: the lab targets' entries, test data that only
/// the tests needing it load.
pub fn lab_db_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lab.db")
}

/// Whether a missing prerequisite must fail the test (`CI=true`) rather
/// than skip it.
pub fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// `Some(())` when nmap and its database are installed; otherwise prints
/// why the test is skipped and returns `None`, or panics under `CI=true`.
pub fn nmap_or_skip(test: &str) -> Option<()> {
    let problem = match nmap::version() {
        Err(e) => Some(format!("nmap cannot be run: {e}")),
        Ok(_) => None,
    };
    skip_unless(test, problem.or_else(system_db_problem))
}

/// Like [`nmap_or_skip`], for tests that only read nmap's database.
pub fn system_db_or_skip(test: &str) -> Option<()> {
    skip_unless(test, system_db_problem())
}

fn system_db_problem() -> Option<String> {
    (!Path::new(SYSTEM_DB).is_file()).then(|| format!("{SYSTEM_DB} is missing"))
}

fn skip_unless(test: &str, problem: Option<String>) -> Option<()> {
    match problem {
        None => Some(()),
        Some(p) if on_ci() => panic!("CI=true but {p}; CI must install nmap"),
        Some(p) => {
            eprintln!("skipped: {test}: {p}");
            None
        }
    }
}

/// The running kernel's `major.minor`, e.g. `6.18`.
pub fn kernel_version() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    release.trim().split(['.', '-']).take(2).collect::<Vec<_>>().join(".")
}

/// The lab.db name of a target measured on Linux `kernel`.
pub fn entry_name(kernel: &str, description: &str) -> String {
    format!("scry lab: Linux {kernel} {description}")
}
