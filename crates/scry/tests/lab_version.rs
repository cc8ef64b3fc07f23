//! `scry -sV` against nmap 7.93's `-sV` on the same lab target, port by
//! port: real daemons from Debian's packages (tests/lab/src/daemon.rs) and
//! two lab listeners that accept and close (tcpwrapped). nmap runs with a
//! data directory whose NSE script database is empty, so that its
//! `version` scripts do not rewrite the answers of its version scan.
//!
//! Every field nmap's XML gives a port's `<service>` is compared exactly:
//! name, product, version, extrainfo, hostname, ostype, devicetype,
//! tunnel, method, conf and the CPEs. One value is masked: memcached's
//! extrainfo says `uptime N seconds`, and N is the daemon's age when each
//! scanner asked (the scans run one after the other).
//!
//! Skipped without root or nmap, except under `CI=true`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use quick_xml::events::Event;
use scry_lab::{Daemon, Lab, Service, TargetSpec};

/// Ports the lab's own listener accepts and closes at once.
const LISTENERS: [u16; 2] = [8001, 8002];
/// A port nothing listens on.
const CLOSED: u16 = 9;

/// One port's `<service>` as nmap's XML gives it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct ServiceFields {
    state: String,
    attributes: BTreeMap<String, String>,
    cpes: Vec<String>,
}

/// The ports of an nmap XML document, by (protocol, port).
fn ports(xml: &str) -> BTreeMap<(String, u16), ServiceFields> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = BTreeMap::new();
    let mut current: Option<((String, u16), ServiceFields)> = None;
    let mut in_cpe = false;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => {
                let attrs: BTreeMap<String, String> = e
                    .attributes()
                    .map(|a| {
                        let a = a.unwrap();
                        let key = String::from_utf8(a.key.as_ref().to_vec()).unwrap();
                        (key, a.unescape_value().unwrap().into_owned())
                    })
                    .collect();
                match e.name().as_ref() {
                    b"port" => {
                        let key = (attrs["protocol"].clone(), attrs["portid"].parse().unwrap());
                        current = Some((key, ServiceFields::default()));
                    }
                    b"state" => {
                        if let Some((_, f)) = current.as_mut() {
                            f.state = attrs["state"].clone();
                        }
                    }
                    b"service" => {
                        if let Some((_, f)) = current.as_mut() {
                            // The fingerprint holds the scanner's name and the time: not compared.
                            f.attributes = attrs.into_iter().filter(|(k, _)| k != "servicefp").collect();
                            if let Some(info) = f.attributes.get_mut("extrainfo") {
                                *info = mask_uptime(info);
                            }
                        }
                    }
                    b"cpe" => in_cpe = true,
                    _ => {}
                }
            }
            Event::Text(t) if in_cpe => {
                if let Some((_, f)) = current.as_mut() {
                    f.cpes.push(t.unescape().unwrap().into_owned());
                }
            }
            Event::End(e) => match e.name().as_ref() {
                b"cpe" => in_cpe = false,
                b"port" => {
                    if let Some((key, f)) = current.take() {
                        out.insert(key, f);
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
    out
}

/// `uptime 56 seconds` becomes `uptime N seconds`; anything else is kept.
fn mask_uptime(info: &str) -> String {
    match info.strip_prefix("uptime ").and_then(|rest| rest.split_once(' ')) {
        Some((n, unit)) if n.bytes().all(|b| b.is_ascii_digit()) => format!("uptime N {unit}"),
        _ => info.to_owned(),
    }
}

/// scry's JSON `service` records: the XML's attributes (with `conf` as
/// text, and `extrainfo` masked the same way) and the CPEs, by (protocol, port).
fn json_services(text: &str) -> BTreeMap<(String, u16), (BTreeMap<String, String>, Vec<String>)> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["type"] != "service" {
            continue;
        }
        let mut attributes = BTreeMap::new();
        for k in [
            "name",
            "product",
            "version",
            "extrainfo",
            "hostname",
            "ostype",
            "devicetype",
            "tunnel",
            "method",
        ] {
            if let Some(s) = v[k].as_str() {
                let s = if k == "extrainfo" { mask_uptime(s) } else { s.to_owned() };
                attributes.insert(k.to_owned(), s);
            }
        }
        attributes.insert("conf".into(), v["conf"].to_string());
        let cpes = v["cpe"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
        let key = (v["proto"].as_str().unwrap().to_owned(), v["port"].as_u64().unwrap() as u16);
        out.insert(key, (attributes, cpes));
    }
    out
}

/// What python3-libnmap reads of each open port: port, protocol, state,
/// service name, tunnel, its "banner" (product version extrainfo) and CPEs.
/// memcached's uptime is masked as in [`ports`].
fn libnmap(path: &Path) -> serde_json::Value {
    const SCRIPT: &str = r#"
import json, re, sys
from libnmap.parser import NmapParser
report = NmapParser.parse_fromfile(sys.argv[1])
print(json.dumps([
    [s.port, s.protocol, s.state, s.service, s.tunnel,
     re.sub(r"uptime \d+ ", "uptime N ", s.banner), [c.cpestring for c in s.cpelist]]
    for h in report.hosts for s in h.services if s.state == "open"
]))
"#;
    let out = std::process::Command::new("/usr/bin/python3")
        .args(["-c", SCRIPT])
        .arg(path)
        .output()
        .expect("python3-libnmap (scripts/install-deps.sh)");
    assert!(out.status.success(), "libnmap: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// An nmap data directory whose `scripts/script.db` is empty: nmap finds
/// every other file in its own install, but selects no script.
fn nmap_datadir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scry-lab-version-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    std::fs::write(dir.join("scripts/script.db"), "").unwrap();
    dir
}

fn nmap_present() -> bool {
    let found =
        std::process::Command::new("nmap").arg("--version").output().is_ok_and(|o| o.status.success());
    let probes = Path::new("/usr/share/nmap/nmap-service-probes").is_file();
    if !(found && probes) {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true but nmap is missing");
        eprintln!("skipped: nmap is not installed");
    }
    found && probes
}

#[test]
fn version_scan_equals_nmap_on_every_port() {
    if !nmap_present() {
        return;
    }
    let spec = TargetSpec::new().tcp_listen(&LISTENERS);
    let Some(lab) = scry_lab::require_lab(Lab::builder().target(spec).build()) else { return };
    let target = &lab.targets()[0];
    let daemons: Vec<Daemon> =
        Service::ALL.into_iter().filter_map(|s| Daemon::start_or_skip(target, s)).collect();
    let mut list: Vec<u16> = daemons.iter().flat_map(|d| d.service().tcp_ports().iter().copied()).collect();
    list.extend(LISTENERS);
    list.push(CLOSED);
    list.sort_unstable();
    let list: Vec<String> = list.iter().map(u16::to_string).collect();
    let list = list.join(",");
    let ip = target.ipv4().to_string();
    let dir = nmap_datadir();
    let (ours, theirs) = (dir.join("scry.xml"), dir.join("nmap.xml"));

    let out = lab
        .scanner()
        .command(common::SCRY)
        .args(["-sV", "-Pn", "-n", "-p", &list, &ip, "-oA"])
        .arg(dir.join("scry"))
        .output()
        .unwrap();
    assert!(out.status.success(), "scry: {}", String::from_utf8_lossy(&out.stderr));
    let normal = String::from_utf8_lossy(&out.stdout).into_owned();
    let out = lab
        .scanner()
        .command("nmap")
        .args(["-sV", "-Pn", "-n", "--datadir"])
        .arg(&dir)
        .args(["-p", &list, &ip, "-oX"])
        .arg(&theirs)
        .output()
        .unwrap();
    assert!(out.status.success(), "nmap: {}", String::from_utf8_lossy(&out.stderr));
    let nmap_normal = String::from_utf8_lossy(&out.stdout).into_owned();

    let ours_xml = std::fs::read_to_string(&ours).unwrap();
    let theirs_xml = std::fs::read_to_string(&theirs).unwrap();
    let (ours_ports, theirs_ports) = (ports(&ours_xml), ports(&theirs_xml));
    let mut problems = Vec::new();
    for (key, nmap) in &theirs_ports {
        match ours_ports.get(key) {
            Some(scry) if scry == nmap => {}
            other => problems.push(format!("{key:?}: nmap {nmap:?}\n    scry {other:?}")),
        }
    }
    // The comparison must cover the daemons' ports: each one is listed by nmap.
    assert!(theirs_ports.len() >= daemons.len(), "nmap listed {theirs_ports:?}");
    assert!(
        problems.is_empty(),
        "{} port(s) differ:\n{}\nscry:\n{normal}\nnmap:\n{nmap_normal}",
        problems.len(),
        problems.join("\n")
    );
    // JSON's service records say what the XML says.
    let json = std::fs::read_to_string(dir.join("scry.json")).unwrap();
    let json_ports = json_services(&json);
    for (key, xml) in &ours_ports {
        if xml.state == "open" {
            assert_eq!(
                json_ports.get(key),
                Some(&(xml.attributes.clone(), xml.cpes.clone())),
                "{key:?} in JSON"
            );
        }
    }
    // Grepable output carries the version field.
    let grepable = std::fs::read_to_string(dir.join("scry.gnmap")).unwrap();
    let version = |port: u16| {
        let f = &ours_ports[&("tcp".to_string(), port)].attributes;
        let parts = [
            f.get("product").cloned(),
            f.get("version").cloned(),
            f.get("extrainfo").map(|e| format!("({e})")),
        ];
        parts.into_iter().flatten().collect::<Vec<_>>().join(" ").replace('/', "|")
    };
    if daemons.iter().any(|d| d.service() == Service::Ssh) {
        assert!(grepable.contains(&format!("22/open/tcp//ssh//{}/", version(22))), "{grepable}");
    }
    // python3-libnmap reads the same services from both files.
    assert_eq!(libnmap(&ours), libnmap(&theirs));
    // ndiff sees no port or service change between the two scanners' files.
    let diff = std::process::Command::new("ndiff")
        .arg(&theirs)
        .arg(&ours)
        .output()
        .expect("ndiff (scripts/install-deps.sh)");
    let diff = String::from_utf8_lossy(&diff.stdout).into_owned();
    // memcached's uptime (masked elsewhere) is the only change ndiff may see.
    let changed = |l: &&str| l.contains("/tcp") && !(l.contains("11211/tcp") && l.contains("(uptime "));
    assert!(!diff.lines().any(|l| changed(&l)), "ndiff nmap.xml scry.xml:\n{diff}");
    // The XML stays valid against nmap's DTD.
    let dtd = "/usr/share/nmap/nmap.dtd";
    if Path::new(dtd).is_file() {
        let check =
            std::process::Command::new("xmllint").args(["--noout", "--dtdvalid", dtd]).arg(&ours).output();
        if let Ok(check) = check {
            assert!(check.status.success(), "xmllint: {}", String::from_utf8_lossy(&check.stderr));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
