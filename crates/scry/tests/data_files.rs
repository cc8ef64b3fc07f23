//! Where scry finds its data files (`--datadir`, `$SCRY_DATADIR`, the XDG
//! data directories, nmap's install), what `--version` says about them, and
//! that the default OS database is nmap's alone. Sends nothing.
//!
//! Every run sets the search path's variables itself, so the machine's own
//! environment does not leak in; `SCRY_NMAP_DIRS` stands in for nmap's
//! install directories, which a test cannot remove.

mod common;

use common::{nmap_db_present, NMAP_DB, SCRY};
use std::path::{Path, PathBuf};
use std::process::Command;

const LAB_DB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scry-os/tests/fixtures/lab.db");

/// An empty scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scry-data-files-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// scry with a search path of `datadir` (as `$SCRY_DATADIR`), empty XDG
/// directories under it, and `nmap_dirs` as nmap's install directories.
fn scry_in(datadir: &Path, nmap_dirs: &str, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut cmd = Command::new(SCRY);
    cmd.args(args)
        .env("SCRY_DATADIR", datadir)
        .env("XDG_DATA_HOME", datadir.join("home"))
        .env("XDG_DATA_DIRS", datadir.join("xdg"))
        .env("SCRY_NMAP_DIRS", nmap_dirs);
    common::run_with_input(&mut cmd, stdin)
}

#[test]
fn version_names_each_data_file_found_and_where_it_looked() {
    let dir = scratch("version");
    std::fs::write(dir.join("nmap-services"), "ssh 22/tcp 0.5\n").unwrap();
    let nmap = dir.join("nmap");
    std::fs::create_dir(&nmap).unwrap();
    std::fs::write(nmap.join("nmap-payloads"), "udp 7 \"x\"\n").unwrap();
    std::fs::write(nmap.join("nmap-services"), "").unwrap();
    let (code, out, err) = scry_in(&dir, nmap.to_str().unwrap(), &["--version"], "");
    assert_eq!(code, 0, "{err}");
    let d = dir.display();
    assert_eq!(
        out,
        format!(
            "scry {}\n\
             data files:\n  \
               nmap-os-db           not found (no -O, no OS guess, no --os-match without --os-db)\n  \
               nmap-services        {d}/nmap-services\n  \
               nmap-payloads        {d}/nmap/nmap-payloads\n  \
               nmap-service-probes  not found (no -sV without --versiondb)\n  \
               searched, in order:\n    \
                 {d} ($SCRY_DATADIR)\n    \
                 {d}/home/scry ($XDG_DATA_HOME)\n    \
                 {d}/xdg/scry ($XDG_DATA_DIRS)\n    \
                 {d}/nmap ($SCRY_NMAP_DIRS)\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    // --datadir comes first.
    let flag = scratch("version-flag");
    std::fs::write(flag.join("nmap-os-db"), "").unwrap();
    let (code, out, _) = scry_in(&dir, "", &["--datadir", flag.to_str().unwrap(), "-V"], "");
    assert_eq!(code, 0);
    let line = out.lines().find(|l| l.contains("nmap-os-db")).unwrap();
    assert_eq!(line, format!("  nmap-os-db           {}/nmap-os-db", flag.display()));
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&flag).unwrap();
}

/// Where nmap (or Debian's nmap-common) installed its data, scry finds it.
#[test]
fn version_finds_nmaps_installed_data() {
    if !nmap_db_present() {
        return;
    }
    let dir = scratch("installed");
    let (code, out, err) = Command::new(SCRY)
        .arg("--version")
        .env_remove("SCRY_DATADIR")
        .env_remove("SCRY_NMAP_DIRS")
        .env("XDG_DATA_HOME", dir.join("home"))
        .env("XDG_DATA_DIRS", dir.join("xdg"))
        .output()
        .map(|o| {
            (o.status.code(), String::from_utf8(o.stdout).unwrap(), String::from_utf8(o.stderr).unwrap())
        })
        .unwrap();
    assert_eq!(code, Some(0), "{err}");
    for name in ["nmap-os-db", "nmap-services", "nmap-payloads", "nmap-service-probes"] {
        assert!(out.contains(&format!("  {name:<21}/usr/share/nmap/{name}\n")), "{out}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn os_match_without_an_os_database_says_where_it_looked() {
    let dir = scratch("no-db");
    let (code, out, err) = scry_in(&dir, "", &["--os-match", "-"], "T1(R=Y%DF=Y)\n");
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    let d = dir.display();
    assert_eq!(
        err,
        format!(
            "scry: --os-match needs an OS database (or --os-db FILE): nmap-os-db was not found (looked \
             in {d}, {d}/home/scry, {d}/xdg/scry); Debian's nmap-common package installs it without nmap \
             itself, or give --datadir DIR\n"
        )
    );
    // -d lists the data files first.
    let (code, _, err) = scry_in(&dir, "", &["-d", "--os-match", "-"], "T1(R=Y%DF=Y)\n");
    assert_eq!(code, 1);
    assert!(
        err.starts_with(&format!(
            "scry: data files:\n\
             scry:   nmap-os-db           not found (no -O, no OS guess, no --os-match without --os-db)\n\
             scry:   nmap-services        not found (ports are unnamed; -p takes numbers only)\n\
             scry:   nmap-payloads        not found (UDP probes use scry's built-in payloads)\n\
             scry:   nmap-service-probes  not found (no -sV without --versiondb)\n\
             scry:   searched, in order:\n\
             scry:     {d} ($SCRY_DATADIR)\n"
        )),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The lab target with `ip_default_ttl=32 tcp_window_scaling=0 tcp_ecn=0`,
/// as nmap's fingerprint of it reads (values inside its lab.db entry).
const LAB_TTL_32: &str = "SEQ(SP=100%GCD=1%ISR=100%TI=Z%CI=Z%II=I%TS=20)
OPS(O1=M5B4ST11%O2=M5B4ST11%O3=M5B4NNT11%O4=M5B4ST11%O5=M5B4ST11%O6=M5B4ST11)
WIN(W1=FE88%W2=FE88%W3=FE88%W4=FE88%W5=FE88%W6=FE88)
ECN(R=Y%DF=Y%T=20%W=FAF0%O=M5B4NNS%CC=N%Q=)
T1(R=Y%DF=Y%T=20%S=O%A=S+%F=AS%RD=0%Q=)
T2(R=N)
T3(R=N)
T4(R=Y%DF=Y%T=20%W=0%S=A%A=Z%F=R%O=%RD=0%Q=)
T5(R=Y%DF=Y%T=20%W=0%S=Z%A=S+%F=AR%O=%RD=0%Q=)
T6(R=Y%DF=Y%T=20%W=0%S=A%A=Z%F=R%O=%RD=0%Q=)
T7(R=Y%DF=Y%T=20%W=0%S=Z%A=S+%F=AR%O=%RD=0%Q=)
U1(R=Y%DF=N%T=20%IPL=164%UN=0%RIPL=G%RID=G%RIPCK=G%RUCK=G%RUD=G)
IE(R=Y%DFI=N%T=20%CD=S)
";

/// Regression: scry's default database was nmap-os-db plus the lab's
/// test fingerprints, so a real Linux host was named "scry lab: Linux 6.18
/// ttl 32, ...". Now the default is nmap's database alone; the lab entries
/// are test data, loaded only when given.
#[test]
fn the_default_os_database_has_no_lab_entries() {
    if !nmap_db_present() {
        return;
    }
    let dir = scratch("default-db");
    let names = |args: &[&str]| -> Vec<(String, u64)> {
        let (code, out, err) = scry_in(&dir, "/usr/share/nmap", args, LAB_TTL_32);
        assert_eq!(code, 0, "{err}");
        let record: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        let matches = record["matches"].as_array().unwrap().iter();
        matches.map(|m| (m["name"].as_str().unwrap().to_owned(), m["accuracy"].as_u64().unwrap())).collect()
    };
    let default = names(&["--os-match", "-", "-oJ", "-"]);
    assert!(!default.is_empty());
    assert!(default.iter().all(|(name, _)| !name.starts_with("scry lab")), "{default:?}");
    // Given explicitly, the lab's entry matches its target perfectly.
    let with_lab = names(&["--os-match", "-", "-oJ", "-", "--os-db", NMAP_DB, "--os-db", LAB_DB]);
    assert_eq!(with_lab[0], ("scry lab: Linux 6.18 ttl 32, no window scaling, no ECN".to_owned(), 100));
    std::fs::remove_dir_all(&dir).unwrap();
}
