//! The shared history on PostgreSQL (docs/history.md): four shards of one
//! run, scanned by four processes at once into one database, are one scan
//! that equals the same scan unsharded; a shard run again replaces its
//! rows. The server is a temporary cluster of Debian's PostgreSQL,
//! reached over its Unix socket (the scans run in the lab's namespace).

mod common;
#[path = "../../scry-store/tests/common/pg.rs"]
mod pg;

use common::{command, SCRY};
use scry_lab::{lab_or_skip, Lab, TargetSpec};
use std::process::{Command, Stdio};

fn look(db: &str, words: &[&str]) -> (i32, String, String) {
    let out = Command::new(SCRY).args(words).args(["--db", db]).stdin(Stdio::null()).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

#[test]
fn four_shards_into_postgres_equal_one_unsharded_scan() {
    let lab = lab_or_skip!(Lab::builder()
        .targets([TargetSpec::new().tcp_listen(&[22, 80]), TargetSpec::new().tcp_listen(&[443, 1500]),]));
    let Some(cluster) = pg::cluster() else { return };
    let url = cluster.database();
    let name = url.rsplit('/').next().unwrap();
    let dir = cluster.socket_dir().to_string_lossy().replace('/', "%2F");
    let db = format!("postgresql://postgres@{dir}:{}/{name}", cluster.port);
    let targets: Vec<String> = lab.targets().iter().map(|t| t.ipv4().to_string()).collect();
    let scan_args = |extra: &[&str]| {
        let mut args = vec!["-p", "1-2000", "--seed", "11", "--db", &db];
        args.extend_from_slice(extra);
        args.extend(targets.iter().map(String::as_str));
        args.into_iter().map(str::to_owned).collect::<Vec<String>>()
    };
    let shards: Vec<Vec<String>> =
        (0..4).map(|i| scan_args(&["--run-id", "nightly", "--shard", &format!("{i}/4")])).collect();
    let running: Vec<_> = shards
        .iter()
        .map(|args| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            command(lab.scanner(), &args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    for child in running {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let whole = scan_args(&[]);
    let whole: Vec<&str> = whole.iter().map(String::as_str).collect();
    let out = command(lab.scanner(), &whole).stdout(Stdio::null()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let (code, listing, err) = look(&db, &["history"]);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<&str> = listing.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{listing}");
    assert!(rows[0].starts_with("nightly (4 shards)") && rows[0].contains(" complete "), "{listing}");
    assert!(rows[1].starts_with("5 ") && rows[1].contains(" complete "), "{listing}");
    // Same hosts up and open ports: 2 hosts, 4 open.
    for row in &rows {
        let words: Vec<&str> = row.split_whitespace().collect();
        let at = words.iter().position(|w| *w == "complete").unwrap();
        assert_eq!(&words[at + 1..at + 3], ["2", "4"], "{listing}");
    }
    let (code, out, err) = look(&db, &["diff", "--json", "nightly", "5"]);
    assert_eq!((code, out.lines().count()), (0, 1), "{out}{err}");

    // Shard 2 again: its rows are replaced, not added to.
    let out = command(lab.scanner(), &shards[2].iter().map(String::as_str).collect::<Vec<_>>())
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    let (_, again, _) = look(&db, &["history"]);
    let rows: Vec<&str> = again.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{again}");
    assert!(rows.iter().all(|r| r.contains(" complete ")), "{again}");
    let (code, out, err) = look(&db, &["diff", "--json", "nightly", "5"]);
    assert_eq!((code, out.lines().count()), (0, 1), "{out}{err}");
}
