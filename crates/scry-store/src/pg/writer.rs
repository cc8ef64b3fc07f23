//! [`PgWriter`]: a scan's batched writer into PostgreSQL, on a session of
//! its own.
//!
//! The rules are [`crate::Writer`]'s: one transaction every
//! [`WriterOptions::batch_rows`] observations or
//! [`WriterOptions::batch_interval`], which also stamps the heartbeat (here
//! with the server's clock); a later observation of a port or host
//! replaces its state and keeps service fields it leaves empty. A batch
//! goes to the server as one `INSERT ... SELECT FROM UNNEST(arrays) ON
//! CONFLICT DO UPDATE` per table instead of a round trip per row; since one
//! such statement may not touch a row twice, the batch is first merged in
//! memory by the same rule the upsert applies.

use super::{finish_in, pg_text, server_ms, target_error};
use crate::error::{Result, StoreError};
use crate::history::ObservationWriter;
use crate::model::*;
use crate::read::to_ms;
use crate::writer::{Batch, WriterOptions};
use postgres::{Client, Statement, Transaction};
use scry_probe::services::Protocol;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

const PORT_UPSERT: &str = "
INSERT INTO ports AS p (scan_id, ip, proto, port, state, reason, ttl, service, product, version, extrainfo,
                        banner, cpe, seen_ms)
SELECT $1::BIGINT, * FROM UNNEST($2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::TEXT[], $6::TEXT[], $7::BIGINT[],
                                 $8::TEXT[], $9::TEXT[], $10::TEXT[], $11::TEXT[], $12::TEXT[], $13::TEXT[],
                                 $14::BIGINT[])
ON CONFLICT (scan_id, ip, proto, port) DO UPDATE SET
    state = excluded.state, reason = excluded.reason, ttl = excluded.ttl,
    service = COALESCE(excluded.service, p.service), product = COALESCE(excluded.product, p.product),
    version = COALESCE(excluded.version, p.version), extrainfo = COALESCE(excluded.extrainfo, p.extrainfo),
    banner = COALESCE(excluded.banner, p.banner), cpe = COALESCE(excluded.cpe, p.cpe),
    seen_ms = excluded.seen_ms";

const HOST_UPSERT: &str = "
INSERT INTO hosts AS h (scan_id, ip, status, reason, ttl, mac, hostname, seen_ms)
SELECT $1::BIGINT, * FROM UNNEST($2::TEXT[], $3::TEXT[], $4::TEXT[], $5::BIGINT[], $6::TEXT[], $7::TEXT[],
                                 $8::BIGINT[])
ON CONFLICT (scan_id, ip) DO UPDATE SET
    status = excluded.status, reason = excluded.reason, ttl = excluded.ttl,
    mac = COALESCE(excluded.mac, h.mac), hostname = COALESCE(excluded.hostname, h.hostname),
    seen_ms = excluded.seen_ms";

/// A scan's batched writer into PostgreSQL.
pub struct PgWriter {
    client: Client,
    target: String,
    scan: ScanId,
    batch: Batch,
    /// Prepared once: a batch is then one round trip per statement.
    statements: Statements,
}

/// The writer's statements, prepared on its session.
struct Statements {
    heartbeat: Statement,
    ports: Statement,
    hosts: Statement,
}

impl PgWriter {
    pub(crate) fn new(
        mut client: Client,
        target: String,
        scan: ScanId,
        options: WriterOptions,
    ) -> Result<PgWriter> {
        let exists: bool = client
            .query_one("SELECT EXISTS (SELECT 1 FROM scans WHERE id = $1)", &[&scan.0])
            .map_err(target_error(&target, "finding the scan to write"))?
            .get(0);
        if !exists {
            return Err(StoreError::NoSuchScan(scan.0));
        }
        let statements = {
            let e = target_error(&target, "preparing the writer's statements");
            let heartbeat = format!("UPDATE scans SET heartbeat_ms = {} WHERE id = $1", server_ms());
            Statements {
                heartbeat: client.prepare(&heartbeat).map_err(&e)?,
                ports: client.prepare(PORT_UPSERT).map_err(&e)?,
                hosts: client.prepare(HOST_UPSERT).map_err(&e)?,
            }
        };
        Ok(PgWriter { client, target, scan, batch: Batch::new(options), statements })
    }

    /// Writes the buffer and, when `end` is given, the scan's end, in one transaction.
    fn commit(&mut self, end: Option<(ScanStatus, &ScanStats, SystemTime)>) -> Result<()> {
        let mut tx = self.client.transaction().map_err(target_error(&self.target, "beginning a write"))?;
        write_batch(&mut tx, &self.statements, &self.target, self.scan, &self.batch.rows)?;
        if let Some((status, stats, ended)) = end {
            finish_in(&mut tx, &self.target, self.scan, status, stats, ended)?;
        }
        tx.commit().map_err(target_error(&self.target, "committing observations"))?;
        self.batch.committed();
        Ok(())
    }
}

impl ObservationWriter for PgWriter {
    fn scan(&self) -> ScanId {
        self.scan
    }

    fn batch_interval(&self) -> Duration {
        self.batch.options.batch_interval
    }

    fn push(&mut self, observation: Observation) -> Result<()> {
        if self.batch.push(observation) {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.commit(None)
    }

    fn finish(mut self: Box<Self>, status: ScanStatus, stats: &ScanStats, ended: SystemTime) -> Result<()> {
        self.commit(Some((status, stats, ended)))
    }
}

impl Drop for PgWriter {
    /// Commits what is buffered, leaving the scan `running`.
    fn drop(&mut self) {
        if !self.batch.rows.is_empty() {
            let _ = self.flush();
        }
    }
}

/// One batch, merged: the last word on each port, host and OS result.
#[derive(Default)]
struct Merged<'a> {
    ports: Vec<PortObservation>,
    port_at: HashMap<(IpAddr, Protocol, u16), usize>,
    hosts: Vec<HostObservation>,
    host_at: HashMap<IpAddr, usize>,
    os: Vec<&'a OsObservation>,
    rest: Vec<&'a RestObservation>,
    /// In order: each is appended after the scan's last chunk of its format.
    outputs: Vec<&'a OutputChunk>,
}

fn keep<T>(later: &mut Option<T>, earlier: Option<T>) {
    if later.is_none() {
        *later = earlier;
    }
}

impl<'a> Merged<'a> {
    fn of(batch: &'a [Observation]) -> Merged<'a> {
        let mut m = Merged::default();
        for observation in batch {
            match observation {
                Observation::Port(p) => match m.port_at.get(&(p.ip, p.protocol, p.port)) {
                    Some(&i) => {
                        let earlier = std::mem::replace(&mut m.ports[i], p.clone());
                        let (s, e) = (&mut m.ports[i].service, earlier.service);
                        keep(&mut s.name, e.name);
                        keep(&mut s.product, e.product);
                        keep(&mut s.version, e.version);
                        keep(&mut s.extrainfo, e.extrainfo);
                        keep(&mut s.banner, e.banner);
                        if s.cpe.is_empty() {
                            s.cpe = e.cpe;
                        }
                    }
                    None => {
                        m.port_at.insert((p.ip, p.protocol, p.port), m.ports.len());
                        m.ports.push(p.clone());
                    }
                },
                Observation::Host(h) => match m.host_at.get(&h.ip) {
                    Some(&i) => {
                        let earlier = std::mem::replace(&mut m.hosts[i], h.clone());
                        keep(&mut m.hosts[i].mac, earlier.mac);
                        keep(&mut m.hosts[i].hostname, earlier.hostname);
                    }
                    None => {
                        m.host_at.insert(h.ip, m.hosts.len());
                        m.hosts.push(h.clone());
                    }
                },
                Observation::Os(o) => {
                    m.os.retain(|earlier| earlier.ip != o.ip);
                    m.os.push(o);
                }
                Observation::Rest(r) => {
                    m.rest.retain(|earlier| (earlier.ip, earlier.protocol) != (r.ip, r.protocol));
                    m.rest.push(r);
                }
                Observation::Output(chunk) => m.outputs.push(chunk),
            }
        }
        m
    }
}

fn texts<T>(items: &[T], f: impl Fn(&T) -> Option<&str>) -> Vec<Option<String>> {
    items.iter().map(|item| f(item).map(|t| pg_text(t).into_owned())).collect()
}

/// Writes `batch` inside `tx` and stamps the scan's heartbeat.
fn write_batch(
    tx: &mut Transaction<'_>,
    statements: &Statements,
    target: &str,
    scan: ScanId,
    batch: &[Observation],
) -> Result<()> {
    let e = target_error(target, "writing observations");
    tx.execute(&statements.heartbeat, &[&scan.0]).map_err(&e)?;
    if batch.is_empty() {
        return Ok(());
    }
    let m = Merged::of(batch);
    if !m.ports.is_empty() {
        let p = &m.ports;
        let ips: Vec<String> = p.iter().map(|p| p.ip.to_string()).collect();
        let protos: Vec<&str> = p.iter().map(|p| p.protocol.as_str()).collect();
        let numbers: Vec<i64> = p.iter().map(|p| i64::from(p.port)).collect();
        let states: Vec<&str> = p.iter().map(|p| p.state.as_str()).collect();
        let reasons = texts(p, |p| Some(&p.reason));
        let ttls: Vec<Option<i64>> = p.iter().map(|p| p.ttl.map(i64::from)).collect();
        let cpes: Vec<Option<String>> = p
            .iter()
            .map(|p| (!p.service.cpe.is_empty()).then(|| pg_text(&p.service.cpe.join("\n")).into_owned()))
            .collect();
        let seen: Vec<i64> = p.iter().map(|p| to_ms(p.seen)).collect();
        tx.execute(
            &statements.ports,
            &[
                &scan.0,
                &ips,
                &protos,
                &numbers,
                &states,
                &reasons,
                &ttls,
                &texts(p, |p| p.service.name.as_deref()),
                &texts(p, |p| p.service.product.as_deref()),
                &texts(p, |p| p.service.version.as_deref()),
                &texts(p, |p| p.service.extrainfo.as_deref()),
                &texts(p, |p| p.service.banner.as_deref()),
                &cpes,
                &seen,
            ],
        )
        .map_err(&e)?;
    }
    if !m.hosts.is_empty() {
        let h = &m.hosts;
        let ips: Vec<String> = h.iter().map(|h| h.ip.to_string()).collect();
        let statuses: Vec<&str> = h.iter().map(|h| h.status.as_str()).collect();
        let ttls: Vec<Option<i64>> = h.iter().map(|h| h.ttl.map(i64::from)).collect();
        let seen: Vec<i64> = h.iter().map(|h| to_ms(h.seen)).collect();
        tx.execute(
            &statements.hosts,
            &[
                &scan.0,
                &ips,
                &statuses,
                &texts(h, |h| Some(&h.reason)),
                &ttls,
                &texts(h, |h| h.mac.as_deref()),
                &texts(h, |h| h.hostname.as_deref()),
                &seen,
            ],
        )
        .map_err(&e)?;
    }
    for o in m.os {
        write_os(tx, target, scan, o)?;
    }
    for r in m.rest {
        tx.execute(
            "INSERT INTO port_rest (scan_id, ip, proto, state, reason, count, seen_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (scan_id, ip, proto) DO UPDATE SET
                 state = excluded.state, reason = excluded.reason, count = excluded.count, seen_ms = excluded.seen_ms",
            &[
                &scan.0,
                &r.ip.to_string(),
                &r.protocol.as_str(),
                &r.state.as_str(),
                &pg_text(&r.reason),
                &(r.count as i64),
                &to_ms(r.seen),
            ],
        )
        .map_err(&e)?;
    }
    for chunk in m.outputs {
        tx.execute(
            "INSERT INTO scan_outputs (scan_id, format, seq, text)
             VALUES ($1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM scan_outputs WHERE scan_id = $1 AND format = $2), $3)",
            &[&scan.0, &chunk.format, &pg_text(&chunk.text)],
        )
        .map_err(&e)?;
    }
    Ok(())
}

fn write_os(tx: &mut Transaction<'_>, target: &str, scan: ScanId, o: &OsObservation) -> Result<()> {
    let e = target_error(target, "writing an OS result");
    let ip = o.ip.to_string();
    tx.execute(
        "INSERT INTO os (scan_id, ip, fingerprint, distance, details, seen_ms) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (scan_id, ip) DO UPDATE SET
             fingerprint = excluded.fingerprint, distance = excluded.distance, details = excluded.details,
             seen_ms = excluded.seen_ms",
        &[
            &scan.0,
            &ip,
            &o.fingerprint.as_deref().map(pg_text),
            &o.distance.map(i64::from),
            &o.details.as_deref().map(pg_text),
            &to_ms(o.seen),
        ],
    )
    .map_err(&e)?;
    tx.execute("DELETE FROM os_matches WHERE scan_id = $1 AND ip = $2", &[&scan.0, &ip]).map_err(&e)?;
    let names: Vec<String> = o.matches.iter().map(|m| pg_text(&m.name).into_owned()).collect();
    let accuracies: Vec<i64> = o.matches.iter().map(|m| i64::from(m.accuracy)).collect();
    tx.execute(
        "INSERT INTO os_matches (scan_id, ip, rank, name, accuracy)
         SELECT $1::BIGINT, $2::TEXT, n - 1, name, accuracy FROM UNNEST($3::TEXT[], $4::BIGINT[]) WITH ORDINALITY AS m (name, accuracy, n)",
        &[&scan.0, &ip, &names, &accuracies],
    )
    .map_err(&e)?;
    Ok(())
}
