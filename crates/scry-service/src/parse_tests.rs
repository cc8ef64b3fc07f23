//! Reader tests: small inline databases for each directive and error, and
//! the whole of nmap's installed nmap-service-probes.

use std::path::Path;

use super::*;
use crate::{Tunnel, VersionInfo};

const SAMPLE: &str = "\
# comment
Exclude T:9100-9102,U:53

Probe TCP NULL q||
totalwaitms 6000
tcpwrappedms 3000
match ftp m/^220 ([-\\w]+) FTP/ p/$1 ftpd/ cpe:/a:vendor:$1/
softmatch ftp m/^220[ -]/

Probe TCP GetRequest q|GET / HTTP/1.0\\r\\n\\r\\n|
rarity 1
ports 80,8000-8002
sslports 443
match http m|^HTTP/1\\.[01] \\d\\d\\d .*\\r\\nServer: Apache/([\\d.]+)|s p/Apache httpd/ v/$1/
Probe UDP DNSStatusRequest q|\\0\\0\\x10\\0| no-payload
rarity 3
ports 53
match domain m|^\\0\\0\\x90\\x04|
Probe TCP HTTPOptions q|OPTIONS / HTTP/1.0\\r\\n\\r\\n|
rarity 4
fallback GetRequest
";

fn db(text: &str) -> ProbeDb {
    ProbeDb::parse(Path::new("t.probes"), text).unwrap()
}

fn err(text: &str) -> (usize, usize, String) {
    match ProbeDb::parse(Path::new("t.probes"), text).unwrap_err() {
        ProbesError::Syntax { line, column, expected, .. } => (line, column, expected),
        other => panic!("{other}"),
    }
}

#[test]
fn sample_builds_every_directive() {
    let d = db(SAMPLE);
    assert_eq!(d.probes().len(), 4);
    let null = d.probe(d.null_probe().unwrap());
    assert_eq!(
        (null.name(), null.total_wait_ms(), null.tcpwrapped_ms(), null.line()),
        ("NULL", 6000, 3000, 4)
    );
    assert_eq!(null.matches().len(), 2);
    assert!(null.matches()[1].is_soft());
    let get = d.probe(d.find(Protocol::Tcp, "GetRequest").unwrap());
    assert_eq!(get.payload(), b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!((get.rarity(), get.total_wait_ms(), get.tcpwrapped_ms()), (1, 5000, 2000));
    assert_eq!(get.ports(), &[80, 8000, 8001, 8002]);
    assert!(get.port_is_probable(Tunnel::Ssl, 443) && !get.port_is_probable(Tunnel::None, 443));
    let dns = d.probe(d.find(Protocol::Udp, "DNSStatusRequest").unwrap());
    assert_eq!(dns.payload(), b"\0\0\x10\0");
    assert!(dns.no_payload());
    assert_eq!(dns.rarity(), 3);
    assert_eq!(d.probe(d.find(Protocol::Tcp, "HTTPOptions").unwrap()).rarity(), 4);
    assert_eq!((d.hard_match_count(), d.soft_match_count()), (3, 1));
    assert!(d.is_excluded(9101, Protocol::Tcp) && !d.is_excluded(9101, Protocol::Udp));
    assert!(d.is_excluded(53, Protocol::Udp) && !d.is_excluded(53, Protocol::Tcp));
    let order: Vec<&str> = d.ordered().map(|id| d.probe(id).name()).collect();
    assert_eq!(order, ["GetRequest", "DNSStatusRequest", "HTTPOptions"]);
}

#[test]
fn fallbacks_resolve_like_compile_fallbacks() {
    let d = db(SAMPLE);
    let names = |p: &str, proto| -> Vec<String> {
        let probe = d.probe(d.find(proto, p).unwrap());
        probe.fallbacks().iter().map(|&id| d.probe(id).name().to_owned()).collect()
    };
    // TCP: itself, the named fallbacks, then NULL; UDP: itself only; NULL: itself.
    assert_eq!(names("HTTPOptions", Protocol::Tcp), ["HTTPOptions", "GetRequest", "NULL"]);
    assert_eq!(names("GetRequest", Protocol::Tcp), ["GetRequest", "NULL"]);
    assert_eq!(names("DNSStatusRequest", Protocol::Udp), ["DNSStatusRequest"]);
    assert_eq!(names("NULL", Protocol::Tcp), ["NULL"]);
}

#[test]
fn matching_fills_templates() {
    let d = db(SAMPLE);
    let null = d.probe(d.null_probe().unwrap());
    let m = null.first_match(b"220 Pure-FTPd FTP server\r\n").unwrap();
    assert_eq!((m.service, m.soft, m.line), ("ftp", false, 7));
    assert_eq!(m.info.product.as_deref(), Some("Pure-FTPd ftpd"));
    assert_eq!(m.info.cpe_a.as_deref(), Some("cpe:/a:vendor:pure-ftpd"));
    let soft = null.first_match(b"220-welcome\r\n").unwrap();
    assert!(soft.soft);
    assert_eq!(soft.info, VersionInfo::default());
    let get = d.probe(d.find(Protocol::Tcp, "GetRequest").unwrap());
    let http = get.first_match(b"HTTP/1.1 200 OK\r\nDate: x\r\nServer: Apache/2.4.57\r\n").unwrap();
    assert_eq!(http.info.version.as_deref(), Some("2.4.57"));
    assert!(get.first_match(b"SSH-2.0-x").is_none());
}

#[test]
fn errors_name_line_column_and_expectation() {
    let probe = "Probe TCP NULL q||\n";
    assert_eq!(
        err("match x m/a/\n"),
        (1, 1, "expected a line beginning with \"Probe \" or \"Exclude \"".into())
    );
    assert_eq!(err("Probe SCTP x q||\n"), (1, 7, "expected \"TCP \" or \"UDP \" after \"Probe \"".into()));
    assert_eq!(err("Probe TCP -x q||\n").1, 11);
    assert_eq!(err("Probe TCP x q|abc\n"), (1, 14, "expected a closing '|' for the probe string".into()));
    assert_eq!(err("Probe TCP x q|a\\qb|\n").1, 16);
    assert_eq!(err(&format!("{probe}rarity 0\n")), (2, 8, "expected a rarity between 1 and 9".into()));
    assert_eq!(err(&format!("{probe}totalwaitms 99\n")).1, 13);
    assert_eq!(err(&format!("{probe}tcpwrappedms 300001\n")).1, 14);
    assert_eq!(
        err(&format!("{probe}ports 80,x\n")),
        (2, 10, "expected a port list such as \"21-25,53,80\"".into())
    );
    assert_eq!(err(&format!("{probe}\n# c\nbogus 1\n")).0, 4);
    assert_eq!(err(&format!("{probe}Exclude 80\n")).2, "expected the Exclude directive before every Probe");
    assert_eq!(err("Exclude 80\nExclude 81\n").2, "expected only one Exclude directive");
    assert_eq!(
        err(&format!("{probe}Probe TCP Y q||\n")).2,
        "expected only one probe with an empty string (the NULL probe)"
    );
    assert_eq!(
        err(&format!("{probe}Probe TCP X q|x|\nfallback NULL,Nope\n")),
        (3, 15, "expected the name of a probe defined in the file".into())
    );
}

/// Above [`PARALLEL_FROM`] match lines the regexes compile on every core
/// first: the database is the same, and of two bad lines the first in the
/// file is reported, wherever the other one's chunk was compiled.
#[test]
fn regexes_compiled_in_parallel_give_the_same_database_and_the_first_error() {
    let lines: Vec<String> =
        (0..PARALLEL_FROM * 2).map(|i| format!("match s{i} m/^a{i}(b)/i p/$1/")).collect();
    let text = format!("Probe TCP NULL q||\n{}\n", lines.join("\n"));
    let db = ProbeDb::parse(Path::new("big"), &text).unwrap();
    let matches = &db.probes()[0].matches;
    assert_eq!(matches.len(), PARALLEL_FROM * 2);
    assert_eq!((matches[700].line, matches[700].service.as_str()), (702, "s700"));
    assert!(matches[700].pattern.is_match(b"A700B"));
    assert!(!matches[700].pattern.is_match(b"a701b"));
    let mut bad = lines.clone();
    bad[900] = "match s900 m/^(x/".into();
    bad[100] = "match s100 m/^(y/".into();
    let text = format!("Probe TCP NULL q||\n{}\n", bad.join("\n"));
    let e = err(&text);
    assert_eq!((e.0, e.1), (102, 17));
    assert!(e.2.starts_with("expected a valid PCRE2 regex (missing closing parenthesis"), "{}", e.2);
}

#[test]
fn match_line_errors() {
    let probe = "Probe TCP NULL q||\n";
    let e = |m: &str| err(&format!("{probe}{m}\n"));
    assert_eq!(e("match http"), (2, 7, "expected a service name followed by m/regex/".into()));
    assert_eq!(e("match http x/a/"), (2, 12, "expected the regex as m/.../".into()));
    assert_eq!(e("match http m/a/x"), (2, 16, "expected regex flags i or s".into()));
    assert_eq!(e("match http m/a/ixsq").2, "expected whitespace after the template (at most 3 flag letters)");
    assert_eq!(e("match http m/^a(b/").1, 18);
    assert!(e("match http m/^a(b/")
        .2
        .starts_with("expected a valid PCRE2 regex (missing closing parenthesis"));
    assert_eq!(e("match http m/a*/"), (2, 14, "expected a regex that cannot match an empty string".into()));
    assert_eq!(e("match http m/a/ p/x"), (2, 18, "expected a closing '/'".into()));
    assert_eq!(e("match http m/a/ q/x/"), (2, 17, "expected a template p/ v/ i/ h/ o/ d/ or cpe:/".into()));
    assert_eq!(e("match http m/a/ p/x$Q(1)/"), (2, 20, "expected $1-$9, $P(), $SUBST() or $I()".into()));
    assert_eq!(
        e("match http m/a/ cpe:"),
        (2, 17, "expected a template such as p/product/ (found a bare word)".into())
    );
    assert_eq!(e("match http m/a/ word").2, "expected a closing 'd'");
}

#[test]
fn columns_count_characters_not_bytes() {
    // "é" is two bytes; the fourth flag letter is still the 21st character.
    assert_eq!(err("Probe TCP NULL q||\nmatch x m/é/ p/é/zzzz\n").1, 21);
}

#[test]
fn crlf_lines_and_repeated_templates() {
    let d = db("Probe TCP NULL q||\r\n\r\nmatch x m/^a(b)/ p/one/ p/two $1/\r\n");
    let m = d.probe(d.null_probe().unwrap()).first_match(b"ab").unwrap();
    assert_eq!(m.info.product.as_deref(), Some("two b"));
}

#[test]
fn overlong_line_is_an_error() {
    let line = format!("Probe TCP NULL q||\n# {}\n", "x".repeat(8190));
    assert_eq!(err(&line), (2, 8191, "expected a line of at most 8190 bytes".into()));
}

/// Loads nmap's installed file and checks that every probe and every
/// match line compiled, with counts taken from the file itself.
#[test]
fn nmaps_installed_service_probes_load_completely() {
    let Some(path) = crate::testutil::installed_probes() else { return };
    let text = std::fs::read(path).unwrap();
    let count = |prefix: &[u8]| text.split(|&c| c == b'\n').filter(|l| l.starts_with(prefix)).count();
    let d = ProbeDb::load(path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d.probes().len(), count(b"Probe "));
    assert_eq!(d.hard_match_count(), count(b"match "));
    assert_eq!(d.soft_match_count(), count(b"softmatch "));
    assert_eq!(d.probes().iter().filter(|p| p.protocol() == Protocol::Udp).count(), count(b"Probe UDP "));
    let null = d.probe(d.null_probe().expect("a NULL probe"));
    assert_eq!((null.name(), null.protocol()), ("NULL", Protocol::Tcp));
    assert_eq!(d.probes().iter().map(|p| p.ssl_ports().len().min(1)).sum::<usize>(), count(b"sslports "));
    assert!(d.excluded().is_some() == (count(b"Exclude ") == 1));
    // Every probe with a `fallback` line has a longer chain than the default.
    let with_fallback = d.probes().iter().filter(|p| {
        let default = if p.is_null() {
            1
        } else if p.protocol() == Protocol::Tcp {
            2
        } else {
            1
        };
        p.fallbacks().len() > default
    });
    assert_eq!(with_fallback.count(), count(b"fallback "));
}

#[test]
fn cpe_templates_take_any_delimiter_as_in_nmap_7_93() {
    let d =
        db("Probe TCP NULL q||\nmatch x m/^(a)/ cpe:|h:siemens:315-2pn/dp| cpe:/o:x:$1/a cpe:/z:ignored/\n");
    let m = d.probe(d.null_probe().unwrap()).first_match(b"a").unwrap();
    assert_eq!(m.info.cpe_h.as_deref(), Some("cpe:/h:siemens:315-2pn/dp"));
    assert_eq!(m.info.cpe_o.as_deref(), Some("cpe:/o:x:a"));
    assert_eq!(m.info.cpe_a, None);
}

mod never_panics {
    use proptest::prelude::*;

    use super::*;

    /// Lines that reach deep into the grammar: a directive, then bytes from
    /// the characters the grammar cares about.
    fn line() -> impl Strategy<Value = Vec<u8>> {
        let heads = prop::sample::select(vec![
            &b"Probe TCP "[..],
            b"Probe UDP ",
            b"match x m",
            b"softmatch y m",
            b"ports ",
            b"sslports ",
            b"rarity ",
            b"fallback ",
            b"totalwaitms ",
            b"tcpwrappedms ",
            b"Exclude ",
            b"# ",
            b"",
        ]);
        let tail = prop::collection::vec(
            prop::sample::select(b"|/$()\",\\-:0129aqxPSIUBTcpe<> \r\xff".to_vec()),
            0..40,
        );
        (heads, tail).prop_map(|(h, t)| [h, &t[..]].concat())
    }

    proptest! {
        #[test]
        fn parse_never_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let _ = ProbeDb::parse_bytes(Path::new("p"), &bytes);
        }

        #[test]
        fn parse_never_panics_on_grammar_like_lines(lines in prop::collection::vec(line(), 0..12)) {
            let text = lines.join(&b'\n');
            if let Err(e) = ProbeDb::parse_bytes(Path::new("p"), &text) {
                // Every syntax error points inside the file.
                if let Some((line, column)) = e.position() {
                    prop_assert!(line >= 1 && line <= lines.len().max(1));
                    prop_assert!(column >= 1);
                }
            }
        }
    }
}
