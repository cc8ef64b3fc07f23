//! `scry import` of masscan's JSON and scry's JSON Lines.

mod common;

use common::each_backend;
use scry_probe::services::Protocol;
use scry_probe::state::PortState;
use scry_store::import::json::{read_masscan, read_scry};
use scry_store::*;
use std::net::IpAddr;
use std::time::{Duration, UNIX_EPOCH};

/// As masscan 1.3.2 writes it (src/out-json.c): a banner record follows its port.
const MASSCAN: &str = r#"[
{   "ip": "198.18.0.10",   "timestamp": "1800000003", "ports": [ {"port": 80, "proto": "tcp", "status": "open", "reason": "syn-ack", "ttl": 64} ] }
,
{   "ip": "198.18.0.11",   "timestamp": "1800000001", "ports": [ {"port": 22, "proto": "tcp", "status": "open", "reason": "syn-ack", "ttl": 63} ] }
,
{   "ip": "198.18.0.10",   "timestamp": "1800000005", "ports": [ {"port": 80, "proto": "tcp", "service": {"name": "http", "banner": "HTTP/1.0 200 OK\u000d\u000aServer: nginx"} } ] }
]
"#;

fn at(secs: u64) -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// Address, port, state, service name, banner.
type PortRow<'a> = (IpAddr, u16, PortState, Option<&'a str>, Option<&'a str>);

fn ports(o: &[Observation]) -> Vec<PortRow<'_>> {
    o.iter()
        .filter_map(|o| match o {
            Observation::Port(p) => {
                Some((p.ip, p.port, p.state, p.service.name.as_deref(), p.service.banner.as_deref()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_masscan_file_reads_with_banners_merged() {
    let s = read_masscan("m.json", MASSCAN).unwrap();
    assert_eq!((s.status, s.scan.started, s.ended), (ScanStatus::Complete, at(1), Some(at(5))));
    assert_eq!((s.scan.version.as_str(), s.stats.hosts_up), ("masscan", 2));
    assert_eq!(s.scan.scope.ports.len(), 1);
    assert_eq!((s.scan.scope.ports[0].0, s.scan.scope.ports[0].1.len()), (Protocol::Tcp, 65535));
    assert_eq!(
        ports(&s.observations),
        [
            (ip("198.18.0.10"), 80, PortState::Open, Some("http"), Some("HTTP/1.0 200 OK\r\nServer: nginx")),
            (ip("198.18.0.11"), 22, PortState::Open, None, None),
        ]
    );
    let Observation::Host(h) = &s.observations[0] else { panic!("{:?}", s.observations[0]) };
    assert_eq!((h.ip, h.reason.as_str(), h.ttl, h.seen), (ip("198.18.0.10"), "syn-ack", Some(64), at(3)));
}

#[test]
fn a_masscan_file_cut_short_is_interrupted() {
    let cut = &MASSCAN[..MASSCAN.find("\"service\"").unwrap()];
    let s = read_masscan("m.json", cut).unwrap();
    assert_eq!(s.status, ScanStatus::Interrupted);
    assert_eq!(ports(&s.observations).len(), 2);
    let no_close = MASSCAN.trim_end().trim_end_matches(']');
    assert_eq!(read_masscan("m.json", no_close).unwrap().status, ScanStatus::Interrupted);
}

#[test]
fn bad_masscan_files_name_the_place() {
    let err = |text: &str| read_masscan("m.json", text).unwrap_err().to_string();
    assert_eq!(err("\n{\"ip\": 1}"), "m.json:2:1: not masscan JSON: it does not start with [");
    assert_eq!(
        err(&MASSCAN
            .replace("\"status\": \"open\", \"reason\": \"syn-ack\", \"ttl\": 63", "\"status\": \"up\"")),
        "m.json:4:1: unknown status \"up\""
    );
    assert_eq!(err("[\n{ \"ip\": \"198.18.0.1\", ]"), "m.json:2:23: not JSON: key must be a string");
}

const SCRY: &str = r#"{"type":"begin","scanner":"scry","version":"0.1.0","args":"scry -O -p22,80 198.18.0.10","start":1800000000.25,"hosts":1,"ports":2}
{"type":"host","ip":"198.18.0.10","state":"up","reason":"arp-response","ttl":null}
{"type":"port","ip":"198.18.0.10","port":22,"proto":"tcp","state":"open","reason":"syn-ack","ttl":64,"service":"ssh"}
{"type":"port","ip":"198.18.0.10","port":80,"proto":"tcp","state":"closed","reason":"reset","ttl":64,"service":"http"}
{"type":"os","ip":"198.18.0.10","matches":[{"name":"Linux 5.0 - 5.14","accuracy":100,"line":67240,"classes":[],"cpe":[]}],"fingerprint":"OS:SCAN(V=0.1.0)","distance":1}
{"type":"os_quick","ip":"198.18.0.10","matches":[],"families":[],"fingerprint":"","from":22}
{"type":"stats","sent":4,"send_errors":0,"received":2,"rejected":0,"duplicates":0,"capture_dropped":0,"interface_dropped":0,"duration":1.5,"pps":2.6,"hosts_scanned":1,"hosts_up":1,"interrupted":false,"max_rss_kib":9000,"skipped_broadcast":0}
"#;

#[test]
fn a_scry_json_lines_file_reads_back() {
    let s = read_scry("s.json", SCRY).unwrap();
    assert_eq!((s.status, s.scan.version.as_str()), (ScanStatus::Complete, "0.1.0"));
    assert_eq!(s.scan.args, "scry -O -p22,80 198.18.0.10");
    assert_eq!(s.scan.started, UNIX_EPOCH + Duration::from_millis(1_800_000_000_250));
    assert_eq!(s.ended, Some(UNIX_EPOCH + Duration::from_millis(1_800_000_001_750)));
    assert_eq!((s.stats.hosts_scanned, s.stats.hosts_up), (1, 1));
    assert_eq!((s.stats.counters["sent"], s.stats.counters["duration_ms"]), (4, 1500));
    assert_eq!(
        ports(&s.observations),
        [
            (ip("198.18.0.10"), 22, PortState::Open, Some("ssh"), None),
            (ip("198.18.0.10"), 80, PortState::Closed, Some("http"), None),
        ]
    );
    let Some(Observation::Os(os)) = s.observations.last() else { panic!("{:?}", s.observations) };
    assert_eq!(os.matches, [OsMatchRow { name: "Linux 5.0 - 5.14".into(), accuracy: 100 }]);
    assert_eq!((os.fingerprint.as_deref(), os.distance), (Some("OS:SCAN(V=0.1.0)"), Some(1)));
    assert_eq!(os.details.as_deref(), SCRY.lines().nth(4));
}

#[test]
fn a_scry_file_cut_short_or_interrupted_is_interrupted() {
    let cut = &SCRY[..SCRY.find("{\"type\":\"stats\"").unwrap() + 20];
    let s = read_scry("s.json", cut).unwrap();
    assert_eq!((s.status, ports(&s.observations).len()), (ScanStatus::Interrupted, 2));
    let stopped = SCRY.replace("\"interrupted\":false", "\"interrupted\":true");
    assert_eq!(read_scry("s.json", &stopped).unwrap().status, ScanStatus::Interrupted);
    let err = read_scry("s.json", "{\"type\":\"port\"}\n").unwrap_err().to_string();
    assert_eq!(err, "s.json:1:1: not scry JSON: the first record is not \"begin\"");
    let err = read_scry("s.json", &SCRY.replace("\"state\":\"closed\"", "\"state\":\"shut\"")).unwrap_err();
    assert_eq!(err.to_string(), "s.json:4:1: unknown state \"shut\"");
}

#[test]
fn imported_json_scans_diff_with_their_own_banner() {
    each_backend(|db| {
        let mut store = db.open();
        let a = store.import(read_masscan("a.json", MASSCAN).unwrap()).unwrap();
        let later = MASSCAN.replace(
            "\"port\": 22, \"proto\": \"tcp\", \"status\": \"open\"",
            "\"port\": 23, \"proto\": \"tcp\", \"status\": \"open\"",
        );
        let b = store.import(read_masscan("b.json", &later).unwrap()).unwrap();
        let d = diff::diff(&[store.load_scan(a).unwrap()], &[store.load_scan(b).unwrap()], false).unwrap();
        let mut text = Vec::new();
        diff::write_text(&d, &mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert_eq!(
            text,
            "\n 198.18.0.11:\n PORT   STATE    SERVICE VERSION\n-22/tcp open\n+22/tcp filtered\n-23/tcp filtered\n+23/tcp open\n"
        );
    });
}

#[test]
fn a_service_record_adds_the_version_and_keeps_the_ports_reason() {
    let text = concat!(
        r#"{"type":"begin","scanner":"scry","version":"0.1.0","args":"scry -sV -p22 198.18.0.10","start":1800000000.0,"hosts":1,"ports":1}"#,
        "\n",
        r#"{"type":"host","ip":"198.18.0.10","state":"up","reason":"syn-ack","ttl":64}"#,
        "\n",
        r#"{"type":"port","ip":"198.18.0.10","port":22,"proto":"tcp","state":"open","reason":"syn-ack","ttl":64,"service":"ssh"}"#,
        "\n",
        r#"{"type":"service","ip":"198.18.0.10","port":22,"proto":"tcp","state":"open","name":"ssh","product":"OpenSSH","version":"9.2p1 Debian 2+deb12u3","extrainfo":"protocol 2.0","cpe":["cpe:/a:openbsd:openssh:9.2p1","cpe:/o:linux:linux_kernel"],"banner":null}"#,
        "\n",
    );
    let s = read_scry("v.json", text).unwrap();
    let ports: Vec<&PortObservation> = s
        .observations
        .iter()
        .filter_map(|o| if let Observation::Port(p) = o { Some(p) } else { None })
        .collect();
    let [p] = ports[..] else { panic!("{:?}", s.observations) };
    assert_eq!((p.state, p.reason.as_str(), p.ttl), (PortState::Open, "syn-ack", Some(64)));
    assert_eq!(p.service.name.as_deref(), Some("ssh"));
    assert_eq!(p.service.product.as_deref(), Some("OpenSSH"));
    assert_eq!(p.service.version.as_deref(), Some("9.2p1 Debian 2+deb12u3"));
    assert_eq!(p.service.extrainfo.as_deref(), Some("protocol 2.0"));
    assert_eq!(p.service.cpe, ["cpe:/a:openbsd:openssh:9.2p1", "cpe:/o:linux:linux_kernel"]);
}
