//! The service fingerprint nmap prints for a service it could not match
//! (`SF-Port21-TCP:V=…%r(NULL,8,"…")…;`), from the responses kept in a
//! [`ServiceResult`](crate::ServiceResult). nmap's
//! `addToServiceFingerprint`/`getServiceFingerprint` rules:
//!
//! - a header `SF-Port<port>-<TCP|UDP>:V=<version>[%T=SSL]%I=<intensity>%D=<month>/<day>%Time=<hex time>%P=<platform>`;
//! - one `%r(<probe>,<length in hex>,"<escaped bytes>")` per response, the
//!   bytes cut to 900; no more responses once the text passes 2200 chars;
//! - letters and digits as is; NUL as `\0` (or `\x00` before a digit);
//!   `\ ? " [ ] ( ) . * + $ ^ |` backslashed; other punctuation as is;
//!   `\r \n \t`; everything else (space included) `\xhh`;
//! - a line break `\nSF:` whenever the text (breaks included) is one short
//!   of a multiple of 75 characters, so lines are 74 wide; a final `;`.

use crate::db::{Protocol, Tunnel};
use crate::result::{Response, FINGERPRINT_BYTES};

/// nmap wraps fingerprint lines after 74 characters.
const WRAP_AT: usize = 74;
/// nmap stops adding responses once the fingerprint is longer than this.
const MAX_LEN: usize = 2200;

/// The values of the fingerprint's header line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FingerprintHeader<'a> {
    /// Port number.
    pub port: u16,
    /// TCP or UDP.
    pub protocol: Protocol,
    /// `Tunnel::Ssl` adds `%T=SSL`.
    pub tunnel: Tunnel,
    /// The `V=` version string.
    pub version: &'a str,
    /// `--version-intensity`.
    pub intensity: u8,
    /// Local month (1-12) and day of the scan.
    pub month: u8,
    /// Local day of month.
    pub day: u8,
    /// Unix time of the scan, printed in hex.
    pub time: u64,
    /// The `P=` platform string, e.g. `x86_64-pc-linux-gnu`.
    pub platform: &'a str,
}

struct Wrapped {
    text: String,
}

impl Wrapped {
    fn push(&mut self, c: char) {
        if self.text.len() % (WRAP_AT + 1) == WRAP_AT {
            self.text.push_str("\nSF:");
        }
        self.text.push(c);
    }

    fn push_str(&mut self, s: &str) {
        s.chars().for_each(|c| self.push(c));
    }
}

/// Renders the fingerprint, or `None` when no response was kept.
pub fn render(header: &FingerprintHeader<'_>, responses: &[Response]) -> Option<String> {
    if responses.is_empty() {
        return None;
    }
    let proto = match header.protocol {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
    };
    let ssl = if header.tunnel == Tunnel::Ssl { "%T=SSL" } else { "" };
    let mut fp = Wrapped { text: String::new() };
    fp.push_str(&format!(
        "SF-Port{}-{proto}:V={}{ssl}%I={}%D={}/{}%Time={:X}%P={}",
        header.port, header.version, header.intensity, header.month, header.day, header.time, header.platform
    ));
    for r in responses {
        if fp.text.len() > MAX_LEN {
            break;
        }
        fp.push_str(&format!("%r({},{:X},\"", r.probe, r.len));
        let bytes = &r.bytes[..r.bytes.len().min(FINGERPRINT_BYTES)];
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b if b.is_ascii_alphanumeric() => fp.push(b as char),
                0 if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => fp.push_str("\\x00"),
                0 => fp.push_str("\\0"),
                b'\\' | b'?' | b'"' | b'[' | b']' | b'(' | b')' | b'.' | b'*' | b'+' | b'$' | b'^' | b'|' => {
                    fp.push('\\');
                    fp.push(b as char);
                }
                b if b.is_ascii_punctuation() => fp.push(b as char),
                b'\r' => fp.push_str("\\r"),
                b'\n' => fp.push_str("\\n"),
                b'\t' => fp.push_str("\\t"),
                b => fp.push_str(&format!("\\x{b:02x}")),
            }
        }
        fp.push('"');
        fp.push(')');
    }
    fp.text.push(';');
    Some(fp.text)
}

/// The header nmap 7.93 printed in the lab on 4 December, for tests.
#[cfg(test)]
pub(crate) fn lab_header(port: u16, intensity: u8, time: u64) -> FingerprintHeader<'static> {
    FingerprintHeader {
        port,
        protocol: Protocol::Tcp,
        tunnel: Tunnel::None,
        version: "7.93",
        intensity,
        month: 12,
        day: 4,
        time,
        platform: "x86_64-pc-linux-gnu",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> FingerprintHeader<'static> {
        lab_header(21, 7, 0x6750_A1B2)
    }

    fn resp(probe: &str, bytes: &[u8]) -> Response {
        Response { probe: probe.into(), len: bytes.len(), bytes: bytes.to_vec() }
    }

    #[test]
    fn escapes_follow_add_to_service_fingerprint() {
        let fp = render(&header(), &[resp("NULL", b"a \0\x001.|-\r\n\t\xff")]).unwrap();
        assert_eq!(
            fp,
            "SF-Port21-TCP:V=7.93%I=7%D=12/4%Time=6750A1B2%P=x86_64-pc-linux-gnu%r(NULL\nSF:,C,\"a\\x20\\0\\x001\\.\\|-\\r\\n\\t\\xff\");"
        );
    }

    #[test]
    fn lines_wrap_at_74_characters_and_ssl_is_marked() {
        let h = FingerprintHeader { tunnel: Tunnel::Ssl, protocol: Protocol::Udp, port: 443, ..header() };
        let fp = render(&h, &[resp("GetRequest", &[b'A'; 100])]).unwrap();
        let lines: Vec<&str> = fp.split('\n').collect();
        // The header is exactly 74 characters: the break comes before "%r(".
        assert_eq!(lines[0], "SF-Port443-UDP:V=7.93%T=SSL%I=7%D=12/4%Time=6750A1B2%P=x86_64-pc-linux-gnu");
        assert_eq!(lines[0].len(), 74);
        assert!(lines[1..].iter().all(|l| l.starts_with("SF:")));
        assert_eq!(lines[1], format!("SF:%r(GetRequest,64,\"{}", "A".repeat(53)));
        assert!(fp.ends_with("AAAA\");"));
        assert_eq!(fp.split("%r(").nth(1).unwrap().matches('A').count(), 100);
    }

    #[test]
    fn stops_adding_responses_past_2200_characters() {
        let big = resp("GetRequest", &[b' '; 900]);
        let fp = render(&header(), &[big.clone(), big.clone(), big]).unwrap();
        // Each response is about 3600 characters of \x20: only the first fits.
        assert_eq!(fp.matches("%r(").count(), 1);
        assert_eq!(render(&header(), &[]), None);
    }
}
