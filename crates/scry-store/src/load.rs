//! Reading a stored scan back into [`LoadedScan`], on either backend.

use crate::error::Result;
use crate::model::*;
use crate::ports::{parse_protocol, parse_ranges, parse_state};
use crate::read::{bad, from_ms, narrow, rows, status_of, Cells, Dialect, Param, Reader};
use crate::StoreError;
use std::collections::BTreeMap;
use std::net::IpAddr;

const SCAN: &str =
    "SELECT run_id, shard_index, shard_count, seed, targets, excludes, scan_types, args, version,
        started_ms, ended_ms, status, hosts_scanned, hosts_up FROM scans WHERE id = $1";

/// Target ranges in the order written: SQLite's implicit rowid, or
/// PostgreSQL's identity column `seq`, which stands in for it.
const RANGES_SQLITE: &str = "SELECT first, last FROM scan_ranges WHERE scan_id = $1 ORDER BY rowid";
const RANGES_POSTGRES: &str = "SELECT first, last FROM scan_ranges WHERE scan_id = $1 ORDER BY seq";

fn lines(text: &str) -> Vec<String> {
    if text.is_empty() {
        Vec::new()
    } else {
        text.split('\n').map(str::to_owned).collect()
    }
}

fn ip_of(scan: i64, column: &'static str, text: &str) -> Result<IpAddr> {
    text.parse().map_err(|_| bad(scan, column, text))
}

fn ttl_of(scan: i64, column: &'static str, v: Option<i64>) -> Result<Option<u8>> {
    v.map(|t| narrow(scan, column, t)).transpose()
}

/// Loads scan `id` and everything it recorded.
pub(crate) fn load(db: &mut dyn Reader, id: ScanId) -> Result<LoadedScan> {
    let s = id.0;
    let mut record = rows(db, SCAN, &[Param::Int(s)], "loading a scan", |r| record(r, id))?
        .into_iter()
        .next()
        .ok_or(StoreError::NoSuchScan(s))?;
    let doing = "loading a scan";
    let ranges_sql = match db.dialect() {
        Dialect::Sqlite => RANGES_SQLITE,
        Dialect::Postgres => RANGES_POSTGRES,
    };
    record.scope.ranges = rows(db, ranges_sql, &[Param::Int(s)], doing, |r| {
        Ok((ip_of(s, "scan_ranges.first", &r.text(0)?)?, ip_of(s, "scan_ranges.last", &r.text(1)?)?))
    })?;
    let sql = "SELECT proto, ports FROM scan_ports WHERE scan_id = $1";
    let mut by_proto: Vec<_> = rows(db, sql, &[Param::Int(s)], doing, |r| {
        let (proto, list) = (r.text(0)?, r.text(1)?);
        let p = parse_protocol(&proto).ok_or_else(|| bad(s, "scan_ports.proto", &proto))?;
        Ok((p, parse_ranges(&list).ok_or_else(|| bad(s, "scan_ports.ports", &list))?))
    })?;
    by_proto.sort_by_key(|(p, _)| *p);
    record.scope.ports = by_proto;
    if let Some(stats) = &mut record.stats {
        let sql = "SELECT name, value FROM scan_counters WHERE scan_id = $1";
        stats.counters = rows(db, sql, &[Param::Int(s)], doing, |r| Ok((r.text(0)?, r.int(1)? as u64)))?
            .into_iter()
            .collect();
    }
    Ok(LoadedScan {
        record,
        hosts: hosts(db, s)?,
        ports: ports_of(db, s)?,
        os: os(db, s)?,
        rest: rest(db, s)?,
    })
}

/// The scan row; ranges, ports and counters are filled in by [`load`].
fn record(r: &dyn Cells, id: ScanId) -> Result<ScanRecord> {
    let s = id.0;
    let stats = match (r.opt_int(12)?, r.opt_int(13)?) {
        (Some(hosts_scanned), Some(hosts_up)) => Some(ScanStats {
            hosts_scanned: hosts_scanned as u64,
            hosts_up: hosts_up as u64,
            counters: BTreeMap::new(),
        }),
        _ => None,
    };
    Ok(ScanRecord {
        id,
        scope: Scope {
            targets: lines(&r.text(4)?),
            excludes: lines(&r.text(5)?),
            ranges: Vec::new(),
            ports: Vec::new(),
            scan_types: lines(&r.text(6)?),
            // A stored seed is the u64's bit pattern.
            seed: r.opt_int(3)?.map(|v| v as u64),
            shard: (narrow(s, "scans.shard_index", r.int(1)?)?, narrow(s, "scans.shard_count", r.int(2)?)?),
            run_id: r.opt_text(0)?,
        },
        args: r.text(7)?,
        version: r.text(8)?,
        started: from_ms(r.int(9)?),
        ended: r.opt_int(10)?.map(from_ms),
        status: status_of(s, &r.text(11)?)?,
        stats,
    })
}

fn hosts(db: &mut dyn Reader, s: i64) -> Result<Vec<HostObservation>> {
    let sql = "SELECT ip, status, reason, ttl, mac, hostname, seen_ms FROM hosts WHERE scan_id = $1";
    let mut out = rows(db, sql, &[Param::Int(s)], "loading hosts", |r| {
        let status = match r.text(1)?.as_str() {
            "up" => HostStatus::Up,
            "down" => HostStatus::Down,
            other => return Err(bad(s, "hosts.status", other)),
        };
        Ok(HostObservation {
            ip: ip_of(s, "hosts.ip", &r.text(0)?)?,
            status,
            reason: r.text(2)?,
            ttl: ttl_of(s, "hosts.ttl", r.opt_int(3)?)?,
            mac: r.opt_text(4)?,
            hostname: r.opt_text(5)?,
            seen: from_ms(r.int(6)?),
        })
    })?;
    out.sort_by_key(|h| h.ip);
    Ok(out)
}

fn ports_of(db: &mut dyn Reader, s: i64) -> Result<Vec<PortObservation>> {
    let sql = "SELECT ip, proto, port, state, reason, ttl, service, product, version, extrainfo, banner, cpe,
               seen_ms FROM ports WHERE scan_id = $1";
    let mut out = rows(db, sql, &[Param::Int(s)], "loading ports", |r| {
        let (proto, state) = (r.text(1)?, r.text(3)?);
        Ok(PortObservation {
            ip: ip_of(s, "ports.ip", &r.text(0)?)?,
            protocol: parse_protocol(&proto).ok_or_else(|| bad(s, "ports.proto", &proto))?,
            port: narrow(s, "ports.port", r.int(2)?)?,
            state: parse_state(&state).ok_or_else(|| bad(s, "ports.state", &state))?,
            reason: r.text(4)?,
            ttl: ttl_of(s, "ports.ttl", r.opt_int(5)?)?,
            service: Service {
                name: r.opt_text(6)?,
                product: r.opt_text(7)?,
                version: r.opt_text(8)?,
                extrainfo: r.opt_text(9)?,
                banner: r.opt_text(10)?,
                cpe: r.opt_text(11)?.map(|c| lines(&c)).unwrap_or_default(),
            },
            seen: from_ms(r.int(12)?),
        })
    })?;
    out.sort_by_key(|p| (p.ip, p.protocol, p.port));
    Ok(out)
}

fn rest(db: &mut dyn Reader, s: i64) -> Result<Vec<RestObservation>> {
    let sql = "SELECT ip, proto, state, reason, count, seen_ms FROM port_rest WHERE scan_id = $1";
    let mut out = rows(db, sql, &[Param::Int(s)], "loading the ports not recorded one by one", |r| {
        let (proto, state) = (r.text(1)?, r.text(2)?);
        Ok(RestObservation {
            ip: ip_of(s, "port_rest.ip", &r.text(0)?)?,
            protocol: parse_protocol(&proto).ok_or_else(|| bad(s, "port_rest.proto", &proto))?,
            state: parse_state(&state).ok_or_else(|| bad(s, "port_rest.state", &state))?,
            reason: r.text(3)?,
            count: r.int(4)?.max(0) as u64,
            seen: from_ms(r.int(5)?),
        })
    })?;
    out.sort_by_key(|r| (r.ip, r.protocol));
    Ok(out)
}

fn os(db: &mut dyn Reader, s: i64) -> Result<Vec<OsObservation>> {
    let sql = "SELECT ip, name, accuracy FROM os_matches WHERE scan_id = $1 ORDER BY ip, rank";
    let matches = rows(db, sql, &[Param::Int(s)], "loading OS matches", |r| {
        Ok((
            r.text(0)?,
            OsMatchRow { name: r.text(1)?, accuracy: narrow(s, "os_matches.accuracy", r.int(2)?)? },
        ))
    })?;
    let mut by_ip: BTreeMap<String, Vec<OsMatchRow>> = BTreeMap::new();
    for (ip, m) in matches {
        by_ip.entry(ip).or_default().push(m);
    }
    let sql = "SELECT ip, fingerprint, distance, details, seen_ms FROM os WHERE scan_id = $1";
    let mut out = rows(db, sql, &[Param::Int(s)], "loading OS results", |r| {
        let ip = r.text(0)?;
        Ok(OsObservation {
            matches: by_ip.remove(&ip).unwrap_or_default(),
            ip: ip_of(s, "os.ip", &ip)?,
            fingerprint: r.opt_text(1)?,
            distance: ttl_of(s, "os.distance", r.opt_int(2)?)?,
            details: r.opt_text(3)?,
            seen: from_ms(r.int(4)?),
        })
    })?;
    out.sort_by_key(|o| o.ip);
    Ok(out)
}
