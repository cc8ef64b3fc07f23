//! Recording, reading back and looking across scans, on SQLite and on
//! PostgreSQL (a temporary cluster, tests/common/pg.rs).

mod common;

use common::*;
use scry_probe::services::Protocol;
use scry_probe::state::PortState;
use scry_store::*;
use std::collections::BTreeMap;
use std::time::Duration;

#[test]
fn a_scan_reads_back_as_written() {
    each_backend(|db| {
        let mut store = db.open();
        let new = scan(at(0));
        let id = store.begin_scan(&new).unwrap();
        let mut w = store.writer(id, manual()).unwrap();
        let ssh = PortObservation {
            service: Service {
                name: Some("ssh".into()),
                product: Some("OpenSSH".into()),
                version: Some("9.2p1".into()),
                extrainfo: Some("protocol 2.0".into()),
                banner: Some("SSH-2.0-OpenSSH_9.2p1".into()),
                cpe: vec!["cpe:/a:openbsd:openssh:9.2p1".into(), "cpe:/o:linux:linux_kernel".into()],
            },
            ..port("198.18.0.2", 22, PortState::Open, "syn-ack", at(1))
        };
        let closed = port("198.18.0.1", 80, PortState::Closed, "reset", at(2));
        let os = OsObservation {
            ip: ip("198.18.0.2"),
            matches: vec![
                OsMatchRow { name: "Linux 5.0 - 6.2".into(), accuracy: 100 },
                OsMatchRow { name: "Linux 4.15".into(), accuracy: 95 },
            ],
            fingerprint: Some("SCAN(V=0.1.0%D=1/15%OT=22%CT=80)\nSEQ(SP=104)".into()),
            distance: Some(1),
            details: Some(r#"{"matches":[{"name":"Linux 5.0 - 6.2","accuracy":100}]}"#.into()),
            seen: at(3),
        };
        let named = HostObservation { hostname: Some("www.lab".into()), ..host("198.18.0.2", at(1)) };
        for o in [
            Observation::Host(named.clone()),
            Observation::Port(ssh.clone()),
            Observation::Host(host("198.18.0.1", at(2))),
            Observation::Port(closed.clone()),
            Observation::Os(os.clone()),
        ] {
            w.push(o).unwrap();
        }
        let stats = ScanStats {
            hosts_scanned: 3,
            hosts_up: 2,
            counters: BTreeMap::from([("sent".into(), 9), ("received".into(), 4)]),
        };
        w.finish(ScanStatus::Complete, &stats, at(5)).unwrap();

        let loaded = store.load_scan(id).unwrap();
        assert_eq!(
            loaded.record,
            ScanRecord {
                id,
                scope: new.scope.clone(),
                args: new.args.clone(),
                version: "0.1.0".into(),
                started: at(0),
                ended: Some(at(5)),
                status: ScanStatus::Complete,
                stats: Some(stats),
            }
        );
        assert_eq!(loaded.hosts, [host("198.18.0.1", at(2)), named]);
        assert_eq!(loaded.ports, [closed, ssh]);
        assert_eq!(loaded.os, [os]);

        let list = store.list_scans().unwrap();
        assert_eq!(
            list,
            [ScanSummary {
                id,
                run_id: None,
                shard: (1, 1),
                started: at(0),
                ended: Some(at(5)),
                status: ScanStatus::Complete,
                targets: "198.18.0.0/30".into(),
                hosts_up: 2,
                open_ports: 1,
                scope_key: new.scope.key(),
            }]
        );
        assert_eq!(new.scope.key(), "targets=198.18.0.0/30;exclude=198.18.0.3;ports=tcp:22,25,80;types=syn");
    });
}

#[test]
fn a_later_observation_replaces_state_and_keeps_known_service_fields() {
    each_backend(|db| {
        let mut store = db.open();
        let id = store.begin_scan(&scan(at(0))).unwrap();
        let mut w = store.writer(id, manual()).unwrap();
        let mut first = port("198.18.0.1", 25, PortState::Filtered, "admin-prohibited", at(1));
        first.service.name = Some("smtp".into());
        w.push(Observation::Port(first)).unwrap();
        w.flush().unwrap();
        w.push(Observation::Port(port("198.18.0.1", 25, PortState::Closed, "reset", at(2)))).unwrap();
        w.finish(ScanStatus::Complete, &ScanStats::default(), at(3)).unwrap();
        let ports = store.load_scan(id).unwrap().ports;
        assert_eq!(ports.len(), 1);
        assert_eq!((ports[0].state, ports[0].reason.as_str()), (PortState::Closed, "reset"));
        assert_eq!((ports[0].service.name.as_deref(), ports[0].seen), (Some("smtp"), at(2)));
    });
}

#[test]
fn the_writer_commits_every_n_rows() {
    each_backend(|db| {
        let mut store = db.open();
        let id = store.begin_scan(&scan(at(0))).unwrap();
        let options = WriterOptions { batch_rows: 3, batch_interval: Duration::from_secs(3600) };
        let mut w = store.writer(id, options).unwrap();
        let reader = db.open();
        let committed = || reader.load_scan(id).unwrap().ports.len();
        for p in [1, 2] {
            w.push(Observation::Port(port("198.18.0.1", p, PortState::Open, "syn-ack", at(1)))).unwrap();
        }
        assert_eq!(committed(), 0);
        w.push(Observation::Port(port("198.18.0.1", 3, PortState::Open, "syn-ack", at(1)))).unwrap();
        assert_eq!(committed(), 3);
        w.push(Observation::Port(port("198.18.0.1", 4, PortState::Open, "syn-ack", at(1)))).unwrap();
        assert_eq!(committed(), 3);
        w.finish(ScanStatus::Complete, &ScanStats::default(), at(2)).unwrap();
        assert_eq!(committed(), 4);
    });
}

#[test]
fn a_spawned_writer_commits_everything_and_marks_the_end() {
    each_backend(|db| {
        let mut store = db.open();
        let id = store.begin_scan(&scan(at(0))).unwrap();
        let options = WriterOptions { batch_rows: 100, batch_interval: Duration::from_millis(5) };
        let w = store.writer(id, options).unwrap().spawn();
        for p in 1..=1000 {
            w.send(Observation::Port(port("198.18.0.1", p, PortState::Closed, "reset", at(1)))).unwrap();
        }
        w.finish(
            ScanStatus::Interrupted,
            ScanStats { hosts_scanned: 3, hosts_up: 1, ..Default::default() },
            at(9),
        )
        .unwrap();
        let loaded = store.load_scan(id).unwrap();
        assert_eq!(loaded.ports.len(), 1000);
        assert_eq!((loaded.record.status, loaded.record.ended), (ScanStatus::Interrupted, Some(at(9))));
    });
}

#[test]
fn port_first_and_last_seen_span_scans() {
    each_backend(|db| {
        let mut store = db.open();
        let mut ids = Vec::new();
        for (i, state) in
            [PortState::Open, PortState::Closed, PortState::Open, PortState::Filtered].iter().enumerate()
        {
            let t = at(100 * i as u64);
            let id = store.begin_scan(&scan(t)).unwrap();
            let mut w = store.writer(id, manual()).unwrap();
            w.push(Observation::Port(port("198.18.0.1", 22, *state, "syn-ack", t + Duration::from_secs(1))))
                .unwrap();
            w.finish(ScanStatus::Complete, &ScanStats::default(), t + Duration::from_secs(2)).unwrap();
            ids.push(id);
        }
        let any = store.port_seen(ip("198.18.0.1"), Protocol::Tcp, 22, None).unwrap().unwrap();
        assert_eq!(
            any,
            PortSeen {
                first: at(1),
                first_scan: ids[0],
                last: at(301),
                last_scan: ids[3],
                last_state: PortState::Filtered,
                scans: 4
            }
        );
        let open =
            store.port_seen(ip("198.18.0.1"), Protocol::Tcp, 22, Some(PortState::Open)).unwrap().unwrap();
        assert_eq!((open.first_scan, open.last_scan, open.last, open.scans), (ids[0], ids[2], at(201), 2));
        assert_eq!(store.port_seen(ip("198.18.0.1"), Protocol::Udp, 22, None).unwrap(), None);
        let last = store.load_scan(ids[3]).unwrap();
        assert_eq!(store.ports_seen(&last).unwrap(), [(ip("198.18.0.1"), Protocol::Tcp, 22, any)]);
    });
}

#[test]
fn ports_seen_gives_each_port_of_a_scan_as_port_seen_does() {
    each_backend(|db| {
        let mut store = db.open();
        let mut write = |t: u64, ports: Vec<PortObservation>| {
            let id = store.begin_scan(&scan(at(t))).unwrap();
            let mut w = store.writer(id, manual()).unwrap();
            for p in ports {
                w.push(Observation::Port(p)).unwrap();
            }
            w.finish(ScanStatus::Complete, &ScanStats::default(), at(t + 5)).unwrap();
            id
        };
        let udp = |host: &str, number, t| PortObservation {
            protocol: Protocol::Udp,
            ..port(host, number, PortState::OpenFiltered, "no-response", at(t))
        };
        let first = write(
            0,
            vec![
                port("198.18.0.1", 22, PortState::Open, "syn-ack", at(1)),
                port("198.18.0.10", 80, PortState::Closed, "reset", at(2)),
            ],
        );
        let second = write(
            100,
            vec![
                port("198.18.0.1", 22, PortState::Closed, "reset", at(101)),
                udp("198.18.0.1", 53, 101),
                port("198.18.0.2", 22, PortState::Open, "syn-ack", at(102)),
                port("198.18.0.10", 80, PortState::Open, "syn-ack", at(103)),
                port("2001:2::1", 443, PortState::Open, "syn-ack", at(104)),
            ],
        );
        let loaded = store.load_scan(second).unwrap();
        let each: Vec<_> = loaded
            .ports
            .iter()
            .map(|p| {
                (p.ip, p.protocol, p.port, store.port_seen(p.ip, p.protocol, p.port, None).unwrap().unwrap())
            })
            .collect();
        let order: Vec<_> =
            each.iter().map(|(ip, proto, port, _)| format!("{ip} {} {port}", proto.as_str())).collect();
        assert_eq!(
            order,
            [
                "198.18.0.1 tcp 22",
                "198.18.0.1 udp 53",
                "198.18.0.2 tcp 22",
                "198.18.0.10 tcp 80",
                "2001:2::1 tcp 443"
            ]
        );
        let ssh = &each[0].3;
        assert_eq!(
            (ssh.first_scan, ssh.last_scan, ssh.scans, ssh.last_state),
            (first, second, 2, PortState::Closed)
        );
        assert_eq!((each[1].3.first_scan, each[1].3.scans), (second, 1));
        assert_eq!(store.ports_seen(&loaded).unwrap(), each);
    });
}

#[test]
fn rerunning_a_shard_replaces_its_rows() {
    each_backend(|db| {
        let mut store = db.open();
        let shard = |i: u32, t| {
            let mut s = scan(at(t));
            s.scope.shard = (i, 2);
            s.scope.run_id = Some("weekly-1".into());
            s
        };
        let first = store.begin_scan(&shard(1, 0)).unwrap();
        let mut w = store.writer(first, manual()).unwrap();
        w.push(Observation::Port(port("198.18.0.1", 22, PortState::Open, "syn-ack", at(1)))).unwrap();
        w.finish(ScanStatus::Interrupted, &ScanStats::default(), at(2)).unwrap();
        let other = store.begin_scan(&shard(2, 0)).unwrap();
        let again = store.begin_scan(&shard(1, 10)).unwrap();
        assert_ne!(first, again);
        assert!(matches!(store.load_scan(first), Err(StoreError::NoSuchScan(_))));
        assert_eq!(store.run_scans("weekly-1").unwrap(), [again, other]);
        assert_eq!(store.port_seen(ip("198.18.0.1"), Protocol::Tcp, 22, None).unwrap(), None);
        assert_eq!(store.list_scans().unwrap().len(), 2);
    });
}

#[test]
fn resume_continues_the_same_record() {
    each_backend(|db| {
        let mut store = db.open();
        let id = store.begin_scan(&scan(at(0))).unwrap();
        let mut w = store.writer(id, manual()).unwrap();
        w.push(Observation::Port(port("198.18.0.1", 22, PortState::Open, "syn-ack", at(1)))).unwrap();
        w.finish(ScanStatus::Interrupted, &ScanStats::default(), at(2)).unwrap();
        store.resume_scan(id, at(50)).unwrap();
        assert_eq!(store.load_scan(id).unwrap().record.status, ScanStatus::Running);
        let mut w = store.writer(id, manual()).unwrap();
        w.push(Observation::Port(port("198.18.0.1", 80, PortState::Open, "syn-ack", at(51)))).unwrap();
        w.finish(ScanStatus::Complete, &ScanStats::default(), at(60)).unwrap();
        let loaded = store.load_scan(id).unwrap();
        assert_eq!(loaded.ports.iter().map(|p| p.port).collect::<Vec<_>>(), [22, 80]);
        assert_eq!((loaded.record.status, loaded.record.ended), (ScanStatus::Complete, Some(at(60))));
        assert!(matches!(store.resume_scan(ScanId(99), at(0)), Err(StoreError::NoSuchScan(99))));
    });
}

/// Records a finished scan of `new` with one open port 22 on 198.18.0.1 when `open`.
fn record(store: &mut dyn History, new: &NewScan, open: bool, status: ScanStatus) -> ScanId {
    let id = store.begin_scan(new).unwrap();
    let mut w = store.writer(id, manual()).unwrap();
    w.push(Observation::Host(host("198.18.0.1", new.started))).unwrap();
    let state = if open { PortState::Open } else { PortState::Closed };
    w.push(Observation::Port(port("198.18.0.1", 22, state, "syn-ack", new.started))).unwrap();
    w.finish(status, &ScanStats::default(), new.started + Duration::from_secs(5)).unwrap();
    id
}

#[test]
fn the_default_diff_is_the_last_two_complete_scans_of_one_scope() {
    each_backend(|db| {
        let mut store = db.open();
        let other_scope = |t| {
            let mut s = scan(at(t));
            s.scope.targets = vec!["198.18.1.0/24".into()];
            s
        };
        assert_eq!(store.last_two_complete().unwrap(), None);
        let first = record(&mut *store, &scan(at(0)), false, ScanStatus::Complete);
        record(&mut *store, &other_scope(10), true, ScanStatus::Complete);
        assert_eq!(store.last_two_complete().unwrap(), None);
        let second = record(&mut *store, &scan(at(20)), true, ScanStatus::Complete);
        record(&mut *store, &scan(at(30)), false, ScanStatus::Interrupted);
        let pair = store.last_two_complete().unwrap().unwrap();
        assert_eq!(pair, (Subject::Scan(first), Subject::Scan(second)));

        let (a, b) = (store.load_subject(&pair.0).unwrap(), store.load_subject(&pair.1).unwrap());
        let d = diff::diff(&a, &b, false).unwrap();
        let mut text = Vec::new();
        diff::write_text(&d, &mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        let body: Vec<&str> = text.lines().skip(2).collect();
        assert_eq!(
            body,
            [
                "",
                " 198.18.0.1, 02:00:00:00:00:01:",
                " PORT   STATE  SERVICE VERSION",
                "-22/tcp closed",
                "+22/tcp open"
            ]
        );
    });
}

#[test]
fn a_run_is_one_scan_once_all_its_shards_are_complete() {
    each_backend(|db| {
        let mut store = db.open();
        let shard = |i: u32, t| {
            let mut s = scan(at(t));
            s.scope.shard = (i, 2);
            s.scope.run_id = Some("nightly-7".into());
            s
        };
        let lone = record(&mut *store, &scan(at(0)), false, ScanStatus::Complete);
        let one = record(&mut *store, &shard(1, 10), true, ScanStatus::Complete);
        let subjects = store.list_subjects().unwrap();
        assert_eq!(subjects.len(), 2);
        assert_eq!(
            (subjects[1].status, subjects[1].missing_shards.clone()),
            (ScanStatus::Interrupted, vec![2])
        );
        assert_eq!(store.last_two_complete().unwrap(), None);
        let two = record(&mut *store, &shard(2, 11), false, ScanStatus::Complete);
        let subjects = store.list_subjects().unwrap();
        let run = &subjects[1];
        assert_eq!(run.subject, Subject::Run("nightly-7".into()));
        assert_eq!(run.scans.iter().map(|s| s.id).collect::<Vec<_>>(), [one, two]);
        // Both shards saw the one host up: it counts once.
        assert_eq!(
            (run.status, run.hosts_up, run.open_ports, run.started),
            (ScanStatus::Complete, 1, 1, at(10))
        );
        assert_eq!(store.subject_of(two).unwrap(), Subject::Run("nightly-7".into()));
        assert_eq!(store.subject_of(lone).unwrap(), Subject::Scan(lone));
        assert_eq!(
            store.last_two_complete().unwrap(),
            Some((Subject::Scan(lone), Subject::Run("nightly-7".into())))
        );
        assert_eq!(store.load_subject(&Subject::Run("nightly-7".into())).unwrap().len(), 2);
        let err = store.load_subject(&Subject::Run("nope".into())).unwrap_err();
        assert_eq!(err.to_string(), "no run \"nope\" in the history database");
    });
}

#[test]
fn the_backend_is_chosen_from_the_location() {
    each_backend(|db| {
        let mut history = scry_store::open(&db.location).unwrap();
        let id = history.begin_scan(&scan(at(0))).unwrap();
        assert_eq!(history.list_scans().unwrap()[0].id, id);
        match db.backend {
            "sqlite" => assert_eq!(Store::open(&db.location).unwrap().list_scans().unwrap()[0].id, id),
            _ => assert_eq!(PgStore::open(&db.location).unwrap().list_scans().unwrap()[0].id, id),
        }
    });
    assert!(is_postgres("postgres://scry@db.lab/history"));
    assert!(is_postgres("postgresql:///history"));
    assert!(!is_postgres("postgres.db"));
}
