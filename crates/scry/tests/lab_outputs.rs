//! The outputs other tools read, checked with those tools: nmap's DTD
//! (xmllint), ndiff, python3-libnmap, nmap.xsl (xsltproc); the exact
//! grepable lines; `-oA`; and complete XML and grepable files after SIGINT.
//!
//! The tools come from Debian (scripts/install-deps.sh); a missing one fails
//! the test with its package name rather than skipping it.

mod common;

use common::tools::{assert_valid_xml, libnmap, ndiff, read, scratch, text, tool};
use common::{scan, spawn_piped, Scan};
use scry_lab::{lab_or_skip, Lab, Personality, RejectWith, TargetSpec};
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

const XSL: &str = "/usr/share/nmap/nmap.xsl";
/// 101 ports: more than 25 closed ones, so some are only counted.
const PORTS: &str = "1-100,443";
const OPEN: &[u16] = &[22, 80, 443];
const PROHIBITED: u16 = 25;

/// The lab of most tests here: t0 with open, closed and prohibited ports, t1 silent.
fn lab() -> Option<Lab> {
    let t0 = TargetSpec::new().tcp_listen(OPEN).reject_tcp_port(PROHIBITED, RejectWith::AdminProhibited);
    scry_lab::require_lab(Lab::builder().target(t0).target(TargetSpec::new().drop_all()).build())
}

#[test]
fn all_formats_from_one_scan_read_by_nmaps_tools() {
    let Some(lab) = lab() else { return };
    let (t0, t1) = (lab.targets()[0].ipv4(), lab.targets()[1].ipv4());
    let dir = scratch("all-formats");
    let base = dir.join("scan");
    let out = scan(
        lab.scanner(),
        &["-p", PORTS, "--retries", "1", "-oA", base.to_str().unwrap(), "198.18.0.10-11"],
    );

    // -oA: four files, the JSON one the same records as standard output.
    let file = |ext: &str| base.with_extension(ext);
    assert_eq!(read(&file("json")), out.stdout);
    assert!(read(&file("nmap")).contains(&format!("scry scan report for {t0}\n")));

    assert_valid_xml(&file("xml"));

    // Grepable: nmap's lines, exactly.
    let grepable = read(&file("gnmap"));
    let lines: Vec<&str> = grepable.lines().collect();
    assert!(lines[0].starts_with("# scry 0.1.0 scan initiated "), "{grepable}");
    // `scan` adds `-oJ -` after the arguments.
    assert!(lines[0].ends_with(&format!(" -oA {} 198.18.0.10-11 -oJ -", base.display())), "{grepable}");
    let t0_ports = format!(
        "Host: {t0} ()\tPorts: 22/open/tcp//ssh///, 25/filtered/tcp//smtp///, 80/open/tcp//http///, \
         443/open/tcp//https///\tIgnored State: closed (97)"
    );
    let mut middle = lines[1..lines.len() - 1].to_vec();
    middle.sort();
    let mut expected = vec![
        format!("Host: {t0} ()\tStatus: Up"),
        format!("Host: {t1} ()\tStatus: Up"),
        t0_ports,
        format!("Host: {t1} ()\tPorts: \tIgnored State: filtered (101)"),
    ];
    expected.sort();
    assert_eq!(middle, expected, "{grepable}");
    let last = lines.last().unwrap();
    assert!(last.starts_with("# scry done at "), "{grepable}");
    assert!(last.contains(" -- 2 IP addresses (2 hosts up) scanned in "), "{grepable}");

    // python3-libnmap reads exactly the ports scry found.
    let report = libnmap(&file("xml"));
    assert_eq!((report["up"].as_u64(), report["total"].as_u64()), (Some(2), Some(2)));
    assert_eq!(report["scan_type"], "syn");
    let hosts = report["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 2, "{report}");
    let port = |n: u16, state: &str, reason: &str, service: &str| {
        serde_json::json!([n, "tcp", state, reason, service])
    };
    let h0 = &hosts[0];
    assert_eq!((h0["address"].as_str(), h0["status"].as_str()), (Some("198.18.0.10"), Some("up")));
    assert_eq!(h0["mac"], "02:00:C6:12:00:0A");
    let listed = serde_json::json!([
        port(22, "open", "syn-ack", "ssh"),
        port(25, "filtered", "admin-prohibited", "smtp"),
        port(80, "open", "syn-ack", "http"),
        port(443, "open", "syn-ack", "https"),
    ]);
    assert_eq!(h0["ports"], listed);
    assert_eq!(h0["extraports"], serde_json::json!([["reset", 97]]));
    let scry_open: Vec<u16> = out.in_state(t0, "open").into_iter().collect();
    assert_eq!(h0["open"], serde_json::json!(scry_open));
    assert_eq!(scry_open, OPEN);
    let h1 = &hosts[1];
    assert_eq!(
        (h1["address"].as_str(), h1["ports"].as_array().map(Vec::len)),
        (Some("198.18.0.11"), Some(0))
    );
    assert_eq!(h1["extraports"], serde_json::json!([["no-response", 101]]));

    // nmap.xsl renders the XML as an HTML report with each host's port table.
    let html = dir.join("scan.html");
    let out =
        tool("xsltproc", "xsltproc", &["-o", html.to_str().unwrap(), XSL, file("xml").to_str().unwrap()]);
    assert!(out.status.success(), "xsltproc: {}", text(&out.stderr));
    let html = read(&html);
    assert!(html.contains(&format!("<table id=\"porttable_{t0}\"")), "no port table for {t0}");
    // nmap.xsl puts a no-break space after the service name.
    let row =
        "<tr class=\"open\">\n<td>22</td>\n<td>tcp</td>\n<td>open</td>\n<td>ssh\u{a0}</td>\n<td>syn-ack</td>";
    assert!(html.contains(row), "no row for 22/tcp open in the HTML report");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Scans t0 with `-oX NAME` from inside `dir`, so that two scans' command lines match.
fn xml_scan(lab: &Lab, dir: &Path, name: &str) -> PathBuf {
    let mut cmd = common::command(lab.scanner(), &["-p", "1-100", "-oX", name, "198.18.0.10"]);
    let out = cmd.current_dir(dir).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    dir.join(name)
}

#[test]
fn ndiff_sees_no_change_then_a_newly_opened_port() {
    let Some(lab) = lab() else { return };
    let dir = scratch("ndiff");
    let first = xml_scan(&lab, &dir, "first.xml");
    let second = xml_scan(&lab, &dir, "second.xml");
    // Same hosts and ports: ndiff exits 0 and reports no host.
    let (status, diff) = ndiff(&first, &second);
    assert_eq!(status, Some(0), "{diff}");
    assert!(
        diff.lines().all(|l| l.is_empty() || l.starts_with("-Nmap ") || l.starts_with("+Nmap ")),
        "{diff}"
    );

    // Port 53 (closed, so only counted before) starts listening.
    let t0 = lab.targets()[0].ipv4();
    let listener = lab.targets()[0].run(move || TcpListener::bind((t0, 53))).unwrap().unwrap();
    let third = xml_scan(&lab, &dir, "third.xml");
    drop(listener);
    let (status, diff) = ndiff(&first, &third);
    assert_eq!(status, Some(1), "{diff}");
    let changes: Vec<&str> = diff.lines().skip_while(|l| !l.starts_with(' ')).collect();
    assert_eq!(
        changes,
        [
            " 198.18.0.10, 02:00:C6:12:00:0A:",
            "-Not shown: 97 closed ports",
            "+Not shown: 96 closed ports",
            " PORT   STATE SERVICE VERSION",
            "+53/tcp open  domain",
        ],
        "{diff}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// nmap as the oracle: its XML of the same scan differs from scry's only in the header.
#[test]
fn ndiff_finds_no_difference_from_nmap() {
    let lab = lab_or_skip!(Lab::builder()
        .target(TargetSpec::new().tcp_listen(OPEN).reject_tcp_port(PROHIBITED, RejectWith::AdminProhibited)));
    let dir = scratch("nmap-oracle");
    let ours = xml_scan(&lab, &dir, "scry.xml");
    let theirs = dir.join("nmap.xml");
    let out = lab
        .scanner()
        .command("nmap")
        .args(["-sS", "-n", "-p", "1-100", "-oX", theirs.to_str().unwrap(), "198.18.0.10"])
        .output()
        .expect("nmap (Debian package nmap)");
    assert!(out.status.success(), "nmap: {}", text(&out.stderr));
    let (status, diff) = ndiff(&theirs, &ours);
    assert_eq!(status, Some(0), "{diff}");
    let lines: Vec<&str> = diff.lines().collect();
    assert!(lines[0].starts_with("-Nmap 7.") && lines[1].starts_with("+Nmap 0.1.0 "), "{diff}");
    assert!(lines[2..].iter().all(|l| l.is_empty()), "{diff}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Port records to read before sending SIGINT.
const ANSWERS_BEFORE_STOP: usize = 50;

#[test]
fn xml_and_grepable_are_live_and_complete_after_sigint() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(OPEN)));
    let target = lab.targets()[0].ipv4();
    let dir = scratch("sigint");
    let (xml, gnmap) = (dir.join("scan.xml"), dir.join("scan.gnmap"));
    // 65535 probes at 2000 per second: half a minute unless stopped.
    let args = ["-p-", "--rate", "2000", "-oX", xml.to_str().unwrap(), "-oG", gnmap.to_str().unwrap()];
    let (mut child, mut stdout) = spawn_piped(lab.scanner(), &[&args[..], &[&target.to_string()]].concat());
    let mut seen = common::read_answers(&mut stdout, ANSWERS_BEFORE_STOP);
    // Written as results arrive: the host is in both files before the scan ends.
    let hint = format!("<hosthint><status state=\"up\" reason=\"arp-response\" reason_ttl=\"0\"/>\n<address addr=\"{target}\" addrtype=\"ipv4\"/>\n");
    assert!(read(&xml).contains(&hint), "{}", read(&xml));
    assert!(read(&gnmap).contains(&format!("\nHost: {target} ()\tStatus: Up\n")), "{}", read(&gnmap));

    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    stdout.read_to_string(&mut seen).unwrap();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let out = Scan::from_output(status, seen.as_bytes(), stderr.as_bytes());
    assert!(out.status.success(), "{}: {}", out.status, out.stderr);
    assert_eq!(out.stats()["interrupted"], true);

    assert_valid_xml(&xml);
    let report = libnmap(&xml);
    let host = &report["hosts"][0];
    assert_eq!(host["open"], serde_json::json!(out.in_state(target, "open").into_iter().collect::<Vec<_>>()));
    let xml_text = read(&xml);
    assert!(xml_text
        .contains(" exit=\"error\" errormsg=\"interrupted; results are those found before the stop\""));
    assert!(xml_text.ends_with("</runstats>\n</nmaprun>\n"), "{xml_text}");

    let grepable = read(&gnmap);
    let lines: Vec<&str> = grepable.lines().collect();
    let n = lines.len();
    assert!(lines[n - 3].starts_with(&format!("Host: {target} ()\tPorts: ")), "{grepable}");
    assert_eq!(lines[n - 2], "# scry was interrupted; results above are those found before the stop.");
    assert!(lines[n - 1].starts_with("# scry done at "), "{grepable}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `-oX -`: the XML alone on standard output, no normal output mixed in.
#[test]
fn xml_to_stdout_replaces_normal_output() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(OPEN)));
    let dir = scratch("xml-stdout");
    let out = lab
        .scanner()
        .command(common::SCRY)
        .args(["-p", "20-30", "-oX", "-", "198.18.0.10"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let xml = dir.join("stdout.xml");
    std::fs::write(&xml, &out.stdout).unwrap();
    assert_valid_xml(&xml);
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE nmaprun>\n"),
        "{stdout}"
    );
    assert!(!stdout.contains("scry scan report"), "{stdout}");
    assert_eq!(libnmap(&xml)["hosts"][0]["open"], serde_json::json!([22]));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `-sS -sU` with `T:`/`U:` lists: TCP 53 (closed) and UDP 53 (open, the
/// lab's echo listener answering the DNS payload) stay two ports in every
/// format, each host is reported once with one table, and nmap's XML of
/// the same scan differs from scry's only in the header (ndiff).
#[test]
fn syn_and_udp_in_one_scan_every_format_and_nmap_agrees() {
    let every_closed_udp_answers = Personality { icmp_ratelimit: Some(0), ..Personality::default() };
    let t0 = TargetSpec::new().personality(every_closed_udp_answers).tcp_listen(&[22, 80]).udp_listen(&[53]);
    let lab = lab_or_skip!(Lab::builder().target(t0));
    let target = lab.targets()[0].ipv4();
    let dir = scratch("syn-udp");
    let base = dir.join("scan");
    let ports = "T:22,53,80,443,U:7,53,161";
    let args = ["-sS", "-sU", "-p", ports, "--retries", "1", "-oA", base.to_str().unwrap(), "198.18.0.10"];
    let out = scan(lab.scanner(), &args);
    let file = |ext: &str| base.with_extension(ext);

    // JSON Lines: each port record names its protocol.
    let mut records: Vec<(u64, String, String, String)> = out
        .records_of("port")
        .map(|r| {
            let field = |name: &str| r[name].as_str().unwrap().to_owned();
            (r["port"].as_u64().unwrap(), field("proto"), field("state"), field("reason"))
        })
        .collect();
    records.sort();
    let record = |port: u64, proto: &str, state: &str, reason: &str| {
        (port, proto.to_owned(), state.to_owned(), reason.to_owned())
    };
    assert_eq!(
        records,
        [
            record(7, "udp", "closed", "port-unreach"),
            record(22, "tcp", "open", "syn-ack"),
            record(53, "tcp", "closed", "reset"),
            record(53, "udp", "open", "udp-response"),
            record(80, "tcp", "open", "syn-ack"),
            record(161, "udp", "closed", "port-unreach"),
            record(443, "tcp", "closed", "reset"),
        ],
        "{}",
        out.stdout
    );
    assert_eq!(out.begin()["ports"], 7);
    assert_eq!(out.records_of("host").count(), 1);

    // Normal: one table, every TCP port before the UDP ones (as nmap).
    let normal = read(&file("nmap"));
    let report = normal.split(&format!("scry scan report for {target}\n")).nth(1).expect("one report");
    let table: Vec<&str> = report
        .lines()
        .skip_while(|l| !l.starts_with("PORT"))
        .take_while(|l| !l.starts_with("OS guess"))
        .collect();
    assert_eq!(
        table,
        [
            "PORT    STATE  SERVICE",
            "22/tcp  open   ssh",
            "53/tcp  closed domain",
            "80/tcp  open   http",
            "443/tcp closed https",
            "7/udp   closed echo",
            "53/udp  open   domain",
            "161/udp closed snmp",
        ],
        "{normal}"
    );
    // The free OS guess still comes from a SYN-ACK.
    assert!(
        report.contains("\nOS guess from one SYN-ACK (22/tcp; ")
            || report.contains("\nOS guess from one SYN-ACK (80/tcp; "),
        "{normal}"
    );
    assert_eq!(normal.matches("scry scan report for").count(), 1, "{normal}");

    // Grepable: one Ports line with both protocols.
    let grepable = read(&file("gnmap"));
    let ports_line = format!(
        "Host: {target} ()\tPorts: 22/open/tcp//ssh///, 53/closed/tcp//domain///, 80/open/tcp//http///, \
         443/closed/tcp//https///, 7/closed/udp//echo///, 53/open/udp//domain///, 161/closed/udp//snmp///"
    );
    assert_eq!(grepable.lines().filter(|l| l.contains("\tPorts: ")).collect::<Vec<_>>(), [ports_line]);

    // XML: valid, a scaninfo per scan type, and read right by python3-libnmap.
    assert_valid_xml(&file("xml"));
    let xml = read(&file("xml"));
    assert!(xml.contains("<scaninfo type=\"syn\" protocol=\"tcp\" numservices=\"4\" services=\"22,53,80,443\"/>\n<scaninfo type=\"udp\" protocol=\"udp\" numservices=\"3\" services=\"7,53,161\"/>\n"), "{xml}");
    let libnmap_report = libnmap(&file("xml"));
    let port = |n: u16, proto: &str, state: &str, reason: &str, service: &str| {
        serde_json::json!([n, proto, state, reason, service])
    };
    assert_eq!(
        libnmap_report["hosts"][0]["ports"],
        serde_json::json!([
            port(22, "tcp", "open", "syn-ack", "ssh"),
            port(53, "tcp", "closed", "reset", "domain"),
            port(80, "tcp", "open", "syn-ack", "http"),
            port(443, "tcp", "closed", "reset", "https"),
            port(7, "udp", "closed", "port-unreach", "echo"),
            port(53, "udp", "open", "udp-response", "domain"),
            port(161, "udp", "closed", "port-unreach", "snmp"),
        ]),
        "{libnmap_report}"
    );

    // nmap -sS -sU of the same ports finds the same: ndiff sees no port change.
    let theirs = dir.join("nmap.xml");
    let nmap = lab
        .scanner()
        .command("nmap")
        .args(["-sS", "-sU", "-n", "-p", ports, "-oX", theirs.to_str().unwrap(), "198.18.0.10"])
        .output()
        .expect("nmap (Debian package nmap)");
    assert!(nmap.status.success(), "nmap: {}", text(&nmap.stderr));
    let (status, diff) = ndiff(&theirs, &file("xml"));
    assert_eq!(status, Some(0), "{diff}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Closed ports of both protocols, more than 25 together: nmap counts the
/// state over both and summarises it per protocol and reason. scry's normal
/// output says it in nmap's words, and ndiff finds no difference in the XML.
#[test]
fn syn_and_udp_counted_states_like_nmap() {
    let every_closed_udp_answers = Personality { icmp_ratelimit: Some(0), ..Personality::default() };
    let t0 = TargetSpec::new().personality(every_closed_udp_answers).tcp_listen(&[22]);
    let lab = lab_or_skip!(Lab::builder().target(t0));
    let dir = scratch("syn-udp-counted");
    let ports = "T:1-22,U:1-20";
    let run = |program: &str, name: &str| {
        let (xml, normal) = (dir.join(format!("{name}.xml")), dir.join(format!("{name}.txt")));
        let out = lab
            .scanner()
            .command(program)
            .args(["-sS", "-sU", "-n", "-p", ports, "-oX", xml.to_str().unwrap()])
            .args(["-oN", normal.to_str().unwrap(), "198.18.0.10"])
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(out.status.success(), "{program}: {}", text(&out.stderr));
        let normal = read(&normal);
        let not_shown = normal.lines().find(|l| l.starts_with("Not shown: ")).map(str::to_owned);
        (xml, not_shown, normal)
    };
    let (ours, our_line, our_text) = run(common::SCRY, "scry");
    let (theirs, their_line, their_text) = run("nmap", "nmap");
    assert_eq!(
        our_line.as_deref(),
        Some("Not shown: 21 closed tcp ports (reset), 20 closed udp ports (port-unreach)"),
        "{our_text}"
    );
    assert_eq!(our_line, their_line, "nmap:\n{their_text}");
    assert_valid_xml(&ours);
    let (status, diff) = ndiff(&theirs, &ours);
    assert_eq!(status, Some(0), "{diff}");
    std::fs::remove_dir_all(&dir).unwrap();
}
