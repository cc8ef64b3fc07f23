//! ndiff's text format.
//!
//! Layout (carried over from ndiff's documented output): a banner pair,
//! `-` for scan A and `+` for scan B (`scry VERSION scan initiated
//! Sat Jan 16 08:00:00 2027 as: ARGS`); then per changed host a blank line,
//! ` ADDRESS:` (`-`/`+` when the host is in one scan only), `-Host is up.` /
//! `+Host is down.` lines when its state changed, a port table with a mark
//! column then `PORT STATE SERVICE VERSION`, columns left-aligned to the
//! widest cell, one space apart, trailing blanks trimmed, a `-` row for the
//! port as it was and a `+` row as it is; then ` OS details:` with
//! `-  NAME` / `+  NAME` when the top OS match changed.

use super::{Change, Diff, HostNames, PortView, SideInfo};
use crate::civil::Civil;
use crate::model::HostStatus;
use std::io::{self, Write};
use std::net::IpAddr;

/// `scry 0.1.0 scan initiated DATE as: ARGS`, leaving out what is unknown.
fn banner(side: &SideInfo) -> String {
    let (scanner, version) = side.scanner();
    let mut parts = vec![scanner.to_owned()];
    if !version.is_empty() {
        parts.push(version.to_owned());
    }
    parts.push(format!("scan initiated {}", Civil::utc(side.started).ndiff()));
    if !side.args.is_empty() {
        parts.push(format!("as: {}", side.args));
    }
    parts.join(" ")
}

fn columns(protocol: &str, port: u16, view: &PortView) -> [String; 4] {
    [
        format!("{port}/{protocol}"),
        view.state.as_str().to_owned(),
        view.service.name.clone().unwrap_or_default(),
        view.service.version_line().unwrap_or_default(),
    ]
}

/// A table of a mark column and four left-aligned columns.
fn table(rows: &[(char, [String; 4])]) -> Vec<String> {
    let mut widths = [0usize; 4];
    for (_, cells) in rows {
        for (w, c) in widths.iter_mut().zip(cells) {
            *w = (*w).max(c.chars().count());
        }
    }
    rows.iter()
        .map(|(mark, cells)| {
            let mut line = mark.to_string();
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                line.push_str(cell);
                if i + 1 < cells.len() {
                    line.push_str(&" ".repeat(w - cell.chars().count() + 1));
                }
            }
            line.trim_end().to_owned()
        })
        .collect()
}

fn host_block(out: &mut impl Write, ip: IpAddr, names: &HostNames, changes: &[&Change]) -> io::Result<()> {
    writeln!(out)?;
    let name = names.display(ip);
    // A host absent from one scan is marked like ndiff marks a host in one file only.
    let (mut in_a, mut in_b) = (true, true);
    if let Some(Change::Host { before, after, .. }) = changes.first() {
        (in_a, in_b) = (before.is_some(), after.is_some());
    }
    match (in_a, in_b) {
        (true, false) => writeln!(out, "-{name}:")?,
        (false, true) => writeln!(out, "+{name}:")?,
        _ => writeln!(out, " {name}:")?,
    }
    let word = |s: HostStatus| s.as_str();
    let mut rows: Vec<(char, [String; 4])> = Vec::new();
    let mut os_lines = Vec::new();
    for change in changes {
        match change {
            Change::Host { before, after, .. } => {
                if let Some(s) = before {
                    writeln!(out, "-Host is {}.", word(*s))?;
                }
                if let Some(s) = after {
                    writeln!(out, "+Host is {}.", word(*s))?;
                }
            }
            Change::Port { protocol, port, before, after, .. } => {
                if let Some(v) = before {
                    rows.push(('-', columns(protocol.as_str(), *port, v)));
                }
                if let Some(v) = after {
                    rows.push(('+', columns(protocol.as_str(), *port, v)));
                }
            }
            Change::Os { before, after, .. } => {
                let head = match (before, after) {
                    (Some(_), None) => "-OS details:",
                    (None, Some(_)) => "+OS details:",
                    _ => " OS details:",
                };
                os_lines.push(head.to_owned());
                os_lines.extend(before.iter().map(|m| format!("-  {}", m.name)));
                os_lines.extend(after.iter().map(|m| format!("+  {}", m.name)));
            }
        }
    }
    if !rows.is_empty() {
        let mark = match (in_a, in_b) {
            (false, true) => '+',
            (true, false) => '-',
            _ => ' ',
        };
        let header = ["PORT", "STATE", "SERVICE", "VERSION"].map(str::to_owned);
        rows.insert(0, (mark, header));
        for line in table(&rows) {
            writeln!(out, "{line}")?;
        }
    }
    for line in os_lines {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// Writes `diff` as ndiff's text output. Warnings are not written: the
/// caller prints them on stderr.
pub fn write_text(diff: &Diff, out: &mut impl Write) -> io::Result<()> {
    let (a, b) = (banner(&diff.a), banner(&diff.b));
    if a != b {
        writeln!(out, "-{a}")?;
        writeln!(out, "+{b}")?;
    }
    for (ip, group) in diff.by_host() {
        host_block(out, ip, diff.names.get(&ip).unwrap_or(&HostNames::default()), &group)?;
    }
    Ok(())
}
