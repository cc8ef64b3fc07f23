//! The import readers never panic: on any text, and on well-formed files
//! cut, or with structural characters dropped in, anywhere.

use proptest::prelude::*;
use scry_store::import::{json, nmap_xml};

const NMAP: &str = r#"<?xml version="1.0"?>
<nmaprun scanner="nmap" args="nmap -p22 198.18.0.1" start="1800000000" version="7.93">
<scaninfo type="syn" protocol="tcp" numservices="1" services="22"/>
<host starttime="1800000001" endtime="1800000002"><status state="up" reason="arp-response" reason_ttl="0"/>
<address addr="198.18.0.1" addrtype="ipv4"/><address addr="02:00:C6:12:00:01" addrtype="mac"/>
<ports><port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="ssh" product="OpenSSH"><cpe>cpe:/a:openbsd:openssh</cpe></service><script id="banner" output="SSH-2.0"/></port></ports>
<os><osmatch name="Linux 5.0 - 5.14" accuracy="100"/><osfingerprint fingerprint="OS:SCAN(V=7.93)"/></os><distance value="1"/>
</host>
<runstats><finished time="1800000003" exit="success"/><hosts up="1" down="0" total="1"/></runstats>
</nmaprun>
"#;

const MASSCAN: &str = r#"[
{   "ip": "198.18.0.10",   "timestamp": "1800000003", "ports": [ {"port": 80, "proto": "tcp", "status": "open", "reason": "syn-ack", "ttl": 64} ] }
,
{   "ip": "198.18.0.10",   "timestamp": "1800000005", "ports": [ {"port": 80, "proto": "tcp", "service": {"name": "http", "banner": "HTTP/1.0 200"} } ] }
]
"#;

const SCRY: &str = r#"{"type":"begin","scanner":"scry","version":"0.1.0","args":"scry 198.18.0.10","start":1800000000.25,"hosts":1,"ports":1}
{"type":"host","ip":"198.18.0.10","state":"up","reason":"arp-response","ttl":null}
{"type":"port","ip":"198.18.0.10","port":22,"proto":"tcp","state":"open","reason":"syn-ack","ttl":64,"service":"ssh"}
{"type":"os","ip":"198.18.0.10","matches":[{"name":"Linux","accuracy":100}],"fingerprint":"OS:SCAN(V=0.1.0)","distance":1}
{"type":"stats","sent":1,"received":1,"duration":1.5,"hosts_scanned":1,"hosts_up":1,"interrupted":false}
"#;

fn read_all(text: &str) {
    let _ = nmap_xml::read("f", text);
    let _ = json::read_masscan("f", text);
    let _ = json::read_scry("f", text);
}

/// `seed` with `insert` put at the char boundary nearest `at`, and cut at `cut`.
fn mutate(seed: &str, at: usize, insert: &str, cut: usize) -> String {
    let boundary = |mut i: usize| {
        i %= seed.len() + 1;
        while !seed.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let (at, cut) = (boundary(at), boundary(cut));
    let mut text = format!("{}{insert}{}", &seed[..at], &seed[at..]);
    text.truncate(if cut >= at { cut + insert.len() } else { cut });
    text
}

proptest! {
    #[test]
    fn any_text_is_read_or_refused(text in ".{0,400}") {
        read_all(&text);
    }

    #[test]
    fn damaged_files_are_read_or_refused(
        seed in 0usize..3,
        at in any::<usize>(),
        insert in r#"[<>/"=\[\]{},: 0-9a-z\-.]{0,6}"#,
        cut in any::<usize>(),
        whole in any::<bool>(),
    ) {
        let seed = [NMAP, MASSCAN, SCRY][seed];
        let text = mutate(seed, at, &insert, if whole { usize::MAX } else { cut });
        read_all(&text);
    }

    #[test]
    fn huge_numbers_are_no_panic(n in any::<u64>(), f in any::<f64>()) {
        read_all(&NMAP.replace("1800000000", &n.to_string()).replace("1800000003", &n.to_string()));
        read_all(&MASSCAN.replace("1800000003", &n.to_string()));
        let f = if f.is_finite() { f } else { 1e300 };
        read_all(&SCRY.replace("1800000000.25", &format!("{f:e}")).replace("1.5", &format!("{f:e}")));
    }
}

#[test]
fn the_seeds_themselves_read() {
    assert_eq!(nmap_xml::read("f", NMAP).unwrap().observations.len(), 3);
    assert_eq!(json::read_masscan("f", MASSCAN).unwrap().observations.len(), 2);
    assert_eq!(json::read_scry("f", SCRY).unwrap().observations.len(), 3);
}

/// Regression: a </host> with no open <host> (a nested one closed it) panicked.
#[test]
fn a_stray_host_end_is_no_panic() {
    let text =
        "<nmaprun><host><host><address addr=\"198.18.0.1\" addrtype=\"ipv4\"/></host></host></nmaprun>";
    let scan = nmap_xml::read("f", text).unwrap();
    assert_eq!(scan.observations.len(), 1);
}
