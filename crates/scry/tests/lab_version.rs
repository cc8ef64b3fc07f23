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
use std::path::Path;

use common::services::{mask_uptime, nmap_datadir, nmap_present, ports};
use scry_lab::{Daemon, Lab, Service, TargetSpec};

/// Ports the lab's own listener accepts and closes at once.
const LISTENERS: [u16; 2] = [8001, 8002];
/// A port nothing listens on.
const CLOSED: u16 = 9;

/// A JSON `service` record's compared attributes and its CPEs.
type JsonService = (BTreeMap<String, String>, Vec<String>);

/// scry's JSON `service` records: the XML's attributes (with `conf` as
/// text, and `extrainfo` masked the same way) and the CPEs, by (protocol, port).
fn json_services(text: &str) -> BTreeMap<(String, u16), JsonService> {
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

/// `uptime 56` becomes `uptime N` anywhere in `text` (memcached's age).
fn mask_uptimes(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("uptime ") {
        out.push_str(&rest[..at + "uptime ".len()]);
        rest = &rest[at + "uptime ".len()..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            out.push('N');
            rest = &rest[digits..];
        }
    }
    out + rest
}

/// The entries of a grepable file's `Ports:` field.
fn grepable_ports(text: &str) -> Vec<String> {
    let line = text.lines().find(|l| l.contains("\tPorts: ")).expect("a Ports line");
    let field = line.split("\tPorts: ").nth(1).unwrap().split('\t').next().unwrap();
    field.split(", ").map(mask_uptimes).collect()
}

/// The normal output's port table (header and rows) and `Service Info:` line.
fn port_table(text: &str) -> Vec<String> {
    let row =
        |l: &str| l.split('/').next().is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    text.lines()
        .filter(|l| l.starts_with("PORT ") || l.starts_with("Service Info: ") || row(l))
        .map(mask_uptimes)
        .collect()
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
    let dir = nmap_datadir("version");
    let (ours, theirs) = (dir.join("scry.xml"), dir.join("nmap.xml"));

    let out = lab
        .scanner()
        .command(common::SCRY)
        // -sS and -O too: version detection goes with them as in nmap.
        .args(["-sS", "-sV", "-O", "-Pn", "-n", "-p", &list, &ip, "-oA"])
        .arg(dir.join("scry"))
        .output()
        .unwrap();
    assert!(out.status.success(), "scry: {}", String::from_utf8_lossy(&out.stderr));
    let normal = String::from_utf8_lossy(&out.stdout).into_owned();
    // -O's lines come before the Service Info line, as in nmap.
    let (os_at, info_at) = (normal.find("Network Distance: "), normal.find("Service Info: "));
    assert!(os_at.is_some() && os_at < info_at, "{normal}");
    let out = lab
        .scanner()
        .command("nmap")
        .args(["-sV", "-Pn", "-n", "--datadir"])
        .arg(&dir)
        .args(["-p", &list, &ip, "-oA"])
        .arg(dir.join("nmap"))
        .output()
        .unwrap();
    assert!(out.status.success(), "nmap: {}", String::from_utf8_lossy(&out.stderr));
    let nmap_normal = String::from_utf8_lossy(&out.stdout).into_owned();

    // For docs/benchmarks.md (shown with --nocapture): how long each took.
    let done = |text: &str| text.lines().filter(|l| l.contains(" done")).collect::<Vec<_>>().join("\n");
    eprintln!("{}\n{}", done(&normal), done(&nmap_normal));
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
    // Grepable Ports fields and the normal output's port table and Service
    // Info line are nmap's, entry for entry and line for line.
    let gnmap = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    assert_eq!(grepable_ports(&gnmap("scry.gnmap")), grepable_ports(&gnmap("nmap.gnmap")));
    assert_eq!(port_table(&normal), port_table(&nmap_normal), "scry:\n{normal}\nnmap:\n{nmap_normal}");
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

/// `--banners` without `-sV`: what OpenSSH says first, nothing from nginx
/// on 80, and nginx's self-signed certificate on 443; with `-sV` too, the
/// same banner beside the version.
#[test]
fn banners_with_and_without_version_detection() {
    let Some(lab) = scry_lab::require_lab(Lab::builder().target(TargetSpec::new()).build()) else { return };
    let target = &lab.targets()[0];
    let daemons: Vec<Daemon> =
        [Service::Ssh, Service::Nginx].into_iter().filter_map(|s| Daemon::start_or_skip(target, s)).collect();
    if daemons.len() < 2 {
        return;
    }
    let ip = target.ipv4().to_string();
    for version in [false, true] {
        let mut args = vec!["--banners", "-Pn", "-n", "-p", "22,80,443", &ip];
        if version {
            args.push("-sV");
        }
        let out = common::command(lab.scanner(), &args).output().unwrap();
        let scan = common::Scan::from_output(out.status, &out.stdout, &out.stderr);
        assert!(scan.status.success(), "{}", scan.stderr);
        let record = |port: u16| scan.records_of("service").find(|r| r["port"] == port).cloned().unwrap();
        let ssh = record(22);
        let banner = ssh["banner"].as_str().unwrap();
        assert!(banner.starts_with("SSH-2.0-OpenSSH_") && banner.ends_with("\\r\\n"), "{banner}");
        assert_eq!(ssh["certificate"], serde_json::Value::Null);
        assert_eq!(record(80)["banner"], "");
        let cert = &record(443)["certificate"];
        let lab_name = "commonName=lab.test/organizationName=scry lab";
        assert_eq!(
            (cert["subject"].as_str(), cert["issuer"].as_str()),
            (Some(lab_name), Some(lab_name)),
            "{cert}"
        );
        assert!(cert["not_after"].as_str().unwrap().ends_with(" GMT"), "{cert}");
        assert_eq!(ssh["name"], "ssh");
        assert_eq!(
            ssh["product"],
            if version { serde_json::json!("OpenSSH") } else { serde_json::Value::Null }
        );
    }
}

/// Measurement, not a check of speed (run by hand, numbers in
/// docs/benchmarks.md): 1000 services that accept and close on one host,
/// scry -sV against nmap -sV; the answers must still be equal.
#[test]
#[ignore = "measurement: cargo test -p scry --test lab_version -- --ignored --nocapture"]
fn thousand_tcpwrapped_services_on_one_host() {
    if !nmap_present() {
        return;
    }
    let listening: Vec<u16> = (2001..=3000).collect();
    let Some(lab) =
        scry_lab::require_lab(Lab::builder().target(TargetSpec::new().tcp_listen(&listening)).build())
    else {
        return;
    };
    let ip = lab.targets()[0].ipv4().to_string();
    let dir = nmap_datadir("version-1000");
    let (ours, theirs) = (dir.join("scry.xml"), dir.join("nmap.xml"));
    let started = std::time::Instant::now();
    let out = lab
        .scanner()
        .command(common::SCRY)
        .args(["-sV", "-Pn", "-n", "-p", "2001-3000", &ip, "-oX"])
        .arg(&ours)
        .output()
        .unwrap();
    let scry_time = started.elapsed();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let started = std::time::Instant::now();
    let out = lab
        .scanner()
        .command("nmap")
        .args(["-sV", "-Pn", "-n", "--datadir"])
        .arg(&dir)
        .args(["-p", "2001-3000", &ip, "-oX"])
        .arg(&theirs)
        .output()
        .unwrap();
    let nmap_time = started.elapsed();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let a = ports(&std::fs::read_to_string(&ours).unwrap());
    let b = ports(&std::fs::read_to_string(&theirs).unwrap());
    assert_eq!(a, b);
    eprintln!("1000 tcpwrapped services: scry -sV {scry_time:.2?}, nmap -sV {nmap_time:.2?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A service starts as soon as the SYN scan reports its port open, not
/// after the scan: the service's connection arrives while the port scan
/// (all 65535 ports at 2000 per second) is still sending.
#[test]
fn services_start_while_the_port_scan_goes_on() {
    use std::io::Read;
    const PORT: u16 = 2222;
    let Some(lab) = scry_lab::require_lab(Lab::builder().target(TargetSpec::new()).build()) else { return };
    let target = &lab.targets()[0];
    let ip = target.ipv4();
    let listener = target.run(move || std::net::TcpListener::bind((ip, PORT))).unwrap().unwrap();
    let ip = ip.to_string();
    let args = ["-sV", "-Pn", "-n", "-p-", "--rate", "2000", "--seed", "5", &ip];
    let (mut child, mut stdout) = common::spawn_piped(lab.scanner(), &args);
    // Read all along: a full pipe would stop the scan (a record per closed port).
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).unwrap();
        text
    });
    // The version scan's first connection (the NULL probe's, which waits for a greeting).
    let (_conn, _) = listener.accept().unwrap();
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let text = reader.join().unwrap();
    let mut stderr = Vec::new();
    child.stderr.take().unwrap().read_to_end(&mut stderr).unwrap();
    let scan = common::Scan::from_output(child.wait().unwrap(), text.as_bytes(), &stderr);
    assert!(scan.status.success(), "{}", scan.stderr);
    let sent = scan.stats()["sent"].as_u64().unwrap();
    assert!(
        sent < u64::from(u16::MAX),
        "the port scan had ended before the service started: {}",
        scan.stats()
    );
    let service = scan.records_of("service").find(|r| r["port"] == PORT).cloned().unwrap();
    assert_eq!(service["outcome"], "incomplete");
}
