//! ndiff as the oracle: the same two scans, written as nmap XML and given to
//! Debian's ndiff, must give exactly our text output, and the same XML
//! elements as our XML output (ndiff's line breaks aside).
//!
//! ndiff comes from Debian (scripts/install-deps.sh); a missing one fails
//! the test with its package name rather than skipping it.

use scry_probe::services::Protocol;
use scry_probe::state::PortState;
use scry_store::diff::{diff, write_text, write_xml};
use scry_store::*;
use std::net::IpAddr;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn scan(id: i64, started: u64) -> LoadedScan {
    LoadedScan {
        record: ScanRecord {
            id: ScanId(id),
            scope: Scope {
                targets: vec!["198.18.0.0/29".into()],
                ranges: vec![(ip("198.18.0.0"), ip("198.18.0.7"))],
                ports: vec![(Protocol::Tcp, vec![22, 25, 80, 443])],
                scan_types: vec!["syn".into()],
                shard: (1, 1),
                ..Scope::default()
            },
            args: "scry -sV -O -p22,25,80,443 198.18.0.0/29".into(),
            version: "0.1.0".into(),
            started: at(started),
            ended: Some(at(started + 9)),
            status: ScanStatus::Complete,
            stats: None,
        },
        hosts: Vec::new(),
        ports: Vec::new(),
        os: Vec::new(),
        rest: Vec::new(),
    }
}

fn host(s: &mut LoadedScan, addr: &str, mac: Option<&str>) {
    // ndiff names a host by its name too: give the gateway one.
    let hostname = (addr == "198.18.0.1").then(|| "gw.lab".to_owned());
    let seen = s.record.started;
    s.hosts.push(HostObservation {
        ip: ip(addr),
        status: HostStatus::Up,
        reason: "arp-response".into(),
        ttl: None,
        mac: mac.map(str::to_owned),
        hostname,
        seen,
    });
}

fn port(s: &mut LoadedScan, addr: &str, number: u16, state: PortState, service: [Option<&str>; 4]) {
    let [name, product, version, extrainfo] = service.map(|v| v.map(str::to_owned));
    let seen = s.record.started;
    s.ports.push(PortObservation {
        ip: ip(addr),
        protocol: Protocol::Tcp,
        port: number,
        state,
        reason: "syn-ack".into(),
        ttl: Some(64),
        service: Service { name, product, version, extrainfo, ..Service::default() },
        seen,
    });
}

fn os(s: &mut LoadedScan, addr: &str, name: &str) {
    let seen = s.record.started;
    s.os.push(OsObservation {
        ip: ip(addr),
        matches: vec![OsMatchRow { name: name.into(), accuracy: 98 }],
        fingerprint: None,
        distance: Some(1),
        details: None,
        seen,
    });
}

/// Every host with every scanned port listed (no extraports), as nmap XML.
fn nmap_xml(s: &LoadedScan) -> String {
    let r = &s.record;
    let start = r.started.duration_since(UNIX_EPOCH).unwrap().as_secs();
    let mut x = format!(
        "<?xml version=\"1.0\"?>\n<nmaprun scanner=\"scry\" args=\"{}\" start=\"{start}\" version=\"{}\">\n",
        r.args, r.version
    );
    for h in &s.hosts {
        x += &format!("<host><status state=\"up\" reason=\"{}\"/>", h.reason);
        x += &format!("<address addr=\"{}\" addrtype=\"ipv4\"/>", h.ip);
        if let Some(mac) = &h.mac {
            x += &format!("<address addr=\"{mac}\" addrtype=\"mac\"/>");
        }
        if let Some(name) = &h.hostname {
            x += &format!("<hostnames><hostname name=\"{name}\" type=\"PTR\"/></hostnames>");
        }
        x += "<ports>";
        for &n in r.scope.ports_of(Protocol::Tcp) {
            let p = s.ports.iter().find(|p| p.ip == h.ip && p.port == n);
            let state = p.map_or("filtered", |p| p.state.as_str());
            x += &format!("<port protocol=\"tcp\" portid=\"{n}\"><state state=\"{state}\"/>");
            if let Some(p) = p {
                let sv = &p.service;
                let attrs: String = [
                    ("name", &sv.name),
                    ("product", &sv.product),
                    ("version", &sv.version),
                    ("extrainfo", &sv.extrainfo),
                ]
                .iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| format!(" {k}=\"{v}\"")))
                .collect();
                if !attrs.is_empty() {
                    x += &format!("<service{attrs}/>");
                }
            }
            x += "</port>";
        }
        x += "</ports>";
        if let Some(o) = s.os.iter().find(|o| o.ip == h.ip) {
            x += "<os>";
            for m in &o.matches {
                x += &format!("<osmatch name=\"{}\" accuracy=\"{}\"/>", m.name, m.accuracy);
            }
            x += "</os>";
        }
        x += "</host>\n";
    }
    x + "</nmaprun>\n"
}

/// Runs Debian's ndiff in UTC (it prints the start in local time).
fn ndiff(args: &[&str], a: &LoadedScan, b: &LoadedScan) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (dir.path().join("a.xml"), dir.path().join("b.xml"));
    std::fs::write(&pa, nmap_xml(a)).unwrap();
    std::fs::write(&pb, nmap_xml(b)).unwrap();
    let out = Command::new("ndiff")
        .args(args)
        .arg(&pa)
        .arg(&pb)
        .env("TZ", "UTC")
        .output()
        .expect("running ndiff: install Debian's ndiff package (scripts/install-deps.sh)");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Before and after: a service upgraded, a port opened, one closed to
/// filtered, an OS change, a host gone, a host new, a host unchanged.
fn scenario() -> (LoadedScan, LoadedScan) {
    let mut a = scan(1, 0);
    host(&mut a, "198.18.0.1", Some("02:00:C6:12:00:01"));
    port(
        &mut a,
        "198.18.0.1",
        22,
        PortState::Open,
        [Some("ssh"), Some("OpenSSH"), Some("9.2p1 Debian 2"), Some("protocol 2.0")],
    );
    port(&mut a, "198.18.0.1", 25, PortState::Closed, [Some("smtp"), None, None, None]);
    port(&mut a, "198.18.0.1", 80, PortState::Closed, [Some("http"), None, None, None]);
    os(&mut a, "198.18.0.1", "Linux 5.0 - 5.14");
    host(&mut a, "198.18.0.2", None);
    port(&mut a, "198.18.0.2", 443, PortState::Open, [Some("https"), None, None, None]);
    host(&mut a, "198.18.0.3", None);
    port(&mut a, "198.18.0.3", 22, PortState::Open, [Some("ssh"), None, None, None]);
    let mut b = scan(2, 86_400 + 3_723);
    host(&mut b, "198.18.0.1", Some("02:00:C6:12:00:01"));
    port(
        &mut b,
        "198.18.0.1",
        22,
        PortState::Open,
        [Some("ssh"), Some("OpenSSH"), Some("9.6p1"), Some("protocol 2.0")],
    );
    port(&mut b, "198.18.0.1", 80, PortState::Open, [Some("http"), Some("nginx"), None, None]);
    os(&mut b, "198.18.0.1", "Linux 6.1 - 6.8");
    host(&mut b, "198.18.0.3", None);
    port(&mut b, "198.18.0.3", 22, PortState::Open, [Some("ssh"), None, None, None]);
    host(&mut b, "198.18.0.4", None);
    port(&mut b, "198.18.0.4", 80, PortState::Open, [Some("http"), None, None, None]);
    (a, b)
}

#[test]
fn text_output_equals_ndiffs() {
    let (a, b) = scenario();
    let d = diff(std::slice::from_ref(&a), std::slice::from_ref(&b), false).unwrap();
    let mut ours = Vec::new();
    write_text(&d, &mut ours).unwrap();
    let ours = String::from_utf8(ours).unwrap();
    assert_eq!(ours, ndiff(&["--text"], &a, &b));
    assert!(ours.contains("-25/tcp closed   smtp\n+25/tcp filtered\n"), "{ours}");
    assert!(ours.contains("\n gw.lab (198.18.0.1, 02:00:C6:12:00:01):\n"), "{ours}");
}

/// ndiff's XML with the line breaks between elements taken out.
fn joined(xml: &str) -> String {
    xml.lines().map(str::trim).collect::<Vec<_>>().join("")
}

#[test]
fn xml_output_has_ndiffs_elements() {
    let (a, b) = scenario();
    let d = diff(std::slice::from_ref(&a), std::slice::from_ref(&b), false).unwrap();
    let mut ours = Vec::new();
    write_xml(&d, &mut ours).unwrap();
    let ours = joined(&String::from_utf8(ours).unwrap());
    let theirs = joined(&ndiff(&["--xml"], &a, &b));
    // ndiff writes `<?xml version="1.0" encoding="utf-8"?>`; nmap's own XML says UTF-8.
    let theirs = theirs.replacen("encoding=\"utf-8\"", "encoding=\"UTF-8\"", 1);
    assert_eq!(ours, theirs);
}
