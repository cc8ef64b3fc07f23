//! The diff as JSON Lines: a `diff` record naming both sides, then one
//! record per change. The schema is in docs/history.md.

use super::{Change, Diff, PortView, SideInfo};
use serde_json::{json, Value};
use std::io::{self, Write};
use std::time::UNIX_EPOCH;

fn side(s: &SideInfo) -> Value {
    let started = s.started.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    let scans: Vec<i64> = s.scans.iter().map(|id| id.0).collect();
    json!({"scans": scans, "run_id": s.run_id, "version": s.version, "args": s.args, "start": started})
}

fn port(view: &Option<PortView>) -> Value {
    let Some(v) = view else { return Value::Null };
    let s = &v.service;
    json!({
        "state": v.state.as_str(), "reason": v.reason, "service": s.name,
        "product": s.product, "version": s.version, "extrainfo": s.extrainfo,
    })
}

fn record(change: &Change) -> Value {
    let kind = change.kind();
    match change {
        Change::Host { ip, before, after } => json!({
            "type": kind, "ip": ip,
            "before": before.map(|s| s.as_str()), "after": after.map(|s| s.as_str()),
        }),
        Change::Port { ip, protocol, port: number, before, after } => json!({
            "type": kind, "ip": ip, "proto": protocol.as_str(), "port": number,
            "before": port(before), "after": port(after),
        }),
        Change::Os { ip, before, after } => {
            let m = |m: &Option<crate::OsMatchRow>| {
                m.as_ref().map(|m| json!({"name": m.name, "accuracy": m.accuracy}))
            };
            json!({"type": kind, "ip": ip, "before": m(before), "after": m(after)})
        }
    }
}

/// Writes `diff` as JSON Lines.
pub fn write_jsonl(diff: &Diff, out: &mut impl Write) -> io::Result<()> {
    let head = json!({
        "type": "diff", "a": side(&diff.a), "b": side(&diff.b),
        "changes": diff.changes.len(), "warnings": diff.warnings,
    });
    for value in std::iter::once(head).chain(diff.changes.iter().map(record)) {
        serde_json::to_writer(&mut *out, &value)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
