//! One test per rule of nmap's service scan; see `machine_tests.rs` for the
//! scripted peer and the small database (`DB`, line numbers cited below).

use super::*;

const SSH: &[u8] = b"SSH-2.0-OpenSSH_9.2p1\r\n";

/// nmap: the NULL probe runs first on TCP and a banner hard-matches on the
/// first read; the service ends at once (no probe text is ever sent).
#[test]
fn null_probe_first_and_banner_hard_match_ends_the_service() {
    let d = db();
    let (trace, r) = tcp(&d, CFG, 22, &|_| data(10, SSH), &no_reply());
    assert_eq!(trace, ["0 connect", "10 close"]);
    assert_eq!((r.outcome, r.name.as_deref(), r.match_line), (Outcome::HardMatched, Some("ssh"), Some(4)));
    assert_eq!(r.info.product.as_deref(), Some("OpenSSH"));
    assert_eq!(r.info.version.as_deref(), Some("9.2p1"));
    assert_eq!(r.info.info.as_deref(), Some("protocol 2.0"));
    assert_eq!((r.method, r.confidence, r.soft_matched, r.tunnel), (Method::Probed, 10, false, Tunnel::None));
    assert!(r.fingerprint.is_empty() && r.port_open);
}

/// nmap `startNextProbe(.., false)` after the NULL probe: the next probe
/// is sent on the same connection and its reply is appended to NULL's.
#[test]
fn null_probe_connection_is_reused_and_replies_concatenated() {
    let d = db();
    let peer = Peer {
        on_connect: &|_| data(5, b"220 hello\r\n"),
        on_probe: &|p, _| if p == b"\r\n\r\n" { data(5, b"500 bad\r\n") } else { Reply::Silent },
    };
    let (trace, r) = run(&d, CFG, 21, Protocol::Tcp, peer);
    assert_eq!(trace, ["0 connect", "6000 send GenericLines", "6005 close"]);
    assert_eq!(connects(&trace), 1);
    assert_eq!(
        (r.outcome, r.info.product.as_deref(), r.match_line),
        (Outcome::HardMatched, Some("GenericFTP"), Some(9))
    );
}

/// nmap `nextProbe` PROBESTATE_MATCHINGPROBES: probes whose `ports` list the
/// port run first whatever their rarity (HTTPOptions has rarity 4 > 0);
/// each probe waits its own `totalwaitms` (NULL 6000 ms, others 5000 ms).
#[test]
fn port_listed_probes_run_regardless_of_rarity_each_with_its_totalwaitms() {
    let d = db();
    let cfg = ScanConfig { intensity: 0, ..CFG };
    let (trace, r) = tcp(&d, cfg, 80, &silent(), &no_reply());
    assert_eq!(
        trace,
        [
            "0 connect",
            "6000 send GetRequest",
            "11000 close",
            "11000 connect",
            "11000 send HTTPOptions",
            "16000 close"
        ]
    );
    assert_eq!((r.outcome, r.name, r.method, r.confidence), (Outcome::NoMatch, None, Method::Table, 3));
}

/// nmap PROBESTATE_NONMATCHINGPROBES: other probes of the protocol run in
/// file order when their rarity is at most `--version-intensity`.
#[test]
fn intensity_bounds_the_rarity_of_other_probes() {
    let d = db();
    let walk = |intensity| {
        let cfg = ScanConfig { intensity, ..CFG };
        let (trace, _) = tcp(&d, cfg, 9999, &silent(), &no_reply());
        sends(&trace).into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(walk(DEFAULT_INTENSITY), ["GenericLines", "GetRequest", "HTTPOptions", "SSLSessionReq"]);
    assert_eq!(walk(LIGHT_INTENSITY), ["GenericLines", "GetRequest", "SSLSessionReq"]);
    assert_eq!(
        walk(ALL_INTENSITY),
        ["GenericLines", "GetRequest", "HTTPOptions", "SSLSessionReq", "FTPOnly", "Rare"]
    );
    assert!(walk(0).is_empty());
}

/// nmap `nextProbe` after a softmatch: only probes with a line for that
/// service run, rarity ignored (FTPOnly has rarity 8); the response of each
/// unmatched probe goes to the fingerprint; `--version-all` keeps every probe.
#[test]
fn softmatch_prunes_probes_to_the_soft_service() {
    let d = db();
    let peer = Peer { on_connect: &|_| data(5, b"220 hi\r\n"), on_probe: &no_reply() };
    let (trace, r) = run(&d, CFG, 9999, Protocol::Tcp, peer);
    assert_eq!(sends(&trace), ["GenericLines", "FTPOnly"]);
    assert_eq!((r.outcome, r.name.as_deref(), r.soft_matched), (Outcome::SoftMatched, Some("ftp"), true));
    assert_eq!((r.method, r.confidence, r.match_line), (Method::Probed, 10, Some(5)));
    let fp: Vec<(&str, usize)> = r.fingerprint.iter().map(|f| (f.probe.as_str(), f.len)).collect();
    assert_eq!(fp, [("NULL", 8), ("GenericLines", 8), ("FTPOnly", 8)]);
    let all = ScanConfig { intensity: ALL_INTENSITY, ..CFG };
    let peer = Peer { on_connect: &|_| data(5, b"220 hi\r\n"), on_probe: &no_reply() };
    let (trace, _) = run(&d, all, 9999, Protocol::Tcp, peer);
    assert_eq!(
        sends(&trace),
        ["GenericLines", "GetRequest", "HTTPOptions", "SSLSessionReq", "FTPOnly", "Rare"]
    );
}

/// nmap PROBESTATE_MATCHINGPROBES after a softmatch: even probes listing
/// the port are skipped when they cannot name the soft service.
#[test]
fn softmatch_prunes_port_listed_probes_too() {
    let d = db();
    let peer = Peer { on_connect: &|_| data(5, b"220 hi\r\n"), on_probe: &no_reply() };
    let (trace, _) = run(&d, CFG, 80, Protocol::Tcp, peer);
    assert_eq!(sends(&trace), ["GenericLines", "FTPOnly"]);
}

/// nmap `processMatch`: a second softmatch is ignored; the first soft
/// service stands (here under `--version-all`, which keeps every probe).
#[test]
fn a_later_softmatch_does_not_replace_the_first() {
    let d = db();
    let first = std::cell::Cell::new(true);
    let banner = |_| if first.replace(false) { data(5, b"220 hi\r\n") } else { Reply::Silent };
    let options = |p: &[u8], _| {
        if p.starts_with(b"OPTIONS") {
            data(5, b"HTTP/1.0 200 OK\r\n\r\n")
        } else {
            Reply::Silent
        }
    };
    let all = ScanConfig { intensity: ALL_INTENSITY, ..CFG };
    let (trace, r) = tcp(&d, all, 80, &banner, &options);
    assert!(sends(&trace).contains(&"HTTPOptions"));
    assert_eq!((r.outcome, r.name.as_deref(), r.match_line), (Outcome::SoftMatched, Some("ftp"), Some(5)));
}

/// nmap `processMatch` copies only the fields a match fills: a hard match
/// without `p/` or `i/` keeps what the earlier softmatch filled.
#[test]
fn hard_match_keeps_softmatch_fields_it_lacks() {
    let text = "Probe TCP NULL q||\nsoftmatch ftp m/^220 / p/Soft FTP/ i/soft info/\n\
                Probe TCP GenericLines q|\\r\\n\\r\\n|\nrarity 1\nmatch ftp m/^220 .*\\r\\n500 / v/1.0/\n";
    let d = ProbeDb::parse(Path::new("keep.probes"), text).unwrap();
    let (trace, r) = tcp(&d, CFG, 21, &|_| data(5, b"220 x\r\n"), &|_, _| data(5, b"500 y\r\n"));
    assert_eq!(sends(&trace), ["GenericLines"]);
    assert_eq!((r.outcome, r.soft_matched), (Outcome::HardMatched, false));
    assert_eq!(r.info.product.as_deref(), Some("Soft FTP"));
    assert_eq!(r.info.version.as_deref(), Some("1.0"));
    assert_eq!(r.info.info.as_deref(), Some("soft info"));
}

/// nmap `shouldWePrintFingerprint`: below intensity 7 a softmatched
/// service keeps no fingerprint; with no match it is always kept.
#[test]
fn fingerprints_are_kept_as_nmap_prints_them() {
    let d = db();
    let light = ScanConfig { intensity: LIGHT_INTENSITY, ..CFG };
    let peer = Peer { on_connect: &|_| data(5, b"220 hi\r\n"), on_probe: &no_reply() };
    let (_, r) = run(&d, light, 9999, Protocol::Tcp, peer);
    assert_eq!(r.outcome, Outcome::SoftMatched);
    assert!(r.fingerprint.is_empty());
    let zero = ScanConfig { intensity: 0, ..CFG };
    let peer = Peer { on_connect: &|_| data(5, b"hello\r\n"), on_probe: &no_reply() };
    let (trace, r) = run(&d, zero, 9999, Protocol::Tcp, peer);
    assert_eq!(trace, ["0 connect", "6000 close"]);
    assert_eq!(r.outcome, Outcome::NoMatch);
    assert_eq!(r.fingerprint, [Response { probe: "NULL".into(), len: 7, bytes: b"hello\r\n".to_vec() }]);
}

/// nmap `servicescan_read_handler`: every reply is tried against the
/// probe's fallback chain — its `fallback` probes (HTTPOptions → GetRequest)
/// and, on TCP, the NULL probe's lines.
#[test]
fn fallbacks_and_null_matches_are_tried_on_every_reply() {
    let d = db();
    let nginx = b"HTTP/1.1 200 OK\r\nServer: nginx/1.25.3\r\n\r\n";
    let peer = Peer {
        on_connect: &silent(),
        on_probe: &|p, _| if p.starts_with(b"OPTIONS") { data(5, nginx) } else { data(5, b"XYZ\r\n") },
    };
    let (trace, r) = run(&d, CFG, 80, Protocol::Tcp, peer);
    assert_eq!(sends(&trace), ["GetRequest", "HTTPOptions"]);
    assert_eq!(
        (r.name.as_deref(), r.info.version.as_deref(), r.match_line),
        (Some("http"), Some("1.25.3"), Some(14))
    );
    let (_, r) = tcp(&d, CFG, 21, &silent(), &|_, _| data(5, SSH));
    assert_eq!((r.name.as_deref(), r.match_line), (Some("ssh"), Some(4)));
}

/// nmap matches after every read, so a banner split over two reads
/// matches on the second read, long before `totalwaitms`.
#[test]
fn a_match_is_attempted_after_every_read() {
    let d = db();
    let chunks = Reply::Data(vec![(5, b"SSH-2.0-Open".to_vec()), (100, b"SSH_9.2\r\n".to_vec())]);
    let (trace, r) = tcp(&d, CFG, 22, &|_| chunks.clone(), &no_reply());
    assert_eq!(trace, ["0 connect", "105 close"]);
    assert_eq!(r.info.version.as_deref(), Some("9.2"));
}

/// nmap stops reading a probe once 4096 bytes are held without a match and
/// moves on at once; the fingerprint keeps the full length and 900 bytes.
#[test]
fn reading_stops_at_4096_bytes() {
    let d = db();
    let cfg = ScanConfig { intensity: 1, ..CFG };
    let big = vec![b'x'; RESPONSE_CAP];
    let (trace, r) = tcp(&d, cfg, 9999, &|_| data(5, &big), &no_reply());
    assert_eq!(trace[..2], ["0 connect", "5 send GenericLines"]);
    assert_eq!((r.fingerprint[0].probe.as_str(), r.fingerprint[0].len), ("NULL", 4096));
    assert_eq!(r.fingerprint[0].bytes.len(), 900);
    let under = vec![b'x'; RESPONSE_CAP - 1];
    let (trace, _) = tcp(&d, cfg, 9999, &|_| data(5, &under), &no_reply());
    assert_eq!(trace[..2], ["0 connect", "6000 send GenericLines"]);
}

/// nmap: EOF during the NULL probe with no data, sooner than
/// `tcpwrappedms` (3000 here) after connecting, is tcpwrapped (confidence 8).
#[test]
fn close_without_data_within_tcpwrappedms_is_tcpwrapped() {
    let d = db();
    let (trace, r) = tcp(&d, CFG, 9999, &|_| Reply::Close(100), &no_reply());
    assert_eq!(trace, ["0 connect", "100 close"]);
    assert_eq!((r.outcome, r.name.as_deref()), (Outcome::TcpWrapped, Some("tcpwrapped")));
    assert_eq!((r.method, r.confidence), (Method::Probed, 8));
}

/// nmap: ECONNRESET during the NULL probe within `tcpwrappedms` is tcpwrapped too.
#[test]
fn reset_within_tcpwrappedms_is_tcpwrapped() {
    let d = db();
    let (_, r) = tcp(&d, CFG, 9999, &|_| Reply::Reset(2999), &no_reply());
    assert_eq!(r.outcome, Outcome::TcpWrapped);
}

/// nmap: a close after `tcpwrappedms` is not tcpwrapped; the next probe
/// gets a new connection.
#[test]
fn close_after_tcpwrappedms_moves_to_the_next_probe() {
    let d = db();
    let (trace, r) = tcp(&d, CFG, 21, &|_| Reply::Close(3500), &|_, _| data(10, b"220 x\r\n500 y\r\n"));
    assert_eq!(trace, ["0 connect", "3500 close", "3500 connect", "3500 send GenericLines", "3510 close"]);
    assert_eq!(r.info.product.as_deref(), Some("GenericFTP"));
}

/// nmap `end_svcprobe`: a service that never sent a byte nor let a probe
/// time out ends as tcpwrapped, even when each close came late.
#[test]
fn a_service_never_shown_alive_ends_tcpwrapped() {
    let d = db();
    let light = ScanConfig { intensity: LIGHT_INTENSITY, ..CFG };
    let (trace, r) = tcp(&d, light, 9999, &|_| Reply::Close(3500), &no_reply());
    assert_eq!(sends(&trace), ["GenericLines", "GetRequest", "SSLSessionReq"]);
    assert_eq!(r.outcome, Outcome::TcpWrapped);
}

/// nmap checks tcpwrapped only during the NULL probe: a quick close on a
/// later probe's connection just moves on to the next probe.
#[test]
fn quick_close_after_the_null_probe_is_not_tcpwrapped_yet() {
    let d = db();
    let first = std::cell::Cell::new(true);
    let close = |_| Reply::Close(if first.replace(false) { 3500 } else { 100 });
    let light = ScanConfig { intensity: LIGHT_INTENSITY, ..CFG };
    let (trace, r) = tcp(&d, light, 9999, &close, &no_reply());
    assert_eq!(sends(&trace), ["GenericLines", "GetRequest", "SSLSessionReq"]);
    assert_eq!(trace[2..5], ["3500 connect", "3500 send GenericLines", "3600 close"]);
    assert_eq!(r.outcome, Outcome::TcpWrapped);
}

/// nmap `scanThroughTunnel`: a hard match on `ssl` restarts every probe
/// through TLS (NULL first, then `sslports` probes); the result carries the
/// SSL tunnel and the service found behind it.
#[test]
fn ssl_match_restarts_the_probes_over_tls() {
    let d = db();
    let nginx = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n\r\n";
    let peer = Peer {
        on_connect: &silent(),
        on_probe: &|p, tls| match (tls, p.starts_with(b"GET")) {
            (false, false) if p.starts_with(b"\x16\x03") => data(5, b"\x16\x03\x01\x00\x02"),
            (true, true) => data(5, nginx),
            _ => Reply::Silent,
        },
    };
    let (trace, r) = run(&d, CFG, 443, Protocol::Tcp, peer);
    assert_eq!(
        trace,
        [
            "0 connect",
            "6000 send GetRequest",
            "11000 close",
            "11000 connect",
            "11000 send SSLSessionReq",
            "11005 close",
            "11005 connect",
            "11005 tls",
            "17005 send GetRequest",
            "17010 close",
        ]
    );
    assert_eq!(
        (r.name.as_deref(), r.tunnel, r.info.version.as_deref()),
        (Some("http"), Tunnel::Ssl, Some("1.22.1"))
    );
}

/// nmap `resetProbes(true)`: the restart through TLS drops the plain
/// responses, so an unmatched service's fingerprint holds TLS replies only.
#[test]
fn ssl_restart_drops_the_plain_fingerprint() {
    let d = db();
    let peer = Peer {
        on_connect: &|tls| if tls { Reply::Silent } else { data(5, b"junk\r\n") },
        on_probe: &|p, tls| match (tls, p) {
            (false, b"\x16\x03\x00") => data(1, b"\x16\x03\x01"),
            (true, p) if p.starts_with(b"GET") => data(5, b"garbage\r\n"),
            _ => Reply::Silent,
        },
    };
    let (trace, r) = run(&d, CFG, 443, Protocol::Tcp, peer);
    assert!(trace.iter().any(|l| l.ends_with(" tls")));
    assert_eq!((r.outcome, r.name.as_deref(), r.tunnel), (Outcome::NoMatch, None, Tunnel::Ssl));
    let fp: Vec<(&str, usize)> = r.fingerprint.iter().map(|f| (f.probe.as_str(), f.len)).collect();
    assert_eq!(fp, [("GetRequest", 9)]);
}

/// nmap `scanThroughTunnel`: a match on `ssl/NAME` ends with NAME and the
/// SSL tunnel, without reconnecting.
#[test]
fn ssl_slash_name_sets_the_tunnel_without_restarting() {
    let d = db();
    let reply = b"HTTP/1.1 400 Bad Request\r\n\r\nThe plain HTTP request was sent to HTTPS port";
    let (trace, r) = tcp(&d, CFG, 80, &silent(), &|_, _| data(5, reply));
    assert!(!trace.iter().any(|l| l.ends_with(" tls")));
    assert_eq!((r.name.as_deref(), r.tunnel, r.match_line), (Some("https-alt"), Tunnel::Ssl, Some(15)));
}

/// nmap without OpenSSL: an `ssl` match is the answer.
#[test]
fn without_tls_an_ssl_match_ends_as_ssl() {
    let d = db();
    let no_tls = ScanConfig { tls: false, ..CFG };
    let peer = Peer {
        on_connect: &silent(),
        on_probe: &|p, _| if p.starts_with(b"\x16") { data(5, b"\x16\x03\x03") } else { Reply::Silent },
    };
    let (_, r) = run(&d, no_tls, 443, Protocol::Tcp, peer);
    assert_eq!((r.name.as_deref(), r.tunnel), (Some("ssl"), Tunnel::None));
}

/// nmap: UDP services get UDP probes only (no NULL probe); an answer shows
/// an open|filtered port open.
#[test]
fn udp_answer_matches_and_shows_the_port_open() {
    let d = db();
    let (trace, r) = run(
        &d,
        CFG,
        53,
        Protocol::Udp,
        Peer { on_connect: &silent(), on_probe: &|_, _| data(20, b"\0\0\x90\x04") },
    );
    assert_eq!(trace, ["0 connect", "0 send DNSStatusRequest", "20 close"]);
    assert_eq!(
        (r.name.as_deref(), r.info.product.as_deref(), r.port_open),
        (Some("domain"), Some("dnsd"), true)
    );
}

/// nmap: a silent open|filtered UDP port gets every UDP probe within the
/// intensity, each on a new socket, and stays unconfirmed.
#[test]
fn silent_udp_port_gets_udp_probes_only() {
    let d = db();
    let (trace, r) = run(&d, CFG, 53, Protocol::Udp, Peer { on_connect: &silent(), on_probe: &no_reply() });
    assert_eq!(sends(&trace), ["DNSStatusRequest", "Help"]);
    assert_eq!(connects(&trace), 2);
    assert_eq!((r.outcome, r.port_open), (Outcome::NoMatch, false));
}

/// nmap `end_svcprobe` quirk: a UDP port with no probe to send (intensity 0,
/// port on no `ports` line) ends with tcpwrap still "possible", so nmap
/// reports it as tcpwrapped (nmap 7.93 printed `47124/udp open|filtered
/// tcpwrapped` for a silent local UDP socket at `--version-intensity 0`).
#[test]
fn udp_port_without_probes_is_reported_tcpwrapped_like_nmap() {
    let d = db();
    let t = Instant::now();
    let mut scan = ServiceScan::new(&d, ScanConfig { intensity: 0, ..CFG }, 9999, Protocol::Udp, t);
    let actions = scan.start(t);
    let [Action::Done(r)] = actions.as_slice() else { panic!("{actions:?}") };
    assert_eq!((r.outcome, r.name.as_deref()), (Outcome::TcpWrapped, Some("tcpwrapped")));
    assert!(scan.is_finished());
}

/// nmap's connect handler: a failed or timed-out connect ends the service
/// as incomplete (5 s, 8 s through SSL), which `end_svcprobe` turns into
/// tcpwrapped while nothing proved the service alive.
#[test]
fn connect_failures_and_timeouts() {
    let d = db();
    let t = Instant::now();
    let mut scan = ServiceScan::new(&d, CFG, 22, Protocol::Tcp, t);
    assert_eq!(scan.start(t), [Action::Connect, Action::WaitUntil(t + CONNECT_TIMEOUT)]);
    assert_eq!(
        scan.handle(t + Duration::from_millis(4999), Event::Timer),
        [Action::WaitUntil(t + CONNECT_TIMEOUT)]
    );
    let out = scan.handle(t + CONNECT_TIMEOUT, Event::Timer);
    let [Action::Close, Action::Done(r)] = out.as_slice() else { panic!("{out:?}") };
    assert_eq!(r.outcome, Outcome::TcpWrapped);
    let mut scan = ServiceScan::new(&d, CFG, 22, Protocol::Tcp, t);
    scan.start(t);
    let out = scan.handle(t, Event::ConnectFailed);
    let [Action::Close, Action::Done(r)] = out.as_slice() else { panic!("{out:?}") };
    assert_eq!(r.outcome, Outcome::TcpWrapped);
    // Once the service answered, a failure is reported as incomplete.
    let mut scan = ServiceScan::new(&d, CFG, 9999, Protocol::Tcp, t);
    scan.start(t);
    scan.handle(t, Event::Connected);
    scan.handle(t, Event::Data(b"220 hi\r\n"));
    let out = scan.handle(t + Duration::from_millis(10), Event::Unreachable);
    let [Action::Close, Action::Done(r)] = out.as_slice() else { panic!("{out:?}") };
    assert_eq!((r.outcome, r.name.as_deref(), r.method), (Outcome::Incomplete, Some("ftp"), Method::Table));
}

/// nmap: EPIPE/EIO-style errors blame the probe: next probe, new connection.
#[test]
fn probe_errors_move_to_the_next_probe() {
    let d = db();
    let t = Instant::now();
    let mut scan = ServiceScan::new(&d, CFG, 21, Protocol::Tcp, t);
    scan.start(t);
    scan.handle(t, Event::Connected);
    let out = scan.handle(t + Duration::from_millis(50), Event::ProbeError);
    assert_eq!(out[..2], [Action::Close, Action::Connect]);
    let out = scan.handle(t + Duration::from_millis(60), Event::Connected);
    assert_eq!(out[0], Action::Send(b"\r\n\r\n".to_vec()));
}

/// nmap `remove_excluded_ports`: ports on the `Exclude` line are not probed
/// and carry "Excluded from version scan".
#[test]
fn excluded_ports_follow_the_exclude_line() {
    let d = ProbeDb::parse(Path::new("x"), "Exclude T:9100-9107\nProbe TCP NULL q||\n").unwrap();
    assert!(d.is_excluded(9100, Protocol::Tcp) && !d.is_excluded(9100, Protocol::Udp));
    let r = ServiceResult::excluded();
    assert_eq!(
        (r.outcome, r.info.product.as_deref(), r.confidence),
        (Outcome::Excluded, Some("Excluded from version scan"), 3)
    );
}

/// With nmap's installed database: an OpenSSH banner reads as nmap prints it.
#[test]
fn debian_database_names_an_openssh_banner() {
    let Some(path) = crate::testutil::installed_probes() else { return };
    let d = ProbeDb::load(path).unwrap();
    let banner = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";
    let (trace, r) = tcp(&d, CFG, 22, &|_| data(3, banner), &no_reply());
    assert_eq!(trace, ["0 connect", "3 close"]);
    assert_eq!(r.name.as_deref(), Some("ssh"));
    assert_eq!(r.info.product.as_deref(), Some("OpenSSH"));
    assert_eq!(r.info.version.as_deref(), Some("9.2p1 Debian 2+deb12u3"));
    assert_eq!(r.info.info.as_deref(), Some("protocol 2.0"));
    assert_eq!(r.info.ostype.as_deref(), Some("Linux"));
    assert_eq!(r.cpes(), ["cpe:/a:openbsd:openssh:9.2p1", "cpe:/o:linux:linux_kernel"]);
}

/// Oracle: nmap 7.93 (`nmap -Pn -sT -sV --version-intensity 0 -p 47001
/// 127.0.0.1`) against a local peer sending this banner then staying
/// silent printed exactly this fingerprint: NULL, then JavaRMI (the only
/// probe listing port 47001 at intensity 0) on the same connection.
#[test]
fn unmatched_service_fingerprint_equals_nmaps() {
    let Some(path) = crate::testutil::installed_probes() else { return };
    let d = ProbeDb::load(path).unwrap();
    let banner = b"a \0\x001.|-\r\n\t\xff";
    let zero = ScanConfig { intensity: 0, ..CFG };
    let (trace, r) = tcp(&d, zero, 47001, &|_| data(1, banner), &no_reply());
    assert_eq!(sends(&trace), ["JavaRMI"]);
    assert_eq!(r.outcome, Outcome::NoMatch);
    let header = crate::fingerprint::lab_header(47001, 0, 0x6B12_D52F);
    let nmap = "SF-Port47001-TCP:V=7.93%I=0%D=12/4%Time=6B12D52F%P=x86_64-pc-linux-gnu%r(N\n\
                SF:ULL,C,\"a\\x20\\0\\x001\\.\\|-\\r\\n\\t\\xff\")%r(JavaRMI,C,\"a\\x20\\0\\x001\\.\\|-\\r\\n\n\
                SF:\\t\\xff\");";
    assert_eq!(crate::fingerprint::render(&header, &r.fingerprint).as_deref(), Some(nmap));
}

/// Oracle: nmap 7.93 `--version-trace` (`nmap -Pn -sT -sV
/// --version-intensity 2 -p 443 127.0.0.1`) against a silent local peer
/// sent these probes in this order, 41.8 s in all (NULL 6 s, then 5 s each):
/// the five probes listing 443, then the rarity 1-2 probes that do not.
#[test]
fn silent_port_443_probe_order_equals_nmaps() {
    let Some(path) = crate::testutil::installed_probes() else { return };
    let d = ProbeDb::load(path).unwrap();
    let light = ScanConfig { intensity: LIGHT_INTENSITY, ..CFG };
    let (trace, r) = tcp(&d, light, 443, &silent(), &no_reply());
    let nmap = [
        "SSLSessionReq",
        "TLSSessionReq",
        "SSLv23SessionReq",
        "X11Probe",
        "OpenVPN",
        "GenericLines",
        "GetRequest",
    ];
    assert_eq!(sends(&trace), nmap);
    assert_eq!(trace.last().map(String::as_str), Some("41000 close"));
    assert_eq!((r.outcome, r.name), (Outcome::NoMatch, None));
}

/// Oracle: nmap 7.93 (`-sV --version-intensity 2 --version-trace`) against
/// a local peer closing every connection 3.5 s after accepting it: NULL,
/// then the four rarity-1 TCP probes, and the port ends `tcpwrapped`.
#[test]
fn late_closing_port_is_tcpwrapped_after_every_probe_like_nmap() {
    let Some(path) = crate::testutil::installed_probes() else { return };
    let d = ProbeDb::load(path).unwrap();
    let light = ScanConfig { intensity: LIGHT_INTENSITY, ..CFG };
    let (trace, r) = tcp(&d, light, 47123, &|_| Reply::Close(3500), &no_reply());
    assert_eq!(sends(&trace), ["GenericLines", "GetRequest", "SSLSessionReq", "TLSSessionReq"]);
    assert_eq!((r.outcome, r.name.as_deref()), (Outcome::TcpWrapped, Some("tcpwrapped")));
}

/// Name, product, version, extrainfo, hostname, OS type, device type.
fn fields(r: &ServiceResult) -> [Option<&str>; 7] {
    let i = &r.info;
    [&r.name, &i.product, &i.version, &i.info, &i.hostname, &i.ostype, &i.devicetype].map(|f| f.as_deref())
}

/// Oracle: what nmap 7.93 reported (`nmap -sV -oX`, default intensity) for
/// local peers sending these banners, field by field. They exercise
/// `$SUBST` inside a CPE, literal non-ASCII text, a leading space kept in
/// a hostname, and softmatch pruning on Debian's whole file.
#[test]
fn banners_read_as_nmap_reported_them() {
    let Some(path) = crate::testutil::installed_probes() else { return };
    let d = ProbeDb::load(path).unwrap();
    let scan = |banner: &[u8]| tcp(&d, CFG, 47200, &|_| data(1, banner), &no_reply());
    let (_, r) = scan(b"Microsoft Windows Server 2003 [Version 5.2.3790]\r\n(C) Copyright 1985-2003 Microsoft Corp.\r\n\r\nC:\\WINDOWS\\system32>");
    let info = "**BACKDOOR**; Windows 5.2.3790; path: C:\\WINDOWS\\system32";
    assert_eq!(
        fields(&r),
        [Some("bindshell"), Some("CMD.EXE"), None, Some(info), None, Some("Windows Server 2003"), None]
    );
    assert_eq!(r.cpes(), ["cpe:/o:microsoft:windows_server_2003"]);
    let (_, r) = scan(b"SSH-2.0-VShell_4_6_5 VShell\r\n");
    assert_eq!(
        fields(&r),
        [Some("ssh"), Some("VanDyke VShell sshd"), Some("4.6.5"), Some("protocol 2.0"), None, None, None]
    );
    assert_eq!(r.cpes(), ["cpe:/a:vandyke:vshell:4.6.5"]);
    let (_, r) = scan(b"220 (vsFTPd 3.0.3)\r\n");
    assert_eq!(fields(&r), [Some("ftp"), Some("vsftpd"), Some("3.0.3"), None, None, Some("Unix"), None]);
    assert_eq!(r.cpes(), ["cpe:/a:vsftpd:vsftpd:3.0.3"]);
    let (_, r) = scan(b"220 mail.example.com ESMTP Postfix (Debian/GNU)\r\n");
    assert_eq!(
        fields(&r),
        [Some("smtp"), Some("Postfix smtpd"), None, None, Some(" mail.example.com"), None, None]
    );
    assert_eq!(r.cpes(), ["cpe:/a:postfix:postfix"]);
    let (_, r) = scan(b"220 CW3500 FTP Service (Version 1.0).\r\n");
    let oce = [
        Some("ftp"),
        Some("Oc.. ColorWave 3500 printer ftpd"),
        Some("1.0"),
        None,
        None,
        None,
        Some("printer"),
    ];
    assert_eq!(fields(&r), oce);
    // Without the final '.', only the ftp softmatch holds: nmap tried the
    // probes that can name ftp and printed this fingerprint.
    let (trace, r) = scan(b"220 CW3500 FTP Service (Version 1.0)\r\n");
    assert_eq!(sends(&trace), ["GenericLines", "Help", "SSLSessionReq", "SMBProgNeg"]);
    assert_eq!((r.outcome, r.name.as_deref()), (Outcome::SoftMatched, Some("ftp")));
    let header = crate::fingerprint::lab_header(47203, 7, 0x6B12_D75F);
    let reply = "26,\"220\\x20CW3500\\x20FTP\\x20Service\\x20\\(Version\\x201\\.0\\)\\r\\n\")";
    let nmap = format!(
        "SF-Port47203-TCP:V=7.93%I=7%D=12/4%Time=6B12D75F%P=x86_64-pc-linux-gnu%r(NULL,{reply}%r(GenericLines,{reply}%r(Help,{reply}%r(SSLSessionReq,{reply}%r(SMBProgNeg,{reply};"
    );
    let unwrapped = crate::fingerprint::render(&header, &r.fingerprint).unwrap().replace("\nSF:", "");
    assert_eq!(unwrapped, nmap);
}

/// Oracle: nmap 7.93 (`-sV --version-trace`) against a local TLS server
/// (Python's ssl, OpenSSL 3) that answers `GET` with an Apache header:
/// plain probes until SSLSessionReq draws a protocol-version alert
/// (hard `ssl`, line 13464), then NULL, GenericLines and GetRequest over
/// TLS, which matches line 10510: `ssl/http Apache httpd 2.4.57 ((Debian))`.
#[test]
fn tls_server_reads_as_nmap_reported_it() {
    let Some(path) = crate::testutil::installed_probes() else { return };
    let d = ProbeDb::load(path).unwrap();
    let apache = b"HTTP/1.0 200 OK\r\nServer: Apache/2.4.57 (Debian)\r\nContent-Length: 0\r\n\r\n";
    let peer = |p: &[u8], tls: bool| match (tls, p.starts_with(b"GET ")) {
        (true, true) => data(2, apache),
        (false, _) if p.starts_with(b"\x16\x03\x00\x00S") => data(2, b"\x15\x03\x00\x00\x02\x02\x28"),
        _ => Reply::Silent,
    };
    let (trace, r) = tcp(&d, CFG, 47301, &silent(), &peer);
    let plain =
        ["GenericLines", "GetRequest", "HTTPOptions", "RTSPRequest", "RPCCheck", "DNSVersionBindReqTCP"];
    let expected: Vec<&str> = plain
        .into_iter()
        .chain(["DNSStatusRequestTCP", "Help", "SSLSessionReq", "GenericLines", "GetRequest"])
        .collect();
    assert_eq!(sends(&trace), expected);
    let tls_at = trace.iter().position(|l| l.ends_with(" tls")).unwrap();
    let ssl_req = trace.iter().position(|l| l.ends_with("send SSLSessionReq")).unwrap();
    assert!(tls_at > ssl_req);
    assert_eq!(
        fields(&r),
        [Some("http"), Some("Apache httpd"), Some("2.4.57"), Some("(Debian)"), None, None, None]
    );
    assert_eq!((r.tunnel, r.match_line), (Tunnel::Ssl, Some(10510)));
    assert_eq!(r.cpes(), ["cpe:/a:apache:http_server:2.4.57"]);
}
