//! The diff as ndiff's XML (`<nmapdiff version="1">`, ndiff.dtd).
//!
//! Structure carried over from ndiff: `<scandiff>` holds `<a>` and `<b>`
//! each with an `<nmaprun>` (scanner, args, start, startstr, version), then
//! one `<hostdiff>` per changed host. A host in one scan only is a whole
//! `<host>` inside `<a>` or `<b>`; otherwise a `<host>` whose changed parts
//! are split into `<a>`/`<b>`: the `<status>`, each `<portdiff>` (whole
//! `<port>`s in `<a>` and `<b>` when the state changed, else one `<port>`
//! with its `<service>` split), and `<os>` with `<osmatch>`es.

use super::{Change, Diff, HostNames, PortView, SideInfo};
use crate::civil::Civil;
use crate::model::HostStatus;
use quick_xml::escape::escape;
use scry_probe::services::Protocol;
use std::io::{self, Write};
use std::net::IpAddr;
use std::time::UNIX_EPOCH;

fn nmaprun(s: &SideInfo) -> String {
    let start = s.started.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (scanner, version) = s.scanner();
    format!(
        "<nmaprun scanner=\"{}\" args=\"{}\" start=\"{start}\" startstr=\"{}\" version=\"{}\"/>",
        escape(scanner),
        escape(&s.args),
        Civil::utc(s.started).ndiff(),
        escape(version)
    )
}

fn status(s: HostStatus) -> String {
    format!("<status state=\"{}\"/>", s.as_str())
}

/// The host's addresses as ndiff orders them (IP, then MAC), and its name.
fn address(ip: IpAddr, names: &HostNames) -> String {
    let mac = names.mac.as_ref();
    let kind = if ip.is_ipv4() { "ipv4" } else { "ipv6" };
    let mac = mac
        .map(|m| format!("<address addr=\"{}\" addrtype=\"mac\"/>", escape(m.as_str())))
        .unwrap_or_default();
    let hostname = names
        .hostname
        .as_ref()
        .map(|n| format!("<hostnames><hostname name=\"{}\"/></hostnames>", escape(n.as_str())))
        .unwrap_or_default();
    format!("<address addr=\"{ip}\" addrtype=\"{kind}\"/>{mac}{hostname}")
}

fn service(v: &PortView) -> String {
    let s = &v.service;
    let attrs: String =
        [("name", &s.name), ("product", &s.product), ("version", &s.version), ("extrainfo", &s.extrainfo)]
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!(" {k}=\"{}\"", escape(v.as_str()))))
            .collect();
    if attrs.is_empty() {
        String::new()
    } else {
        format!("<service{attrs}/>")
    }
}

fn port(protocol: Protocol, number: u16, inner: &str) -> String {
    format!("<port portid=\"{number}\" protocol=\"{}\">{inner}</port>", protocol.as_str())
}

fn state(v: &PortView) -> String {
    format!("<state state=\"{}\"/>", v.state.as_str())
}

fn wrap(tag: &str, inner: &str) -> String {
    if inner.is_empty() {
        String::new()
    } else {
        format!("<{tag}>{inner}</{tag}>")
    }
}

/// A whole host as one side saw it, for a host in one scan only.
fn whole_host(ip: IpAddr, names: &HostNames, changes: &[&Change], before: bool) -> String {
    let mut st = String::new();
    let mut ports = String::new();
    let mut os = String::new();
    for change in changes {
        match change {
            Change::Host { before: b, after: a, .. } => {
                st = (if before { *b } else { *a }).map(status).unwrap_or_default();
            }
            Change::Port { protocol, port: n, before: b, after: a, .. } => {
                if let Some(v) = if before { b } else { a } {
                    ports.push_str(&port(*protocol, *n, &(state(v) + &service(v))));
                }
            }
            Change::Os { before: b, after: a, .. } => {
                if let Some(m) = if before { b } else { a } {
                    os = format!("<osmatch name=\"{}\"/>", escape(m.name.as_str()));
                }
            }
        }
    }
    format!("<host>{st}{}{}{}</host>", address(ip, names), wrap("ports", &ports), wrap("os", &os))
}

fn host_diff(ip: IpAddr, names: &HostNames, changes: &[&Change]) -> String {
    if let Some(Change::Host { before, after, .. }) = changes.first() {
        match (before, after) {
            (Some(_), None) => return wrap("hostdiff", &wrap("a", &whole_host(ip, names, changes, true))),
            (None, Some(_)) => return wrap("hostdiff", &wrap("b", &whole_host(ip, names, changes, false))),
            _ => {}
        }
    }
    let mut st = String::new();
    let mut ports = String::new();
    let mut os = String::new();
    for change in changes {
        match change {
            Change::Host { before, after, .. } => {
                st = wrap("a", &before.map(status).unwrap_or_default())
                    + &wrap("b", &after.map(status).unwrap_or_default());
            }
            Change::Port { protocol, port: n, before, after, .. } => {
                let inner = match (before, after) {
                    (Some(x), Some(y)) if x.state == y.state => {
                        port(*protocol, *n, &(state(x) + &wrap("a", &service(x)) + &wrap("b", &service(y))))
                    }
                    _ => {
                        let whole = |v: &Option<PortView>| {
                            v.as_ref()
                                .map(|v| port(*protocol, *n, &(state(v) + &service(v))))
                                .unwrap_or_default()
                        };
                        wrap("a", &whole(before)) + &wrap("b", &whole(after))
                    }
                };
                ports.push_str(&wrap("portdiff", &inner));
            }
            Change::Os { before, after, .. } => {
                let m = |m: &Option<crate::OsMatchRow>| {
                    m.as_ref()
                        .map(|m| format!("<osmatch name=\"{}\"/>", escape(m.name.as_str())))
                        .unwrap_or_default()
                };
                os = wrap("a", &m(before)) + &wrap("b", &m(after));
            }
        }
    }
    let host = format!("<host>{st}{}{}{}</host>", address(ip, names), wrap("ports", &ports), wrap("os", &os));
    wrap("hostdiff", &host)
}

/// Writes `diff` as ndiff's XML, one host difference a line.
pub fn write_xml(diff: &Diff, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
    writeln!(out, "<nmapdiff version=\"1\">")?;
    writeln!(out, "<scandiff>")?;
    writeln!(out, "<a>{}</a>", nmaprun(&diff.a))?;
    writeln!(out, "<b>{}</b>", nmaprun(&diff.b))?;
    for (ip, group) in diff.by_host() {
        writeln!(out, "{}", host_diff(ip, diff.names.get(&ip).unwrap_or(&HostNames::default()), &group))?;
    }
    writeln!(out, "</scandiff>")?;
    writeln!(out, "</nmapdiff>")
}
