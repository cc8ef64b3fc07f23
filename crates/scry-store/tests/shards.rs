//! Issue 16's proof for the shared store: four shards of one run, written
//! at once from four processes into a database none of them has created
//! yet, read back as one scan equal to the same scan run unsharded. On
//! SQLite, then on PostgreSQL.

mod common;

use common::*;
use scry_probe::services::Protocol;
use scry_probe::state::PortState;
use scry_store::*;
use std::process::Command;
use std::time::Duration;

const SHARDS: u32 = 4;
const RUN: &str = "lab-7";
const CHILD_ENV: &str = "SCRY_STORE_TEST_SHARD";

/// A scan of 198.18.0.0/26, ports 22, 80 and 443: shard `index` of
/// `count` of run [`RUN`], or the whole scan when `count` is 1.
fn lab_scan(index: u32, count: u32) -> NewScan {
    let mut new = scan(at(0));
    new.scope.targets = vec!["198.18.0.0/26".into()];
    new.scope.excludes = Vec::new();
    new.scope.ranges = vec![(ip("198.18.0.0"), ip("198.18.0.63"))];
    new.scope.ports = vec![(Protocol::Tcp, vec![22, 80, 443])];
    new.scope.seed = Some(7);
    new.scope.shard = (index, count);
    new.scope.run_id = (count > 1).then(|| RUN.to_owned());
    new.args = format!("scry -p22,80,443 --seed 7 --shard {index}/{count} 198.18.0.0/26");
    new
}

/// What the lab answers, host by host: host `i` is up unless `i % 5 == 0`;
/// its ports are open, closed or filtered by `i`; open ones have a service,
/// and every seventh host an OS result.
fn lab(i: u32) -> Vec<Observation> {
    let addr = format!("198.18.0.{i}");
    let t = at(u64::from(i));
    if i % 5 == 0 {
        return vec![Observation::Host(HostObservation { status: HostStatus::Down, ..host(&addr, t) })];
    }
    let mut out = vec![Observation::Host(host(&addr, t))];
    for (n, number) in [22u16, 80, 443].into_iter().enumerate() {
        let mut p = match (i as usize + n) % 3 {
            0 => port(&addr, number, PortState::Open, "syn-ack", t),
            1 => port(&addr, number, PortState::Closed, "reset", t),
            _ => continue,
        };
        if p.state == PortState::Open {
            p.service.name = Some(["ssh", "http", "https"][n].into());
            p.service.banner = Some(format!("banner of {addr}:{number}"));
        }
        out.push(Observation::Port(p));
    }
    if i % 7 == 0 {
        out.push(Observation::Os(OsObservation {
            ip: ip(&addr),
            matches: vec![OsMatchRow { name: "Linux 5.0 - 6.2".into(), accuracy: 100 }],
            fingerprint: Some("SCAN(V=0.1.0)".into()),
            distance: Some(1),
            details: None,
            seen: t,
        }));
    }
    out
}

/// Writes `new` with the lab's hosts `hosts`, through a spawned writer, complete.
fn write(store: &mut dyn History, new: &NewScan, hosts: impl Iterator<Item = u32>) -> ScanId {
    let id = store.begin_scan(new).unwrap();
    let options = WriterOptions { batch_rows: 16, batch_interval: Duration::from_millis(5) };
    let w = store.writer(id, options).unwrap().spawn();
    let (mut scanned, mut up) = (0, 0);
    for i in hosts {
        scanned += 1;
        up += u64::from(i % 5 != 0);
        for o in lab(i) {
            w.send(o).unwrap();
        }
    }
    let stats = ScanStats { hosts_scanned: scanned, hosts_up: up, ..ScanStats::default() };
    w.finish(ScanStatus::Complete, stats, at(100)).unwrap();
    id
}

/// Run by the test below in four child processes: shard `index` of the run.
#[test]
fn child_writes_one_shard() {
    let Ok(job) = std::env::var(CHILD_ENV) else { return };
    let (index, location) = job.split_once(' ').unwrap();
    let index: u32 = index.parse().unwrap();
    let mut store = scry_store::open(location).unwrap();
    // Shard k takes every fourth address, as the target permutation splits them.
    write(&mut *store, &lab_scan(index, SHARDS), (0..64).filter(|i| i % SHARDS == index - 1));
}

#[test]
fn four_shards_from_four_processes_equal_one_unsharded_run() {
    each_backend(|db| {
        let children: Vec<_> = (1..=SHARDS)
            .map(|index| {
                Command::new(std::env::current_exe().unwrap())
                    .args(["--exact", "child_writes_one_shard", "--test-threads=1"])
                    .env(CHILD_ENV, format!("{index} {}", db.location))
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "a shard's process failed: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        let mut store = db.open();
        let whole_id = write(&mut *store, &lab_scan(1, 1), 0..64);
        let whole = store.load_scan(whole_id).unwrap();
        let run_subject = Subject::Run(RUN.into());
        let shards = store.load_subject(&run_subject).unwrap();
        assert_eq!(
            shards.iter().map(|s| s.record.scope.shard).collect::<Vec<_>>(),
            [(1, 4), (2, 4), (3, 4), (4, 4)]
        );

        let mut hosts: Vec<_> = shards.iter().flat_map(|s| s.hosts.clone()).collect();
        hosts.sort_by_key(|h| h.ip);
        let mut ports: Vec<_> = shards.iter().flat_map(|s| s.ports.clone()).collect();
        ports.sort_by_key(|p| (p.ip, p.protocol, p.port));
        let mut os: Vec<_> = shards.iter().flat_map(|s| s.os.clone()).collect();
        os.sort_by_key(|o| o.ip);
        assert_eq!((hosts.len(), ports.len(), os.len()), (64, 102, 8));
        assert_eq!(hosts, whole.hosts);
        assert_eq!(ports, whole.ports);
        assert_eq!(os, whole.os);

        let subjects = store.list_subjects().unwrap();
        let run = subjects.iter().find(|s| s.subject == run_subject).unwrap();
        let lone = subjects.iter().find(|s| s.subject == Subject::Scan(whole_id)).unwrap();
        assert_eq!((run.status, run.missing_shards.as_slice()), (ScanStatus::Complete, &[][..]));
        assert_eq!((run.hosts_up, run.open_ports), (lone.hosts_up, lone.open_ports));
        assert_eq!((run.hosts_up, run.open_ports), (51, 51));
        assert_eq!(store.last_two_complete().unwrap(), Some((run_subject, Subject::Scan(whole_id))));
        let d = diff::diff(&shards, std::slice::from_ref(&whole), false).unwrap();
        assert!(!d.has_changes(), "{:?}", d.changes);
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    });
}
