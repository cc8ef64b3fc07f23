//! Every scan remembered (docs/history.md): scans write the history as
//! they run; `scry diff` reports exactly what changed on the targets
//! between two scans (exit 1) and nothing when nothing did (exit 0); a
//! scan stopped with Ctrl-C makes no host disappear; `scry show` prints a
//! scan as it printed itself; nmap's XML of the same lab, imported, equals
//! scry's own scan; `--resume` continues the same record.

mod common;

use common::{command, scan, spawn_piped, Scan, SCRY};
use scry_lab::{lab_or_skip, Lab, Node, TargetSpec};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const PORTS: &str = "22,80,443,3306,8080";

/// A fresh directory for one test's history and files.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scry-history-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `scry WORDS... --db DB` in the root namespace (no packet is sent:
/// these commands only read and write the history).
fn look(db: &Path, words: &[&str]) -> (i32, String, String) {
    let out = Command::new(SCRY).args(words).arg("--db").arg(db).stdin(Stdio::null()).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// The changes of `scry diff --json`: (type, ip, port, state before, state after).
fn changes(jsonl: &str) -> BTreeSet<(String, String, u64, String, String)> {
    let state = |v: &Value| v["state"].as_str().map_or_else(|| "-".to_owned(), str::to_owned);
    jsonl
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["type"] != "diff")
        .map(|r| {
            let kind = r["type"].as_str().unwrap().to_owned();
            let (before, after) = match kind.as_str() {
                "host" => (
                    r["before"].as_str().unwrap_or("-").to_owned(),
                    r["after"].as_str().unwrap_or("-").to_owned(),
                ),
                _ => (state(&r["before"]), state(&r["after"])),
            };
            (kind, r["ip"].as_str().unwrap().to_owned(), r["port"].as_u64().unwrap_or(0), before, after)
        })
        .collect()
}

fn scan_with_db(node: &Node, db: &Path, extra: &[&str], targets: &[String]) -> Scan {
    let mut args: Vec<&str> = vec!["-p", PORTS, "--seed", "5", "--db", db.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend(targets.iter().map(String::as_str));
    scan(node, &args)
}

#[test]
fn diff_reports_exactly_what_changed_between_scans() {
    let lab = lab_or_skip!(Lab::builder().targets([
        TargetSpec::new().tcp_listen(&[22, 80]),
        TargetSpec::new().tcp_listen(&[443]),
        TargetSpec::new().tcp_listen(&[8080]),
    ]));
    let dir = temp_dir("diff");
    let db = dir.join("history.db");
    let [a, b, c] = [0, 1, 2].map(|i| lab.targets()[i].ipv4().to_string());
    let targets = [a.clone(), b.clone(), c.clone()];

    scan_with_db(lab.scanner(), &db, &[], &targets);
    scan_with_db(lab.scanner(), &db, &[], &targets);
    let (code, out, err) = look(&db, &["diff", "--json"]);
    assert_eq!(code, 0, "nothing changed, yet: {out}{err}");
    assert_eq!(changes(&out), BTreeSet::new(), "{out}");

    // Open a port on A, close one on B (a RST now), take C off the network.
    let target_a = &lab.targets()[0];
    let listener = target_a.run(move || std::net::TcpListener::bind(("0.0.0.0", 3306)).unwrap()).unwrap();
    common::nft(
        &lab.targets()[1],
        "table inet hist {\n chain input {\n  type filter hook input priority filter; policy accept;\n  tcp dport 443 reject with tcp reset\n }\n}\n",
    );
    let c_node = &lab.targets()[2];
    let down = c_node.command("ip").args(["link", "set", "dev", c_node.iface(), "down"]).status().unwrap();
    assert!(down.success());

    let normal = dir.join("third.nmap");
    let xml = dir.join("third.xml");
    let third = scan_with_db(
        lab.scanner(),
        &db,
        &["-oN", normal.to_str().unwrap(), "-oX", xml.to_str().unwrap()],
        &targets,
    );
    drop(listener);
    let (code, out, err) = look(&db, &["diff", "--json"]);
    assert_eq!(code, 1, "{out}{err}");
    let want: BTreeSet<_> = [
        ("port-state", &a, 3306, "closed", "open"),
        ("port-state", &b, 443, "open", "closed"),
        ("host", &c, 0, "up", "-"),
    ]
    .into_iter()
    .map(|(k, ip, port, x, y)| (k.to_owned(), ip.clone(), port, x.to_owned(), y.to_owned()))
    .collect();
    let got = changes(&out);
    // A host that went away is one change; its port table follows it in
    // ndiff's layout, as ports of C only.
    let without_c_ports: BTreeSet<_> =
        got.iter().filter(|(k, ip, ..)| k == "host" || *ip != c).cloned().collect();
    assert_eq!(without_c_ports, want, "{out}\n{}", third.stdout);
    assert!(got.iter().all(|(k, ip, _, _, after)| k == "host" || *ip != c || after == "-"), "{out}");

    // The text and XML forms say the same, as ndiff would.
    let (code, text, _) = look(&db, &["diff"]);
    assert_eq!(code, 1);
    assert!(text.contains("-3306/tcp closed") && text.contains("+3306/tcp open"), "{text}");
    let (code, xml_diff, _) = look(&db, &["diff", "--xml"]);
    assert_eq!(code, 1);
    assert!(xml_diff.contains("<nmapdiff version=\"1\">"), "{xml_diff}");

    // show prints the third scan as it printed itself, in every format.
    let (code, listing, err) = look(&db, &["history"]);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<&str> = listing.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{listing}");
    assert!(rows.iter().all(|r| r.contains(" complete ")), "{listing}");
    let (code, shown, err) = look(&db, &["show", "3"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(shown, std::fs::read_to_string(&normal).unwrap());
    let (_, shown_xml, _) = look(&db, &["show", "3", "-oX", "-"]);
    assert_eq!(shown_xml, std::fs::read_to_string(&xml).unwrap());
    let (_, shown_json, _) = look(&db, &["show", "3", "-oJ", "-"]);
    assert_eq!(shown_json, third.stdout);

    // First and last seen: A's 22 open in all three scans, 3306 only in the last.
    let (code, seen, err) = look(&db, &["show", "3", "--seen"]);
    assert_eq!(code, 0, "{err}");
    let row = |port: &str| {
        seen.lines().find(|l| l.starts_with(&a) && l.contains(port)).unwrap_or_default().to_owned()
    };
    assert!(row("22/tcp").contains("(scan 1)") && row("22/tcp").ends_with(" 3"), "{seen}");
    assert!(row("3306/tcp").contains("open") && row("3306/tcp").ends_with(" 1"), "{seen}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A scan stopped with SIGINT is `interrupted`: diff refuses it, and with
/// `--force` reports no host or port as gone that it simply never reached.
#[test]
fn an_interrupted_scan_makes_nothing_disappear() {
    let lab = lab_or_skip!(Lab::builder()
        .targets([TargetSpec::new().tcp_listen(&[22, 80, 443]), TargetSpec::new().tcp_listen(&[25]),]));
    let dir = temp_dir("interrupted");
    let db = dir.join("history.db");
    let db_arg = db.to_str().unwrap();
    let targets: Vec<String> = lab.targets().iter().map(|t| t.ipv4().to_string()).collect();
    let mut complete = vec!["-p", "1-20000", "--seed", "9", "--rate", "40000", "--db", db_arg];
    complete.extend(targets.iter().map(String::as_str));
    scan(lab.scanner(), &complete);

    let mut slow = vec!["-p", "1-20000", "--seed", "9", "--rate", "2000", "--db", db_arg];
    slow.extend(targets.iter().map(String::as_str));
    let (mut child, mut stdout) = spawn_piped(lab.scanner(), &slow);
    let mut seen = common::read_answers(&mut stdout, 40);
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) }, 0);
    stdout.read_to_string(&mut seen).unwrap();
    assert!(child.wait().unwrap().success());
    assert!(seen.contains("\"interrupted\":true"), "{seen}");

    let (code, listing, _) = look(&db, &["history"]);
    assert_eq!(code, 0);
    assert!(listing.lines().nth(2).is_some_and(|l| l.contains(" interrupted ")), "{listing}");
    let (code, _, err) = look(&db, &["diff", "1", "2"]);
    assert_eq!(code, 2);
    assert!(err.contains("scan 2 is interrupted, not complete"), "{err}");
    let (code, out, err) = look(&db, &["diff", "--force", "--json", "1", "2"]);
    assert_eq!((code, changes(&out)), (0, BTreeSet::new()), "{out}{err}");
    assert!(err.contains("warning: scan 2 is interrupted"), "{err}");
    // Without arguments, diff still finds no two complete scans of this scope.
    let (code, _, err) = look(&db, &["diff"]);
    assert_eq!(code, 2, "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// nmap's XML of the same targets, imported, is the same as scry's scan.
#[test]
fn an_imported_nmap_scan_equals_scrys_own() {
    let lab = lab_or_skip!(Lab::builder()
        .targets([TargetSpec::new().tcp_listen(&[22, 80]), TargetSpec::new().tcp_listen(&[3306]),]));
    let dir = temp_dir("import");
    let db = dir.join("history.db");
    let targets: Vec<String> = lab.targets().iter().map(|t| t.ipv4().to_string()).collect();
    let xml = dir.join("nmap.xml");
    let nmap = lab
        .scanner()
        .command("nmap")
        .args(["-n", "-sS", "-p", PORTS, "-oX"])
        .arg(&xml)
        .args(&targets)
        .stdout(Stdio::null())
        .status()
        .expect("running nmap");
    assert!(nmap.success());
    scan_with_db(lab.scanner(), &db, &[], &targets);
    let (code, out, err) = look(&db, &["import", xml.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(": scan 2 (complete, 2 hosts up"), "{out}");
    let (code, out, err) = look(&db, &["diff", "--json", "2", "1"]);
    assert_eq!((code, changes(&out)), (0, BTreeSet::new()), "{out}{err}");
    // The import keeps nmap's file: show prints it back.
    let (_, shown, _) = look(&db, &["show", "2", "-oX", "-"]);
    assert_eq!(shown, std::fs::read_to_string(&xml).unwrap());
    let (code, _, err) = look(&db, &["show", "2"]);
    assert_eq!(code, 2);
    assert!(err.contains("scan 2 has no normal output: it has xml"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--resume` adds to the stopped scan's record; it ends complete, once.
#[test]
fn resume_continues_the_same_record() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(&[22, 443])));
    let dir = temp_dir("resume");
    let db = dir.join("history.db");
    let resume = dir.join("scan.resume");
    let target = lab.targets()[0].ipv4().to_string();
    let args = [
        "-p-",
        "--rate",
        "2000",
        "--seed",
        "3",
        "--db",
        db.to_str().unwrap(),
        "--resume-file",
        resume.to_str().unwrap(),
        &target,
    ];
    let (mut child, mut stdout) = spawn_piped(lab.scanner(), &args);
    let mut seen = common::read_answers(&mut stdout, 40);
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) }, 0);
    stdout.read_to_string(&mut seen).unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}: {stderr}");
    let (_, listing, _) = look(&db, &["history"]);
    assert!(listing.lines().nth(1).is_some_and(|l| l.contains(" interrupted ")), "{listing}");

    let resumed = lab
        .scanner()
        .command(SCRY)
        .args(["--resume", resume.to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let (_, listing, _) = look(&db, &["history"]);
    let rows: Vec<&str> = listing.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{listing}");
    assert!(rows[0].starts_with("1 ") && rows[0].contains(" complete "), "{listing}");
    let (_, seen_ports, _) = look(&db, &["show", "1", "--seen"]);
    let open: Vec<&str> = seen_ports.lines().filter(|l| l.contains(" open ")).collect();
    assert_eq!(open.len(), 2, "{seen_ports}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Without `--db`, a scan is kept in the default history; a history given
/// with `--db` that cannot be opened stops the scan before it starts.
#[test]
fn history_is_on_by_default_and_a_bad_db_given_is_fatal() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(&[22])));
    let target = lab.targets()[0].ipv4().to_string();
    scan(lab.scanner(), &["-p", "22,23", &target]);
    // root's default history.
    let db = Path::new("/var/lib/scry/history.db");
    assert!(db.exists());
    let (code, listing, err) = look(db, &["history"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        listing.lines().any(|l| l.ends_with(&format!("  {target}")) && l.contains(" complete ")),
        "{listing}"
    );

    // A file that is not a database: the scan says so and goes on.
    let dir = temp_dir("bad");
    let bad = dir.join("not-a-db");
    std::fs::write(&bad, "not sqlite").unwrap();
    let out = command(lab.scanner(), &["-p", "22", "--no-db", &target]).output().unwrap();
    assert!(out.status.success());
    let with_bad =
        command(lab.scanner(), &["-p", "22", "--db", bad.to_str().unwrap(), &target]).output().unwrap();
    // Given explicitly, a history that cannot be opened is fatal.
    assert_eq!(with_bad.status.code(), Some(1), "{}", String::from_utf8_lossy(&with_bad.stderr));
    let err = String::from_utf8_lossy(&with_bad.stderr);
    assert!(err.contains("is not an SQLite database (it was not changed"), "{err}");
    assert_eq!(std::fs::read(&bad).unwrap(), b"not sqlite");
    std::fs::remove_dir_all(&dir).unwrap();
}
