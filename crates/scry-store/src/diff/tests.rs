use super::*;
use std::time::{Duration, UNIX_EPOCH};

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// A complete scan of 198.18.0.0-198.18.0.2 on the given TCP ports.
fn scan(id: i64, started: u64, tcp: &[u16]) -> LoadedScan {
    LoadedScan {
        record: ScanRecord {
            id: ScanId(id),
            scope: Scope {
                targets: vec!["198.18.0.0-2".into()],
                ranges: vec![(ip("198.18.0.0"), ip("198.18.0.2"))],
                ports: vec![(Protocol::Tcp, tcp.to_vec())],
                scan_types: vec!["syn".into()],
                shard: (1, 1),
                ..Scope::default()
            },
            args: format!("scry -p{} 198.18.0.0-2", crate::ports::ranges(tcp)),
            version: "0.1.0".into(),
            started: at(started),
            ended: Some(at(started + 5)),
            status: ScanStatus::Complete,
            stats: None,
        },
        hosts: Vec::new(),
        ports: Vec::new(),
        os: Vec::new(),
        rest: Vec::new(),
    }
}

fn up(s: &mut LoadedScan, addr: &str) {
    let seen = s.record.started;
    s.hosts.push(HostObservation {
        ip: ip(addr),
        status: HostStatus::Up,
        reason: "arp-response".into(),
        ttl: None,
        mac: None,
        hostname: None,
        seen,
    });
}

fn port(s: &mut LoadedScan, addr: &str, number: u16, state: PortState, service: &[&str]) {
    let text = |i: usize| service.get(i).map(|s| s.to_string());
    s.ports.push(PortObservation {
        ip: ip(addr),
        protocol: Protocol::Tcp,
        port: number,
        state,
        reason: if state == PortState::Open { "syn-ack" } else { "reset" }.into(),
        ttl: Some(64),
        service: Service { name: text(0), product: text(1), version: text(2), ..Service::default() },
        seen: s.record.started,
    });
}

fn os(s: &mut LoadedScan, addr: &str, name: &str) {
    let seen = s.record.started;
    s.os.push(OsObservation {
        ip: ip(addr),
        matches: vec![OsMatchRow { name: name.into(), accuracy: 100 }],
        fingerprint: None,
        distance: Some(1),
        details: None,
        seen,
    });
}

fn view(state: PortState, reason: &str, service: &[&str]) -> Option<PortView> {
    let text = |i: usize| service.get(i).map(|s| s.to_string());
    Some(PortView {
        state,
        reason: reason.into(),
        service: Service { name: text(0), product: text(1), version: text(2), ..Service::default() },
    })
}

/// Before: .1 up with ssh (OpenSSH 9.2) and http closed, Linux 5; .2 up
/// with smtp open. After: .1 with OpenSSH 9.3, http open, smtp silent,
/// Linux 6; .2 silent. 198.18.0.9 is outside both scopes.
fn before_after() -> (LoadedScan, LoadedScan) {
    let mut a = scan(1, 0, &[22, 25, 80]);
    up(&mut a, "198.18.0.1");
    port(&mut a, "198.18.0.1", 22, PortState::Open, &["ssh", "OpenSSH", "9.2"]);
    port(&mut a, "198.18.0.1", 80, PortState::Closed, &["http"]);
    port(&mut a, "198.18.0.1", 25, PortState::Open, &["smtp"]);
    os(&mut a, "198.18.0.1", "Linux 5.0 - 5.14");
    up(&mut a, "198.18.0.2");
    port(&mut a, "198.18.0.2", 25, PortState::Open, &["smtp"]);
    let mut b = scan(2, 86_400, &[22, 25, 80]);
    up(&mut b, "198.18.0.1");
    port(&mut b, "198.18.0.1", 22, PortState::Open, &["ssh", "OpenSSH", "9.3"]);
    port(&mut b, "198.18.0.1", 80, PortState::Open, &["http"]);
    os(&mut b, "198.18.0.1", "Linux 6.0 - 6.5");
    up(&mut b, "198.18.0.9");
    (a, b)
}

#[test]
fn changes_are_typed_and_ordered_by_host() {
    let (a, b) = before_after();
    let d = diff(&[a], &[b], false).unwrap();
    let h1 = ip("198.18.0.1");
    let tcp = Protocol::Tcp;
    assert_eq!(
        d.changes,
        [
            Change::Port {
                ip: h1,
                protocol: tcp,
                port: 22,
                before: view(PortState::Open, "syn-ack", &["ssh", "OpenSSH", "9.2"]),
                after: view(PortState::Open, "syn-ack", &["ssh", "OpenSSH", "9.3"]),
            },
            Change::Port {
                ip: h1,
                protocol: tcp,
                port: 25,
                before: view(PortState::Open, "syn-ack", &["smtp"]),
                after: view(PortState::Filtered, "no-response", &[]),
            },
            Change::Port {
                ip: h1,
                protocol: tcp,
                port: 80,
                before: view(PortState::Closed, "reset", &["http"]),
                after: view(PortState::Open, "syn-ack", &["http"]),
            },
            Change::Os {
                ip: h1,
                before: Some(OsMatchRow { name: "Linux 5.0 - 5.14".into(), accuracy: 100 }),
                after: Some(OsMatchRow { name: "Linux 6.0 - 6.5".into(), accuracy: 100 }),
            },
            Change::Host { ip: ip("198.18.0.2"), before: Some(HostStatus::Up), after: None },
            // Gone with its whole port table, silent ports too (few enough to be listed).
            Change::Port {
                ip: ip("198.18.0.2"),
                protocol: tcp,
                port: 22,
                before: view(PortState::Filtered, "no-response", &[]),
                after: None,
            },
            Change::Port {
                ip: ip("198.18.0.2"),
                protocol: tcp,
                port: 25,
                before: view(PortState::Open, "syn-ack", &["smtp"]),
                after: None,
            },
            Change::Port {
                ip: ip("198.18.0.2"),
                protocol: tcp,
                port: 80,
                before: view(PortState::Filtered, "no-response", &[]),
                after: None,
            },
        ]
    );
    let kinds: Vec<&str> = d.changes.iter().map(Change::kind).collect();
    assert_eq!(
        kinds,
        ["service", "port-state", "port-state", "os", "host", "port-state", "port-state", "port-state"]
    );
    assert!(d.has_changes() && d.warnings.is_empty());
}

#[test]
fn text_output_is_ndiffs() {
    let (a, b) = before_after();
    let d = diff(&[a], &[b], false).unwrap();
    let mut out = Vec::new();
    write_text(&d, &mut out).unwrap();
    let expected = "\
-scry 0.1.0 scan initiated Fri Jan 15 08:00:00 2027 as: scry -p22,25,80 198.18.0.0-2
+scry 0.1.0 scan initiated Sat Jan 16 08:00:00 2027 as: scry -p22,25,80 198.18.0.0-2

 198.18.0.1:
 PORT   STATE    SERVICE VERSION
-22/tcp open     ssh     OpenSSH 9.2
+22/tcp open     ssh     OpenSSH 9.3
-25/tcp open     smtp
+25/tcp filtered
-80/tcp closed   http
+80/tcp open     http
 OS details:
-  Linux 5.0 - 5.14
+  Linux 6.0 - 6.5

-198.18.0.2:
-Host is up.
-PORT   STATE    SERVICE VERSION
-22/tcp filtered
-25/tcp open     smtp
-80/tcp filtered
";
    assert_eq!(String::from_utf8(out).unwrap(), expected);
}

#[test]
fn json_lines_output() {
    let (a, b) = before_after();
    let d = diff(&[a], &[b], false).unwrap();
    let mut out = Vec::new();
    write_jsonl(&d, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 9);
    assert_eq!(
        lines[0],
        r#"{"a":{"args":"scry -p22,25,80 198.18.0.0-2","run_id":null,"scans":[1],"start":1800000000.0,"version":"0.1.0"},"b":{"args":"scry -p22,25,80 198.18.0.0-2","run_id":null,"scans":[2],"start":1800086400.0,"version":"0.1.0"},"changes":8,"type":"diff","warnings":[]}"#
    );
    assert_eq!(
        lines[1],
        r#"{"after":{"extrainfo":null,"product":"OpenSSH","reason":"syn-ack","service":"ssh","state":"open","version":"9.3"},"before":{"extrainfo":null,"product":"OpenSSH","reason":"syn-ack","service":"ssh","state":"open","version":"9.2"},"ip":"198.18.0.1","port":22,"proto":"tcp","type":"service"}"#
    );
    assert_eq!(
        lines[4],
        r#"{"after":{"accuracy":100,"name":"Linux 6.0 - 6.5"},"before":{"accuracy":100,"name":"Linux 5.0 - 5.14"},"ip":"198.18.0.1","type":"os"}"#
    );
    assert_eq!(lines[5], r#"{"after":null,"before":"up","ip":"198.18.0.2","type":"host"}"#);
}

#[test]
fn xml_output_is_ndiffs() {
    let (a, b) = before_after();
    let d = diff(&[a], &[b], false).unwrap();
    let mut out = Vec::new();
    write_xml(&d, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[..3],
        ["<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "<nmapdiff version=\"1\">", "<scandiff>"]
    );
    assert_eq!(
        lines[3],
        "<a><nmaprun scanner=\"scry\" args=\"scry -p22,25,80 198.18.0.0-2\" start=\"1800000000\" \
         startstr=\"Fri Jan 15 08:00:00 2027\" version=\"0.1.0\"/></a>"
    );
    assert_eq!(
        lines[5],
        concat!(
            "<hostdiff><host><address addr=\"198.18.0.1\" addrtype=\"ipv4\"/><ports>",
            "<portdiff><port portid=\"22\" protocol=\"tcp\"><state state=\"open\"/>",
            "<a><service name=\"ssh\" product=\"OpenSSH\" version=\"9.2\"/></a>",
            "<b><service name=\"ssh\" product=\"OpenSSH\" version=\"9.3\"/></b></port></portdiff>",
            "<portdiff><a><port portid=\"25\" protocol=\"tcp\"><state state=\"open\"/><service name=\"smtp\"/></port></a>",
            "<b><port portid=\"25\" protocol=\"tcp\"><state state=\"filtered\"/></port></b></portdiff>",
            "<portdiff><a><port portid=\"80\" protocol=\"tcp\"><state state=\"closed\"/><service name=\"http\"/></port></a>",
            "<b><port portid=\"80\" protocol=\"tcp\"><state state=\"open\"/><service name=\"http\"/></port></b></portdiff>",
            "</ports><os><a><osmatch name=\"Linux 5.0 - 5.14\"/></a><b><osmatch name=\"Linux 6.0 - 6.5\"/></b></os>",
            "</host></hostdiff>"
        )
    );
    assert_eq!(
        lines[6],
        concat!(
            "<hostdiff><a><host><status state=\"up\"/><address addr=\"198.18.0.2\" addrtype=\"ipv4\"/>",
            "<ports><port portid=\"22\" protocol=\"tcp\"><state state=\"filtered\"/></port>",
            "<port portid=\"25\" protocol=\"tcp\"><state state=\"open\"/><service name=\"smtp\"/></port>",
            "<port portid=\"80\" protocol=\"tcp\"><state state=\"filtered\"/></port></ports>",
            "</host></a></hostdiff>"
        )
    );
    assert_eq!(lines[7..], ["</scandiff>", "</nmapdiff>"]);
}

#[test]
fn only_ports_both_scanned_are_compared() {
    let mut a = scan(1, 0, &[22, 80]);
    up(&mut a, "198.18.0.1");
    port(&mut a, "198.18.0.1", 80, PortState::Open, &["http"]);
    port(&mut a, "198.18.0.1", 22, PortState::Open, &["ssh"]);
    let mut b = scan(2, 10, &[22, 443]);
    up(&mut b, "198.18.0.1");
    port(&mut b, "198.18.0.1", 443, PortState::Open, &["https"]);
    port(&mut b, "198.18.0.1", 22, PortState::Open, &["ssh"]);
    let d = diff(&[a], &[b], false).unwrap();
    assert_eq!(d.changes, []);
    assert!(!d.has_changes());
    let mut out = Vec::new();
    write_text(&d, &mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap().lines().count(), 2);
}

#[test]
fn only_hosts_both_scanned_are_compared() {
    let mut a = scan(1, 0, &[22]);
    a.record.scope.ranges = vec![(ip("198.18.0.1"), ip("198.18.0.1"))];
    up(&mut a, "198.18.0.1");
    let mut b = scan(2, 10, &[22]);
    up(&mut b, "198.18.0.2");
    // .1 is silent in B, which scanned it: down. .2 was not in A's scope.
    let d = diff(std::slice::from_ref(&a), std::slice::from_ref(&b), false).unwrap();
    assert_eq!(
        d.changes,
        [
            Change::Host { ip: ip("198.18.0.1"), before: Some(HostStatus::Up), after: None },
            Change::Port {
                ip: ip("198.18.0.1"),
                protocol: Protocol::Tcp,
                port: 22,
                before: view(PortState::Filtered, "no-response", &[]),
                after: None,
            },
        ]
    );
    b.record.scope.ranges = vec![(ip("198.18.0.2"), ip("198.18.0.2"))];
    let d = diff(&[a], &[b], false).unwrap();
    assert_eq!(d.changes, []);
    assert_eq!(d.warnings, ["warning: the two scans share no target address"]);
}

#[test]
fn an_interrupted_scan_is_refused_unless_forced_and_then_hides_nothing() {
    let (a, mut b) = before_after();
    b.record.status = ScanStatus::Interrupted;
    let err = diff(std::slice::from_ref(&a), std::slice::from_ref(&b), false).unwrap_err();
    assert_eq!(err, DiffError::NotComplete { scan: ScanId(2), status: ScanStatus::Interrupted });
    assert_eq!(
        err.to_string(),
        "scan 2 is interrupted, not complete: comparing it would show hosts and ports it never reached \
         as gone (--force compares anyway)"
    );
    let d = diff(&[a], &[b], true).unwrap();
    assert_eq!(d.warnings, [format!("warning: {err}")]);
    // B never recorded .2 nor .1's port 25: unknown, so not reported as gone.
    let ports: Vec<(IpAddr, u16)> = d
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::Port { ip, port, .. } => Some((*ip, *port)),
            _ => None,
        })
        .collect();
    assert_eq!(ports, [(ip("198.18.0.1"), 22), (ip("198.18.0.1"), 80)]);
    assert!(!d.changes.iter().any(|c| c.ip() == ip("198.18.0.2")));
}

fn shard(id: i64, index: u32, count: u32) -> LoadedScan {
    let mut s = scan(id, 100, &[22]);
    s.record.scope.shard = (index, count);
    s.record.scope.run_id = Some("nightly".into());
    s
}

#[test]
fn a_run_missing_a_shard_is_refused_and_a_whole_run_is_one_scan() {
    let mut a = scan(1, 0, &[22]);
    up(&mut a, "198.18.0.1");
    port(&mut a, "198.18.0.1", 22, PortState::Closed, &["ssh"]);
    let mut one = shard(2, 1, 3);
    up(&mut one, "198.18.0.1");
    let mut three = shard(4, 3, 3);
    port(&mut three, "198.18.0.1", 22, PortState::Open, &["ssh"]);
    let err = diff(&[a.clone()], &[one.clone(), three.clone()], false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "run nightly is missing shard 2 of 3: its hosts would seem gone (--force compares anyway)"
    );
    let two = shard(3, 2, 3);
    let d = diff(&[a], &[one, two, three], false).unwrap();
    assert_eq!(d.b.scans, [ScanId(2), ScanId(3), ScanId(4)]);
    assert_eq!(
        d.changes,
        [Change::Port {
            ip: ip("198.18.0.1"),
            protocol: Protocol::Tcp,
            port: 22,
            before: view(PortState::Closed, "reset", &["ssh"]),
            after: view(PortState::Open, "syn-ack", &["ssh"]),
        }]
    );
}

#[test]
fn an_empty_side_is_an_error() {
    assert_eq!(diff(&[], &[scan(1, 0, &[22])], true).unwrap_err(), DiffError::Empty);
}
