//! A database that cannot be used is reported and left alone; scans cut
//! short stay consistent; two writers at once both succeed. What the two
//! backends share runs on SQLite, then on PostgreSQL.

mod common;

use common::*;
use scry_probe::state::PortState;
use scry_store::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

fn temp_path() -> (tempfile::TempDir, PathBuf) {
    // Under the target directory: a real file system, where `chattr` works.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let path = dir.path().join("history.db");
    (dir, path)
}

#[test]
fn a_file_that_is_not_a_database_is_refused_and_left_alone() {
    let (_dir, path) = temp_path();
    let text = "198.18.0.1 22/tcp open\n".repeat(300);
    std::fs::write(&path, &text).unwrap();
    let err = Store::open(&path).err().unwrap();
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "{} is not an SQLite database (it was not changed; use --db to choose another file)",
            path.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn a_corrupt_database_is_refused_and_left_alone() {
    let (_dir, path) = temp_path();
    drop(Store::open(&path).unwrap());
    // Fold the WAL into the file, then overwrite the schema on page 1 after the header.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA journal_mode = DELETE").unwrap();
    drop(conn);
    let mut bytes = std::fs::read(&path).unwrap();
    for b in &mut bytes[100..2000] {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
    let err = Store::open(&path).err().unwrap();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&format!("history database {} is corrupt: ", path.display())),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

#[test]
fn a_database_from_a_newer_scry_is_refused() {
    let (_dir, path) = temp_path();
    drop(Store::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("INSERT INTO schema_migrations (version, applied_ms) VALUES (?1, 0)", [schema::LATEST + 1])
        .unwrap();
    drop(conn);
    let err = Store::open(&path).err().unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "history database {} has schema version {}, newer than this scry knows ({}); \
             use a newer scry or another --db",
            path.display(),
            schema::LATEST + 1,
            schema::LATEST
        )
    );
}

/// Makes `path` unwritable even for root: `chattr +i` (root ignores modes).
fn make_read_only(path: &Path) -> bool {
    let mut perms = std::fs::metadata(path).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(path, perms).unwrap();
    if std::fs::OpenOptions::new().write(true).open(path).is_err() {
        return false;
    }
    let status = Command::new("chattr").arg("+i").arg(path).status().expect("running chattr");
    assert!(status.success(), "chattr +i {} failed: root needs it to make a file read-only", path.display());
    true
}

#[test]
fn a_read_only_database_is_named_as_such() {
    let (_dir, path) = temp_path();
    drop(Store::open(&path).unwrap());
    // Fold the WAL in so the file alone holds the database.
    rusqlite::Connection::open(&path).unwrap().execute_batch("PRAGMA journal_mode = DELETE").unwrap();
    let immutable = make_read_only(&path);
    let result = Store::open(&path);
    if immutable {
        Command::new("chattr").arg("-i").arg(&path).status().unwrap();
    }
    let err = result.err().unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "history database {} is read-only; scry needs to write it and the -wal and -shm files \
             beside it (use --db to choose another file, or --no-db)",
            path.display()
        )
    );
}

#[test]
fn a_database_that_cannot_be_created_says_where() {
    let (dir, _) = temp_path();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "").unwrap();
    let path = blocker.join("history.db");
    let err = Store::open(&path).err().unwrap();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&format!("cannot open history database {}: ", path.display())),
        "{err}"
    );
}

#[test]
fn a_writer_dropped_without_finish_leaves_the_scan_running_until_marked() {
    each_backend(|db| {
        let mut store = db.open();
        let id = store.begin_scan(&scan(SystemTime::now())).unwrap();
        let mut w = store.writer(id, manual()).unwrap();
        w.push(Observation::Port(port("198.18.0.1", 22, PortState::Open, "syn-ack", at(1)))).unwrap();
        drop(w);
        let loaded = store.load_scan(id).unwrap();
        assert_eq!(
            (loaded.record.status, loaded.ports.len(), loaded.record.ended),
            (ScanStatus::Running, 1, None)
        );
        // A live writer commits every batch interval: within a minute it is not stale.
        let now = SystemTime::now();
        assert_eq!(store.mark_stale_interrupted(now, Duration::from_secs(60)).unwrap(), []);
        let later = now + Duration::from_secs(120);
        assert_eq!(store.mark_stale_interrupted(later, Duration::from_secs(60)).unwrap(), [id]);
        let loaded = store.load_scan(id).unwrap();
        assert_eq!(loaded.record.status, ScanStatus::Interrupted);
        assert!(loaded.record.ended.is_some_and(|t| t <= now));
        assert_eq!(store.mark_stale_interrupted(later, Duration::from_secs(60)).unwrap(), []);
    });
}

const CHILD_ENV: &str = "SCRY_STORE_TEST_CHILD_DB";

/// Run by the test below in a child process: writes one port a commit, forever.
#[test]
fn child_writes_until_killed() {
    let Ok(location) = std::env::var(CHILD_ENV) else { return };
    let mut store = scry_store::open(&location).unwrap();
    let id = store.begin_scan(&scan(SystemTime::now())).unwrap();
    let options = WriterOptions { batch_rows: 7, batch_interval: Duration::from_secs(3600) };
    let mut w = store.writer(id, options).unwrap();
    for n in 0u32.. {
        let o = port("198.18.0.1", (n % 65535 + 1) as u16, PortState::Open, "syn-ack", at(n.into()));
        let host = format!("198.18.{}.{}", n / 65535 % 256, 1 + n / 65535 / 256);
        w.push(Observation::Port(PortObservation { ip: ip(&host), ..o })).unwrap();
    }
}

#[test]
fn a_scan_killed_mid_write_leaves_a_consistent_database() {
    each_backend(|db| {
        drop(db.open());
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_writes_until_killed", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &db.location)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let reader = db.open();
        // Wait for a few commits, then kill -9 in the middle of writing.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let rows = reader.list_scans().unwrap().first().map_or(0, |s| s.open_ports);
            if rows >= 700 || std::time::Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        drop(reader);

        if db.backend == "sqlite" {
            let conn = rusqlite::Connection::open(&db.location).unwrap();
            let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
            assert_eq!(check, "ok");
        }
        let mut store = db.open();
        let scans = store.list_scans().unwrap();
        assert_eq!(scans.len(), 1);
        assert_eq!(scans[0].status, ScanStatus::Running);
        // Whole batches only: every commit holds 7 rows.
        assert!(scans[0].open_ports >= 700, "{}", scans[0].open_ports);
        assert_eq!(scans[0].open_ports % 7, 0, "{}", scans[0].open_ports);
        let later = SystemTime::now() + Duration::from_secs(3600);
        assert_eq!(store.mark_stale_interrupted(later, Duration::from_secs(60)).unwrap(), [scans[0].id]);
    });
}

#[test]
fn two_scans_write_at_once_and_both_succeed() {
    each_backend(|db| {
        drop(db.open());
        let threads: Vec<_> = (0..2)
            .map(|t| {
                let location = db.location.clone();
                std::thread::spawn(move || {
                    let mut store = scry_store::open(&location).unwrap();
                    let id = store.begin_scan(&scan(at(t))).unwrap();
                    let options =
                        WriterOptions { batch_rows: 250, batch_interval: Duration::from_secs(3600) };
                    let mut w = store.writer(id, options).unwrap();
                    for n in 0..20_000u32 {
                        let host = format!("198.18.{}.{}", t, n / 1000);
                        let o = port(&host, (n % 1000 + 1) as u16, PortState::Open, "syn-ack", at(n.into()));
                        w.push(Observation::Port(o)).unwrap();
                    }
                    w.finish(ScanStatus::Complete, &ScanStats::default(), at(99_999)).unwrap();
                    id
                })
            })
            .collect();
        let ids: Vec<ScanId> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let store = db.open();
        for id in ids {
            let loaded = store.load_scan(id).unwrap();
            assert_eq!((loaded.record.status, loaded.ports.len()), (ScanStatus::Complete, 20_000));
        }
    });
}

const WRITER_ENV: &str = "SCRY_STORE_TEST_WRITER_DB";

/// Run by the test below in two child processes at once: one whole scan.
#[test]
fn child_writes_one_scan() {
    let Ok(location) = std::env::var(WRITER_ENV) else { return };
    let mut store = scry_store::open(&location).unwrap();
    let id = store.begin_scan(&scan(SystemTime::now())).unwrap();
    let options = WriterOptions { batch_rows: 200, batch_interval: Duration::from_secs(3600) };
    let w = store.writer(id, options).unwrap().spawn();
    // As the CLI does: the store that began the scan closes while its writer writes.
    drop(store);
    for n in 0..20_000u32 {
        if n == 10_000 {
            // Opening (and closing) another connection must not drop the
            // writer's locks: closing any descriptor of the file drops a
            // process's POSIX locks on it.
            drop(scry_store::open(&location).unwrap());
        }
        let host = format!("198.18.{}.{}", std::process::id() % 200, n / 1000);
        let o = port(&host, (n % 1000 + 1) as u16, PortState::Open, "syn-ack", at(n.into()));
        w.send(Observation::Port(o)).unwrap();
    }
    w.finish(ScanStatus::Complete, ScanStats::default(), SystemTime::now()).unwrap();
}

#[test]
fn two_processes_write_at_once_and_both_succeed() {
    each_backend(|db| {
        drop(db.open());
        let children: Vec<_> = (0..2)
            .map(|_| {
                Command::new(std::env::current_exe().unwrap())
                    .args(["--exact", "child_writes_one_scan", "--test-threads=1"])
                    .env(WRITER_ENV, &db.location)
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut child in children {
            assert!(child.wait().unwrap().success());
        }
        let store = db.open();
        let scans = store.list_scans().unwrap();
        let summary: Vec<(ScanStatus, u64)> = scans.iter().map(|s| (s.status, s.open_ports)).collect();
        assert_eq!(summary, [(ScanStatus::Complete, 20_000), (ScanStatus::Complete, 20_000)]);
    });
}
