//! Reading a stored scan back into [`LoadedScan`].

use crate::error::Doing;
use crate::error::{Result, StoreError};
use crate::model::*;
use crate::ports::parse_ranges;
use crate::ports::{parse_protocol, parse_state};
use crate::store::{from_ms, status_of};
use rusqlite::Connection;
use rusqlite::OptionalExtension;
use scry_probe::services::Protocol;
use std::collections::BTreeMap;
use std::net::IpAddr;

type Ranges = Vec<(IpAddr, IpAddr)>;
type PortLists = Vec<(Protocol, Vec<u16>)>;

const SCAN: &str =
    "SELECT run_id, shard_index, shard_count, seed, targets, excludes, scan_types, args, version,
        started_ms, ended_ms, status, hosts_scanned, hosts_up FROM scans WHERE id = ?1";

type ScanRow = (
    Option<String>,
    (u32, u32),
    Option<i64>,
    [String; 5],
    (i64, Option<i64>, String),
    (Option<i64>, Option<i64>),
);

fn lines(text: &str) -> Vec<String> {
    if text.is_empty() {
        Vec::new()
    } else {
        text.split('\n').map(str::to_owned).collect()
    }
}

fn bad(scan: i64, column: &'static str, value: &str) -> StoreError {
    StoreError::BadValue { scan, column, value: value.into() }
}

fn ip_of(scan: i64, column: &'static str, text: &str) -> Result<IpAddr> {
    text.parse().map_err(|_| bad(scan, column, text))
}

fn ttl_of(scan: i64, column: &'static str, v: Option<i64>) -> Result<Option<u8>> {
    v.map(|t| u8::try_from(t).map_err(|_| bad(scan, column, &t.to_string()))).transpose()
}

/// Loads scan `id` and everything it recorded.
pub(crate) fn load(conn: &Connection, id: ScanId) -> Result<LoadedScan> {
    let s = id.0;
    let row: ScanRow = scan_row(conn, SCAN, s, |r| {
        Ok((
            r.get(0)?,
            (r.get(1)?, r.get(2)?),
            r.get(3)?,
            [r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?],
            (r.get(9)?, r.get(10)?, r.get(11)?),
            (r.get(12)?, r.get(13)?),
        ))
    })?;
    let (
        run_id,
        shard,
        seed,
        [targets, excludes, scan_types, args, version],
        (started, ended, status),
        counts,
    ) = row;
    let doing = "loading a scan";
    let range_rows = rows_of(
        conn,
        "SELECT first, last FROM scan_ranges WHERE scan_id = ?1 ORDER BY rowid",
        s,
        doing,
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let port_rows = rows_of(conn, "SELECT proto, ports FROM scan_ports WHERE scan_id = ?1", s, doing, |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    let (ranges, ports) = scope_lists(s, range_rows, port_rows)?;
    let counters: BTreeMap<String, u64> =
        rows_of(conn, "SELECT name, value FROM scan_counters WHERE scan_id = ?1", s, doing, |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?
        .into_iter()
        .collect();
    let status = status_of(s, &status)?;
    let stats = match counts {
        (Some(hosts_scanned), Some(hosts_up)) => {
            Some(ScanStats { hosts_scanned: hosts_scanned as u64, hosts_up: hosts_up as u64, counters })
        }
        _ => None,
    };
    let record = ScanRecord {
        id,
        scope: Scope {
            targets: lines(&targets),
            excludes: lines(&excludes),
            ranges,
            ports,
            scan_types: lines(&scan_types),
            seed: seed_of(seed),
            shard,
            run_id,
        },
        args,
        version,
        started: from_ms(started),
        ended: ended.map(from_ms),
        status,
        stats,
    };
    Ok(LoadedScan {
        record,
        hosts: hosts(conn, s)?,
        ports: ports_of(conn, s)?,
        os: os(conn, s)?,
        rest: rest(conn, s)?,
    })
}

fn hosts(conn: &Connection, s: i64) -> Result<Vec<HostObservation>> {
    let sql = "SELECT ip, status, reason, ttl, mac, hostname, seen_ms FROM hosts WHERE scan_id = ?1";
    let rows = rows_of(conn, sql, s, "loading hosts", |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get(2)?,
            r.get(3)?,
            (r.get(4)?, r.get(5)?),
            r.get(6)?,
        ))
    })?;
    let mut out = Vec::with_capacity(rows.len());
    for (ip, status, reason, ttl, (mac, hostname), seen) in rows {
        let status = match status.as_str() {
            "up" => HostStatus::Up,
            "down" => HostStatus::Down,
            _ => return Err(bad(s, "hosts.status", &status)),
        };
        out.push(HostObservation {
            ip: ip_of(s, "hosts.ip", &ip)?,
            status,
            reason,
            ttl: ttl_of(s, "hosts.ttl", ttl)?,
            mac,
            hostname,
            seen: from_ms(seen),
        });
    }
    out.sort_by_key(|h| h.ip);
    Ok(out)
}

type PortRow = (String, String, u16, String, String, Option<i64>, [Option<String>; 6], i64);

fn ports_of(conn: &Connection, s: i64) -> Result<Vec<PortObservation>> {
    let sql = "SELECT ip, proto, port, state, reason, ttl, service, product, version, extrainfo, banner, cpe,
               seen_ms FROM ports WHERE scan_id = ?1";
    let rows: Vec<PortRow> = rows_of(conn, sql, s, "loading ports", |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            [r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?, r.get(11)?],
            r.get(12)?,
        ))
    })?;
    let mut out = Vec::with_capacity(rows.len());
    for (ip, proto, port, state, reason, ttl, [name, product, version, extrainfo, banner, cpe], seen) in rows
    {
        out.push(PortObservation {
            ip: ip_of(s, "ports.ip", &ip)?,
            protocol: parse_protocol(&proto).ok_or_else(|| bad(s, "ports.proto", &proto))?,
            port,
            state: parse_state(&state).ok_or_else(|| bad(s, "ports.state", &state))?,
            reason,
            ttl: ttl_of(s, "ports.ttl", ttl)?,
            service: Service {
                name,
                product,
                version,
                extrainfo,
                banner,
                cpe: cpe.map(|c| lines(&c)).unwrap_or_default(),
            },
            seen: from_ms(seen),
        });
    }
    out.sort_by_key(|p| (p.ip, p.protocol, p.port));
    Ok(out)
}

fn rest(conn: &Connection, s: i64) -> Result<Vec<RestObservation>> {
    // A database from before version 4 has no such table, and no rest.
    let sql = "SELECT ip, proto, state, reason, count, seen_ms FROM port_rest WHERE scan_id = ?1";
    let rows = rows_of(conn, sql, s, "loading the ports not recorded one by one", |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get(3)?,
            r.get::<_, i64>(4)?,
            r.get(5)?,
        ))
    })?;
    let mut out = Vec::with_capacity(rows.len());
    for (ip, proto, state, reason, count, seen) in rows {
        out.push(RestObservation {
            ip: ip_of(s, "port_rest.ip", &ip)?,
            protocol: parse_protocol(&proto).ok_or_else(|| bad(s, "port_rest.proto", &proto))?,
            state: parse_state(&state).ok_or_else(|| bad(s, "port_rest.state", &state))?,
            reason,
            count: count.max(0) as u64,
            seen: from_ms(seen),
        });
    }
    out.sort_by_key(|r| (r.ip, r.protocol));
    Ok(out)
}

fn os(conn: &Connection, s: i64) -> Result<Vec<OsObservation>> {
    let sql = "SELECT ip, fingerprint, distance, details, seen_ms FROM os WHERE scan_id = ?1";
    let rows = rows_of(conn, sql, s, "loading OS results", |r| {
        Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })?;
    let sql = "SELECT ip, name, accuracy FROM os_matches WHERE scan_id = ?1 ORDER BY ip, rank";
    let matches = rows_of(conn, sql, s, "loading OS matches", |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, u8>(2)?))
    })?;
    let mut by_ip: BTreeMap<String, Vec<OsMatchRow>> = BTreeMap::new();
    for (ip, name, accuracy) in matches {
        by_ip.entry(ip).or_default().push(OsMatchRow { name, accuracy });
    }
    let mut out = Vec::with_capacity(rows.len());
    for (ip, fingerprint, distance, details, seen) in rows {
        out.push(OsObservation {
            matches: by_ip.remove(&ip).unwrap_or_default(),
            ip: ip_of(s, "os.ip", &ip)?,
            fingerprint,
            details,
            distance: ttl_of(s, "os.distance", distance)?,
            seen: from_ms(seen),
        });
    }
    out.sort_by_key(|o| o.ip);
    Ok(out)
}

/// Reads the stored scope lists back.
fn scope_lists(
    scan: i64,
    ranges_rows: Vec<(String, String)>,
    port_rows: Vec<(String, String)>,
) -> Result<(Ranges, PortLists)> {
    let ip = |column: &'static str, text: &str| {
        text.parse::<IpAddr>().map_err(|_| StoreError::BadValue { scan, column, value: text.into() })
    };
    let mut ranges_out = Vec::new();
    for (first, last) in ranges_rows {
        ranges_out.push((ip("scan_ranges.first", &first)?, ip("scan_ranges.last", &last)?));
    }
    let mut by_proto = BTreeMap::new();
    for (proto, list) in port_rows {
        let p = parse_protocol(&proto).ok_or_else(|| StoreError::BadValue {
            scan,
            column: "scan_ports.proto",
            value: proto.clone(),
        })?;
        let ports = parse_ranges(&list).ok_or_else(|| StoreError::BadValue {
            scan,
            column: "scan_ports.ports",
            value: list.clone(),
        })?;
        by_proto.insert(p, ports);
    }
    Ok((ranges_out, by_proto.into_iter().collect()))
}

/// A stored seed (an `i64` bit pattern) as the `u64` it was.
fn seed_of(v: Option<i64>) -> Option<u64> {
    v.map(|v| v as u64)
}

/// Rows of `stmt` with one scan id parameter, as owned values.
fn rows_of<T>(
    conn: &Connection,
    sql: &str,
    id: i64,
    doing: &'static str,
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).doing(doing)?;
    let rows = stmt.query_map([id], f).doing(doing)?;
    rows.collect::<rusqlite::Result<_>>().doing(doing)
}

/// The scan row, if any.
fn scan_row<T>(
    conn: &Connection,
    sql: &str,
    id: i64,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<T> {
    conn.query_row(sql, [id], f).optional().doing("loading a scan")?.ok_or(StoreError::NoSuchScan(id))
}
