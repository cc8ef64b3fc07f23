//! The real services the version-detection tests run against: each starts
//! in a target namespace, listens there only, and greets a client from the
//! scanner the way its protocol does.

use scry_lab::{Daemon, Lab, Service, TargetSpec};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::Duration;

/// Connects from the scanner, sends `request` (if any) and returns what the
/// service says within a second.
fn talk(lab: &Lab, ip: Ipv4Addr, port: u16, request: &[u8]) -> String {
    let request = request.to_vec();
    let bytes = lab
        .scanner()
        .run(move || {
            let mut s = TcpStream::connect((ip, port)).expect("connecting");
            s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
            if !request.is_empty() {
                s.write_all(&request).unwrap();
            }
            let mut buf = vec![0; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            buf.truncate(n);
            buf
        })
        .unwrap();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Starts `service` or explains why not: a missing package fails under CI.
fn start(lab: &Lab, service: Service) -> Option<Daemon> {
    Daemon::start_or_skip(&lab.targets()[0], service)
}

#[test]
fn every_service_greets_as_its_protocol_does() {
    let Some(lab) = scry_lab::require_lab(Lab::builder().target(TargetSpec::new()).build()) else { return };
    let ip = lab.targets()[0].ipv4();
    let checks: [(Service, u16, &[u8], &str); 10] = [
        (Service::Ftp, 21, b"", "220 (vsFTPd 3."),
        (Service::Ssh, 22, b"", "SSH-2.0-OpenSSH_"),
        (Service::Telnet, 23, b"", "\u{fffd}\u{fffd}"),
        (Service::Smtp, 25, b"", "220 mail.lab.test ESMTP Postfix (Debian/GNU)"),
        (Service::Nginx, 80, b"GET / HTTP/1.0\r\n\r\n", "HTTP/1.1 200 OK\r\nServer: nginx/"),
        (Service::Dovecot, 110, b"", "+OK Dovecot"),
        (Service::Dovecot, 143, b"", "* OK [CAPABILITY IMAP4rev1"),
        (Service::Postgres, 5432, b"\0\0\0\x08\x04\xd2\x16\x2f", "N"),
        (Service::Redis, 6379, b"PING\r\n", "+PONG"),
        (Service::Memcached, 11211, b"version\r\n", "VERSION 1."),
    ];
    let mut running = Vec::new();
    for service in Service::ALL {
        running.extend(start(&lab, service));
    }
    for (service, port, request, expected) in checks {
        if !running.iter().any(|d| d.service() == service) {
            continue;
        }
        let said = talk(&lab, ip, port, request);
        assert!(said.starts_with(expected), "{service:?} on {port} said {said:?}, expected {expected:?}...");
    }
    if running.iter().any(|d| d.service() == Service::Nginx) {
        // HTTPS on 443 with the lab's self-signed certificate.
        let out = lab
            .scanner()
            .command("openssl")
            .args(["s_client", "-connect", &format!("{ip}:443"), "-servername", "lab.test"])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("subject=CN = lab.test, O = scry lab"), "{text}");
    }
}
