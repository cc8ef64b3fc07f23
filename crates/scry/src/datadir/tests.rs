//! The search order, with environments given explicitly and temporary
//! directories, never the process's own environment.

use super::*;

fn os(s: &str) -> Option<OsString> {
    Some(OsString::from(s))
}

fn paths(dirs: &[Dir]) -> Vec<String> {
    dirs.iter().map(|d| format!("{} ({})", d.path.display(), d.origin)).collect()
}

/// A fresh, empty directory under the system's temporary directory.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scry-datadir-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn args(line: &str) -> Args {
    Args::parse_nmap(std::iter::once("scry").chain(line.split_whitespace()).map(OsString::from))
}

#[test]
fn search_order_flag_env_xdg_then_nmap() {
    let env = Env {
        datadir: Some("/flag".into()),
        scry_datadir: os("/env"),
        xdg_data_home: os("/home/u/data"),
        home: os("/home/u"),
        xdg_data_dirs: os("/opt/share:/usr/share"),
        nmap_dirs: None,
    };
    assert_eq!(
        paths(&search_path(&env)),
        [
            "/flag (--datadir)",
            "/env ($SCRY_DATADIR)",
            "/home/u/data/scry ($XDG_DATA_HOME)",
            "/opt/share/scry ($XDG_DATA_DIRS)",
            "/usr/share/scry ($XDG_DATA_DIRS)",
            "/usr/share/nmap (nmap's data)",
            "/usr/local/share/nmap (nmap's data)",
        ]
    );
}

/// Regression: the default database came from the build tree
/// (`CARGO_MANIFEST_DIR/../../os-db`); the defaults are the XDG and nmap
/// directories only.
#[test]
fn defaults_are_xdg_and_nmap_never_the_build_tree() {
    let env = Env { home: os("/home/u"), ..Env::default() };
    assert_eq!(
        paths(&search_path(&env)),
        [
            "/home/u/.local/share/scry (~/.local/share)",
            "/usr/local/share/scry (XDG data directory)",
            "/usr/share/scry (XDG data directory)",
            "/usr/share/nmap (nmap's data)",
            "/usr/local/share/nmap (nmap's data)",
        ]
    );
}

#[test]
fn relative_and_empty_values_are_ignored_and_nmap_dirs_can_be_replaced() {
    let env = Env {
        scry_datadir: os(""),
        xdg_data_home: os("relative/data"),
        home: None,
        xdg_data_dirs: os("relative:/abs"),
        nmap_dirs: os(""),
        ..Env::default()
    };
    assert_eq!(paths(&search_path(&env)), ["/abs/scry ($XDG_DATA_DIRS)"]);
    let env = Env { xdg_data_dirs: os("/x"), nmap_dirs: os("/opt/nmap/share:/n2"), ..Env::default() };
    assert_eq!(
        paths(&search_path(&env)),
        ["/x/scry ($XDG_DATA_DIRS)", "/opt/nmap/share ($SCRY_NMAP_DIRS)", "/n2 ($SCRY_NMAP_DIRS)"]
    );
}

#[test]
fn the_first_directory_holding_a_file_wins_file_by_file() {
    let root = scratch("order");
    for dir in ["flag", "xdg/scry", "nmap"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    std::fs::write(root.join("flag/nmap-services"), "ssh 22/tcp 0.5\n").unwrap();
    std::fs::write(root.join("nmap/nmap-services"), "").unwrap();
    std::fs::write(root.join("nmap/nmap-os-db"), "").unwrap();
    std::fs::create_dir(root.join("xdg/scry/nmap-payloads")).unwrap(); // a directory is not a file
    let env = Env {
        datadir: Some(root.join("flag")),
        xdg_data_dirs: Some(root.join("xdg").into()),
        nmap_dirs: Some(root.join("nmap").into()),
        ..Env::default()
    };
    let files = DataFiles::resolve(&env).unwrap();
    assert_eq!(files.path(DataFile::Services), Some(root.join("flag/nmap-services").as_path()));
    assert_eq!(files.path(DataFile::OsDb), Some(root.join("nmap/nmap-os-db").as_path()));
    assert_eq!(files.path(DataFile::Payloads), None);
    assert_eq!(files.os_db(&[]).unwrap(), [root.join("nmap/nmap-os-db")]);
    assert_eq!(files.os_db(&[PathBuf::from("mine.db")]).unwrap(), [PathBuf::from("mine.db")]);
    let r = root.display();
    assert_eq!(
        files.describe("> "),
        format!(
            "> nmap-os-db           {r}/nmap/nmap-os-db\n\
             > nmap-services        {r}/flag/nmap-services\n\
             > nmap-payloads        not found (UDP probes use scry's built-in payloads)\n\
             > nmap-service-probes  not found (no -sV without --versiondb)\n\
             > searched, in order:\n\
             >   {r}/flag (--datadir)\n\
             >   {r}/xdg/scry ($XDG_DATA_DIRS)\n\
             >   {r}/nmap ($SCRY_NMAP_DIRS)\n"
        )
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_missing_file_names_every_directory_and_nmap_common() {
    let root = scratch("missing");
    let env = Env {
        scry_datadir: Some(root.clone().into()),
        xdg_data_dirs: os("/nonexistent"),
        nmap_dirs: os(""),
        ..Env::default()
    };
    let files = DataFiles::resolve(&env).unwrap();
    assert_eq!(
        files.require(DataFile::OsDb).unwrap_err().to_string(),
        format!(
            "nmap-os-db was not found (looked in {}, /nonexistent/scry); Debian's nmap-common \
             package installs it without nmap itself, or give --datadir DIR",
            root.display()
        )
    );
    assert!(files.os_db(&[]).is_err());
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn datadir_must_be_a_directory() {
    let env = Env { datadir: Some("/nonexistent/scry-data".into()), ..Env::default() };
    assert_eq!(DataFiles::resolve(&env).unwrap_err().0, "--datadir /nonexistent/scry-data: not a directory");
}

#[test]
fn which_scans_need_nmap_services() {
    let why = |line: &str| services_needed(&args(line));
    assert_eq!(why("-p 22,80 198.18.0.10"), None);
    assert_eq!(why("-p T:1-100,U:53 --exclude-ports 25 198.18.0.10"), None);
    assert_eq!(why("-sn 198.18.0.0/24"), None);
    assert_eq!(
        why("198.18.0.10").unwrap(),
        "without -p, scry scans the 1000 ports nmap-services ranks first"
    );
    assert_eq!(why("-F 198.18.0.10").unwrap(), "-F scans the 100 ports nmap-services ranks first");
    assert_eq!(
        why("--top-ports 5 198.18.0.10").unwrap(),
        "--top-ports 5 picks ports by nmap-services' ranking"
    );
    assert_eq!(
        why("-p 22,T:http 198.18.0.10").unwrap(),
        "-p names a service (\"T:http\") that nmap-services would give a port"
    );
    assert_eq!(
        why("-p 1-100 --exclude-ports ssh 198.18.0.10").unwrap(),
        "--exclude-ports names a service (\"ssh\") that nmap-services would give a port"
    );
}
