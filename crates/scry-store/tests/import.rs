//! `scry import` of nmap XML: a file laid out as nmap 7.93 writes it, one
//! cut short, bad files, and real nmap output of a localhost scan.

mod common;

use common::each_backend;
use scry_probe::services::Protocol;
use scry_probe::state::PortState;
use scry_store::import::{nmap_xml, ImportError};
use scry_store::*;
use std::net::{IpAddr, TcpListener};
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

const FILE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<?xml-stylesheet href="file:///usr/bin/../share/nmap/nmap.xsl" type="text/xsl"?>
<!-- Nmap 7.93 scan initiated Fri Jan 15 08:00:00 2027 as: nmap -sS -sU -sV -O -p T:22,80,U:53 198.18.0.0/30 -->
<nmaprun scanner="nmap" args="nmap -sS -sU -sV -O -p T:22,80,U:53 198.18.0.0/30" start="1800000000" startstr="Fri Jan 15 08:00:00 2027" version="7.93" xmloutputversion="1.05">
<scaninfo type="syn" protocol="tcp" numservices="2" services="22,80"/>
<scaninfo type="udp" protocol="udp" numservices="1" services="53"/>
<verbose level="0"/>
<debugging level="0"/>
<hosthint><status state="up" reason="arp-response" reason_ttl="0"/>
<address addr="198.18.0.1" addrtype="ipv4"/>
</hosthint>
<host starttime="1800000001" endtime="1800000009"><status state="up" reason="arp-response" reason_ttl="0"/>
<address addr="198.18.0.1" addrtype="ipv4"/>
<address addr="02:00:C6:12:00:01" addrtype="mac"/>
<hostnames>
<hostname name="gateway.lab" type="PTR"/>
<hostname name="gw.lab" type="PTR"/>
</hostnames>
<ports><port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="ssh" product="OpenSSH" version="9.2p1 Debian 2" extrainfo="protocol 2.0" ostype="Linux" method="probed" conf="10"><cpe>cpe:/a:openbsd:openssh:9.2p1</cpe><cpe>cpe:/o:linux:linux_kernel</cpe></service><script id="banner" output="SSH-2.0-OpenSSH_9.2p1 Debian-2"/></port>
<port protocol="tcp" portid="80"><state state="closed" reason="reset" reason_ttl="64"/><service name="http" method="table" conf="3"/></port>
<port protocol="udp" portid="53"><state state="open|filtered" reason="no-response" reason_ttl="0"/><service name="domain" method="table" conf="3"/></port>
</ports>
<os><portused state="open" proto="tcp" portid="22"/>
<osmatch name="Linux 5.0 - 5.14" accuracy="100" line="67240">
<osclass type="general purpose" vendor="Linux" osfamily="Linux" osgen="5.X" accuracy="100"><cpe>cpe:/o:linux:linux_kernel:5</cpe></osclass>
</osmatch>
<osmatch name="Linux 4.15 - 5.8" accuracy="96" line="66000"/>
<osfingerprint fingerprint="OS:SCAN(V=7.93%E=4%D=1/15%OT=22%CT=80%CU=53)&#xa;OS:SEQ(SP=104)"/>
</os>
<distance value="1"/>
<hostscript><script id="banner" output="not a port's"/></hostscript>
</host>
<host starttime="1800000002" endtime="1800000009"><status state="down" reason="no-response" reason_ttl="0"/>
<address addr="198.18.0.2" addrtype="ipv4"/>
</host>
<runstats><finished time="1800000010" timestr="Fri Jan 15 08:00:10 2027" summary="" elapsed="10.00" exit="success"/><hosts up="1" down="3" total="4"/>
</runstats>
</nmaprun>
"#;

fn at(secs: u64) -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn an_nmap_file_reads_into_a_scan_and_its_observations() {
    let imported = nmap_xml::read("a.xml", FILE).unwrap();
    let scope = &imported.scan.scope;
    assert_eq!(imported.scan.args, "nmap -sS -sU -sV -O -p T:22,80,U:53 198.18.0.0/30");
    assert_eq!((imported.scan.version.as_str(), imported.scan.started), ("nmap 7.93", at(0)));
    assert_eq!(scope.ports, [(Protocol::Tcp, vec![22, 80]), (Protocol::Udp, vec![53])]);
    assert_eq!(scope.scan_types, ["syn", "udp"]);
    assert!(scope.covers_host(ip("203.0.113.7")) && scope.covers_host(ip("2001:db8::1")));
    assert_eq!((imported.status, imported.ended), (ScanStatus::Complete, Some(at(10))));
    assert_eq!((imported.stats.hosts_up, imported.stats.hosts_scanned), (1, 4));

    let o = &imported.observations;
    assert_eq!(o.len(), 6);
    assert_eq!(
        o[0],
        Observation::Host(HostObservation {
            ip: ip("198.18.0.1"),
            status: HostStatus::Up,
            reason: "arp-response".into(),
            ttl: None,
            mac: Some("02:00:C6:12:00:01".into()),
            hostname: Some("gateway.lab".into()),
            seen: at(9),
        })
    );
    assert_eq!(
        o[1],
        Observation::Port(PortObservation {
            ip: ip("198.18.0.1"),
            protocol: Protocol::Tcp,
            port: 22,
            state: PortState::Open,
            reason: "syn-ack".into(),
            ttl: Some(64),
            service: Service {
                name: Some("ssh".into()),
                product: Some("OpenSSH".into()),
                version: Some("9.2p1 Debian 2".into()),
                extrainfo: Some("protocol 2.0".into()),
                banner: Some("SSH-2.0-OpenSSH_9.2p1 Debian-2".into()),
                cpe: vec!["cpe:/a:openbsd:openssh:9.2p1".into(), "cpe:/o:linux:linux_kernel".into()],
            },
            seen: at(9),
        })
    );
    let Observation::Port(udp) = &o[3] else { panic!("{:?}", o[3]) };
    assert_eq!(
        (udp.protocol, udp.port, udp.state, udp.ttl),
        (Protocol::Udp, 53, PortState::OpenFiltered, None)
    );
    assert_eq!(
        o[4],
        Observation::Os(OsObservation {
            ip: ip("198.18.0.1"),
            matches: vec![
                OsMatchRow { name: "Linux 5.0 - 5.14".into(), accuracy: 100 },
                OsMatchRow { name: "Linux 4.15 - 5.8".into(), accuracy: 96 },
            ],
            fingerprint: Some("OS:SCAN(V=7.93%E=4%D=1/15%OT=22%CT=80%CU=53)\nOS:SEQ(SP=104)".into()),
            distance: Some(1),
            details: None,
            seen: at(9),
        })
    );
    let Observation::Host(down) = &o[5] else { panic!("{:?}", o[5]) };
    assert_eq!(
        (down.ip, down.status, down.reason.as_str()),
        (ip("198.18.0.2"), HostStatus::Down, "no-response")
    );
}

#[test]
fn a_file_cut_short_is_an_interrupted_scan() {
    let cut = &FILE[..FILE.find("<host starttime=\"1800000002\"").unwrap()];
    let imported = nmap_xml::read("cut.xml", cut).unwrap();
    assert_eq!((imported.status, imported.ended), (ScanStatus::Interrupted, None));
    assert_eq!(imported.observations.len(), 5);
    // Cut inside a host: that host is not recorded.
    let inside = &FILE[..FILE.find("<distance").unwrap()];
    let imported = nmap_xml::read("cut.xml", inside).unwrap();
    assert_eq!((imported.status, imported.observations.len()), (ScanStatus::Interrupted, 0));
}

#[test]
fn bad_files_name_file_line_and_column() {
    let err = |name: &str, text: &str| nmap_xml::read(name, text).unwrap_err();
    assert_eq!(
        err("x.xml", "<?xml version=\"1.0\"?>\n<masscan/>\n").to_string(),
        "x.xml:2:1: not nmap XML: the first element is not <nmaprun>"
    );
    assert_eq!(err("e.xml", "").to_string(), "e.xml:1:1: not nmap XML: no <nmaprun> element");
    let bad_state = FILE.replace("state=\"closed\" reason=\"reset\"", "state=\"shut\" reason=\"reset\"");
    let e = err("s.xml", &bad_state);
    assert_eq!(
        e,
        ImportError {
            file: "s.xml".into(),
            line: 21,
            column: 34,
            problem: "unknown port state \"shut\"".into()
        }
    );
    let bad_port = FILE.replace("portid=\"80\"", "portid=\"80000\"");
    assert_eq!(err("p.xml", &bad_port).to_string(), "p.xml:21:1: bad portid \"80000\"");
    let mismatched = FILE.replace("</ports>", "</port>");
    assert!(err("m.xml", &mismatched).to_string().starts_with("m.xml:23:"), "{}", err("m.xml", &mismatched));
}

#[test]
fn an_imported_scan_is_stored_and_diffs_like_ndiff() {
    each_backend(|db| {
        let mut store = db.open();
        let first = store.import(nmap_xml::read("a.xml", FILE).unwrap()).unwrap();
        let later = FILE.replace("start=\"1800000000\"", "start=\"1800086400\"").replace(
            "<state state=\"closed\" reason=\"reset\" reason_ttl=\"64\"/>",
            "<state state=\"open\" reason=\"syn-ack\" reason_ttl=\"64\"/>",
        );
        let second = store.import(nmap_xml::read("b.xml", &later).unwrap()).unwrap();
        let loaded = store.load_scan(first).unwrap();
        assert_eq!(
            (loaded.record.status, loaded.hosts.len(), loaded.ports.len()),
            (ScanStatus::Complete, 2, 3)
        );
        assert_eq!(loaded.os[0].top().unwrap().name, "Linux 5.0 - 5.14");
        assert_eq!(store.last_two_complete().unwrap(), Some((Subject::Scan(first), Subject::Scan(second))));
        let d = diff::diff(&[loaded], &[store.load_scan(second).unwrap()], false).unwrap();
        let mut text = Vec::new();
        diff::write_text(&d, &mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.starts_with("-nmap 7.93 scan initiated Fri Jan 15 08:00:00 2027 as: nmap -sS"),
            "{text}"
        );
        let body: Vec<&str> = text.lines().skip(2).collect();
        assert_eq!(
            body,
            [
                "",
                " gateway.lab (198.18.0.1, 02:00:C6:12:00:01):",
                " PORT   STATE  SERVICE VERSION",
                "-80/tcp closed http",
                "+80/tcp open   http"
            ]
        );
    });
}

#[test]
fn real_nmap_output_of_a_localhost_scan_imports() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap().port();
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port(); // dropped: closed
    let ports = format!("{open},{closed}");
    let out = Command::new("nmap")
        .args(["-sT", "-Pn", "-n", "-p", &ports, "-oX", "-", "127.0.0.1"])
        .output()
        .expect("running nmap: install Debian's nmap package (scripts/install-deps.sh)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    drop(listener);
    let imported = nmap_xml::read("nmap.xml", &String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(imported.status, ScanStatus::Complete);
    let mut expected = [(open, PortState::Open, "syn-ack"), (closed, PortState::Closed, "conn-refused")];
    expected.sort();
    let ports: Vec<(u16, PortState, &str)> = imported
        .observations
        .iter()
        .filter_map(|o| match o {
            Observation::Port(p) => Some((p.port, p.state, p.reason.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(ports, expected);
    assert_eq!(imported.scan.scope.scan_types, ["connect"]);
}
