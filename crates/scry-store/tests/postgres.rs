//! What only the PostgreSQL backend does: upgrades on a real server, its
//! errors, the server's clock for heartbeats, NUL in text, and racing
//! reruns of one shard. (The behaviour both backends share is tested on
//! both in store.rs, robustness.rs, shards.rs and the import tests.)

mod common;

use common::pg::{cluster, PgCluster};
use common::*;
use scry_probe::services::Protocol;
use scry_probe::state::PortState;
use scry_store::*;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A new database on the temporary cluster, or `None` (with a notice)
/// where PostgreSQL is not installed outside CI.
fn database() -> Option<(Arc<PgCluster>, String)> {
    let cluster = cluster()?;
    let url = cluster.database();
    Some((cluster, url))
}

fn admin(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).unwrap()
}

#[test]
fn a_version_1_database_upgrades_with_its_data() {
    let Some((_cluster, url)) = database() else { return };
    let id = {
        let mut old = PgStore::open_at_version(&url, 1).unwrap();
        assert_eq!(old.schema_version().unwrap(), 1);
        let id = old.begin_scan(&scan(at(0))).unwrap();
        let mut w = old.writer(id, manual()).unwrap();
        let mut ssh = port("198.18.0.1", 22, PortState::Open, "syn-ack", at(1));
        ssh.service.name = Some("ssh".into());
        w.push(Observation::Port(ssh)).unwrap();
        w.finish(ScanStatus::Complete, &ScanStats::default(), at(2)).unwrap();
        id
    };
    let mut db = admin(&url);
    let indexes = |db: &mut postgres::Client| -> Vec<String> {
        db.query("SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT LIKE '%_pkey' ORDER BY 1", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    assert_eq!(indexes(&mut db), ["scan_ranges_scan", "scans_shard"]);

    let store = PgStore::open(&url).unwrap();
    assert_eq!(store.schema_version().unwrap(), schema::LATEST);
    let loaded = store.load_scan(id).unwrap();
    assert_eq!(loaded.record.status, ScanStatus::Complete);
    assert_eq!(loaded.ports.len(), 1);
    assert_eq!(loaded.ports[0].service.name.as_deref(), Some("ssh"));
    assert_eq!(indexes(&mut db), ["ports_by_address", "scan_ranges_scan", "scans_by_scope", "scans_shard"]);
    let seen = store.port_seen(ip("198.18.0.1"), Protocol::Tcp, 22, None).unwrap().unwrap();
    assert_eq!((seen.first_scan, seen.last_scan, seen.scans), (id, id, 1));
    let versions: Vec<i64> = db
        .query("SELECT version FROM schema_migrations ORDER BY version", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, (1..=schema::LATEST).collect::<Vec<_>>());
}

#[test]
fn eight_sessions_opening_a_new_database_at_once_migrate_it_once() {
    let Some((_cluster, url)) = database() else { return };
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PgStore::open(&url).map(|s| s.schema_version().unwrap()))
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().unwrap(), schema::LATEST);
    }
    let n: i64 = admin(&url).query_one("SELECT COUNT(*) FROM schema_migrations", &[]).unwrap().get(0);
    assert_eq!(n, schema::LATEST);
}

#[test]
fn a_database_from_a_newer_scry_is_refused() {
    let Some((cluster, url)) = database() else { return };
    drop(PgStore::open(&url).unwrap());
    admin(&url)
        .execute(
            "INSERT INTO schema_migrations (version, applied_ms) VALUES ($1, 0)",
            &[&(schema::LATEST + 1)],
        )
        .unwrap();
    let err = scry_store::open(&url).err().unwrap();
    let db = url.rsplit('/').next().unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "history database postgres://postgres@127.0.0.1:{}/{db} has schema version {}, newer than this scry \
             knows ({}); use a newer scry or another --db",
            cluster.port,
            schema::LATEST + 1,
            schema::LATEST
        )
    );
}

#[test]
fn a_server_that_cannot_be_reached_is_named_without_the_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // Nothing listens on the port once the listener is dropped.
    let err = scry_store::open(&format!("postgres://scry:s3cret@127.0.0.1:{port}/history")).err().unwrap();
    assert!(matches!(err, StoreError::PgConnect { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "cannot connect to PostgreSQL history database postgres://scry@127.0.0.1:{port}/history: \
             error connecting to server: Connection refused (os error 111)"
        )
    );
}

#[test]
fn a_missing_database_is_reported_with_the_servers_words() {
    let Some(cluster) = cluster() else { return };
    let err = scry_store::open(&cluster.url("nowhere")).err().unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot connect to PostgreSQL history database postgres://postgres@127.0.0.1:{}/nowhere: \
             FATAL: database \"nowhere\" does not exist",
            cluster.port
        )
    );
}

#[test]
fn a_unix_socket_location_works() {
    let Some((cluster, url)) = database() else { return };
    let db = url.rsplit('/').next().unwrap();
    let dir = cluster.socket_dir().to_string_lossy().replace('/', "%2F");
    let location = format!("postgresql://postgres@{dir}:{}/{db}", cluster.port);
    let mut store = scry_store::open(&location).unwrap();
    let id = store.begin_scan(&scan(at(0))).unwrap();
    assert_eq!(PgStore::open(&url).unwrap().list_scans().unwrap()[0].id, id);
}

#[test]
fn heartbeats_are_the_servers_clock_not_the_scanners() {
    let Some((_cluster, url)) = database() else { return };
    let mut store = scry_store::open(&url).unwrap();
    // A scanner whose clock is two hours behind the server's.
    let skewed = SystemTime::now() - Duration::from_secs(7200);
    let id = store.begin_scan(&scan(skewed)).unwrap();
    let mut w = store.writer(id, manual()).unwrap();
    w.push(Observation::Port(port("198.18.0.1", 22, PortState::Open, "syn-ack", skewed))).unwrap();
    w.flush().unwrap();
    assert_eq!(store.mark_stale_interrupted(SystemTime::now(), Duration::from_secs(60)).unwrap(), []);
    let later = SystemTime::now() + Duration::from_secs(120);
    assert_eq!(store.mark_stale_interrupted(later, Duration::from_secs(60)).unwrap(), [id]);
    drop(w);
}

#[test]
fn nul_in_stored_text_becomes_the_replacement_character() {
    let Some((_cluster, url)) = database() else { return };
    let mut store = scry_store::open(&url).unwrap();
    let id = store.begin_scan(&scan(at(0))).unwrap();
    let mut w = store.writer(id, manual()).unwrap();
    let mut p = port("198.18.0.1", 7, PortState::Open, "syn-ack", at(1));
    p.service.banner = Some("echo\0\0ok".into());
    w.push(Observation::Port(p)).unwrap();
    w.finish(ScanStatus::Complete, &ScanStats::default(), at(2)).unwrap();
    let banner = store.load_scan(id).unwrap().ports[0].service.banner.clone();
    assert_eq!(banner.as_deref(), Some("echo\u{FFFD}\u{FFFD}ok"));
}

#[test]
fn two_reruns_of_one_shard_at_once_leave_one() {
    let Some((_cluster, url)) = database() else { return };
    drop(PgStore::open(&url).unwrap());
    let shard = |t| {
        let mut s = scan(at(t));
        s.scope.shard = (2, 3);
        s.scope.run_id = Some("nightly".into());
        s
    };
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (url, new) = (url.clone(), shard(t));
            std::thread::spawn(move || {
                let mut store = PgStore::open(&url).unwrap();
                (0..10).map(|_| store.begin_scan(&new).unwrap()).last().unwrap()
            })
        })
        .collect();
    let ids: Vec<ScanId> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let store = PgStore::open(&url).unwrap();
    let left = store.run_scans("nightly").unwrap();
    assert_eq!(left.len(), 1);
    assert!(ids.contains(&left[0]), "{left:?} {ids:?}");
}
