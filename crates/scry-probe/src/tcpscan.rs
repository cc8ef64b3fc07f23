//! The TCP scan types besides SYN, as nmap does them (Nmap book, "Port
//! Scanning Techniques"): FIN (`-sF`), NULL (`-sN`), Xmas (`-sX`), ACK
//! (`-sA`), window (`-sW`), Maimon (`-sM`) and any flags (`--scanflags`).
//!
//! One probe type, [`FlagProbe`], sends them all; the [`TcpScan`] says
//! which flags it sets and how a reply reads:
//!
//! | scan | RST | no answer | ICMP unreachable 0, 1, 2, 3, 9, 10, 13 |
//! |---|---|---|---|
//! | FIN, NULL, Xmas, Maimon | closed | open\|filtered | filtered |
//! | ACK | unfiltered | filtered | filtered |
//! | window | open if its window is not 0, else closed | filtered | filtered |
//! | SYN (`--scanflags` alone) | closed (SYN-ACK: open) | filtered | filtered |
//!
//! **Validation.** The sequence number is the flow's cookie, and so is the
//! acknowledgement number when the probe carries ACK. RFC 9293 (3.10.7.1)
//! says how a stack resets an unwanted segment: if it carries ACK, the RST
//! takes its sequence number from that ACK field; if not, the RST
//! acknowledges the segment: our sequence number plus its length, where SYN
//! and FIN count one each. So a reply counts only if its ack is the cookie
//! plus that length (or the cookie itself, as for SYN probes), or, for a
//! probe with ACK, its seq is the cookie. An ICMP error counts only if the
//! TCP header it quotes carries the cookie as its sequence number.

use crate::cookie::{CookieKey, Flow, ProbeKind};
use crate::probe::Probe;
use crate::results::PortResult;
use crate::services::Protocol;
use crate::state::{PortState, Reason};
use crate::syn::{addressed_to, ip_header, tcp_icmp_verdict, tcp_reply_filter, Verdict};
use scry_packet::layout::ETHERNET_LEN;
use scry_packet::{
    BuildError, EthernetSpec, Frame, Mac, TcpFlags, TcpOption, TcpProbe, TcpSpec, TcpTemplate, Transport,
};
use std::fmt;
use std::net::IpAddr;

/// A TCP port scan type: the flags of its probes and how replies read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TcpScan {
    #[default]
    Syn,
    Fin,
    Null,
    Xmas,
    Ack,
    Window,
    Maimon,
}

impl TcpScan {
    /// Every TCP scan type, SYN first.
    pub const ALL: [TcpScan; 7] = [
        TcpScan::Syn,
        TcpScan::Fin,
        TcpScan::Null,
        TcpScan::Xmas,
        TcpScan::Ack,
        TcpScan::Window,
        TcpScan::Maimon,
    ];

    /// The flags nmap sends for this scan type.
    pub fn flags(self) -> TcpFlags {
        match self {
            TcpScan::Syn => TcpFlags::SYN,
            TcpScan::Fin => TcpFlags::FIN,
            TcpScan::Null => TcpFlags::NONE,
            TcpScan::Xmas => TcpFlags::FIN | TcpFlags::PSH | TcpFlags::URG,
            TcpScan::Ack | TcpScan::Window => TcpFlags::ACK,
            TcpScan::Maimon => TcpFlags::FIN | TcpFlags::ACK,
        }
    }

    /// nmap's name, as in XML `<scaninfo type="...">`.
    pub fn name(self) -> &'static str {
        match self {
            TcpScan::Syn => "syn",
            TcpScan::Fin => "fin",
            TcpScan::Null => "null",
            TcpScan::Xmas => "xmas",
            TcpScan::Ack => "ack",
            TcpScan::Window => "window",
            TcpScan::Maimon => "maimon",
        }
    }

    /// The option that asks for it.
    pub fn option(self) -> &'static str {
        match self {
            TcpScan::Syn => "-sS",
            TcpScan::Fin => "-sF",
            TcpScan::Null => "-sN",
            TcpScan::Xmas => "-sX",
            TcpScan::Ack => "-sA",
            TcpScan::Window => "-sW",
            TcpScan::Maimon => "-sM",
        }
    }

    /// Its name in messages: `SYN`, `FIN`, `NULL`, `Xmas`, `ACK`, `window`, `Maimon`.
    pub fn title(self) -> &'static str {
        match self {
            TcpScan::Syn => "SYN",
            TcpScan::Fin => "FIN",
            TcpScan::Null => "NULL",
            TcpScan::Xmas => "Xmas",
            TcpScan::Ack => "ACK",
            TcpScan::Window => "window",
            TcpScan::Maimon => "Maimon",
        }
    }

    /// The state of a port that never answered (nmap's default port state).
    pub fn silent_state(self) -> PortState {
        match self {
            TcpScan::Syn | TcpScan::Ack | TcpScan::Window => PortState::Filtered,
            TcpScan::Fin | TcpScan::Null | TcpScan::Xmas | TcpScan::Maimon => PortState::OpenFiltered,
        }
    }

    /// What a validated TCP reply with `flags` and `window` says about the
    /// port; `None` when it says nothing (nmap ignores such replies).
    pub fn read_reply(self, flags: TcpFlags, window: u16) -> Option<(PortState, Reason)> {
        if self == TcpScan::Syn && flags.contains(TcpFlags::SYN | TcpFlags::ACK) {
            return Some((PortState::Open, Reason::SynAck));
        }
        if !flags.contains(TcpFlags::RST) {
            return None;
        }
        let state = match self {
            TcpScan::Ack => PortState::Unfiltered,
            TcpScan::Window if window != 0 => PortState::Open,
            _ => PortState::Closed,
        };
        Some((state, Reason::Reset))
    }
}

impl fmt::Display for TcpScan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A `--scanflags` argument nmap would not take, or would misread.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScanFlagsError {
    #[error("--scanflags {text}: {number} is not a number from 0 to 255")]
    Number { text: String, number: String },
    #[error(
        "--scanflags {text}: unknown flag name at \"{rest}\" (use URG, ACK, PSH, RST, SYN, FIN, ECE, CWR, \
         ALL or NONE, e.g. URGPSHFIN, or a number)"
    )]
    Name { text: String, rest: String },
    #[error("--scanflags needs flag names (e.g. URGPSHFIN) or a number")]
    Empty,
}

/// Flag names `--scanflags` takes, with nmap's long spellings first.
const FLAG_NAMES: &[(&str, TcpFlags)] = &[
    ("RESET", TcpFlags::RST),
    ("PUSH", TcpFlags::PSH),
    ("NONE", TcpFlags::NONE),
    ("ALL", TcpFlags(0xff)),
    ("URG", TcpFlags::URG),
    ("ACK", TcpFlags::ACK),
    ("PSH", TcpFlags::PSH),
    ("RST", TcpFlags::RST),
    ("SYN", TcpFlags::SYN),
    ("FIN", TcpFlags::FIN),
    ("ECE", TcpFlags::ECE),
    ("CWR", TcpFlags::CWR),
];

/// Parses `--scanflags` as nmap does: a number from 0 to 255 (decimal,
/// `0x` hex or `0` octal, as C's `strtol`), or flag names run together in
/// any order and case (`URGACKPSHRSTSYNFIN`, `synfin`). `ALL` sets every
/// flag and `NONE` clears them all, wherever they stand. Unlike nmap, which
/// looks only for the names it knows, anything else is refused.
///
/// # Errors
/// [`ScanFlagsError`] naming the bad number or the text from the first
/// unknown name on.
pub fn parse_scanflags(text: &str) -> Result<TcpFlags, ScanFlagsError> {
    if text.is_empty() {
        return Err(ScanFlagsError::Empty);
    }
    if text.starts_with(|c: char| c.is_ascii_digit()) {
        let bad = || ScanFlagsError::Number { text: text.to_owned(), number: text.to_owned() };
        let value = if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            u32::from_str_radix(hex, 16)
        } else if text.len() > 1 && text.starts_with('0') {
            u32::from_str_radix(&text[1..], 8)
        } else {
            text.parse::<u32>()
        };
        return value.ok().and_then(|v| u8::try_from(v).ok()).map(TcpFlags).ok_or_else(bad);
    }
    let upper = text.to_ascii_uppercase();
    let mut rest = upper.as_str();
    let (mut flags, mut all, mut none) = (TcpFlags::NONE, false, false);
    while !rest.is_empty() {
        let Some((name, flag)) = FLAG_NAMES.iter().find(|(name, _)| rest.starts_with(name)) else {
            let at = text.len() - rest.len();
            return Err(ScanFlagsError::Name { text: text.to_owned(), rest: text[at..].to_owned() });
        };
        match *name {
            "ALL" => all = true,
            "NONE" => none = true,
            _ => flags |= *flag,
        }
        rest = &rest[name.len()..];
    }
    Ok(match (all, none) {
        (_, true) => TcpFlags::NONE,
        (true, false) => TcpFlags(0xff),
        _ => flags,
    })
}

/// Flags as nmap writes `scanflags` in its XML: the names of those set, in
/// the order FIN SYN RST PSH ACK URG ECE CWR (empty for none).
pub fn scanflags_names(flags: TcpFlags) -> String {
    const ORDER: [(TcpFlags, &str); 8] = [
        (TcpFlags::FIN, "FIN"),
        (TcpFlags::SYN, "SYN"),
        (TcpFlags::RST, "RST"),
        (TcpFlags::PSH, "PSH"),
        (TcpFlags::ACK, "ACK"),
        (TcpFlags::URG, "URG"),
        (TcpFlags::ECE, "ECE"),
        (TcpFlags::CWR, "CWR"),
    ];
    ORDER.iter().filter(|(f, _)| flags.contains(*f)).map(|(_, name)| *name).collect()
}

/// The TCP scan asked for: its type and, with `--scanflags`, the flags that
/// replace the type's own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpScanSpec {
    pub scan: TcpScan,
    pub scanflags: Option<TcpFlags>,
}

impl TcpScanSpec {
    /// The flags the probes carry.
    pub fn flags(&self) -> TcpFlags {
        self.scanflags.unwrap_or(self.scan.flags())
    }

    /// Whether this is the plain SYN scan, which [`crate::syn::SynProbe`] sends.
    pub fn is_plain_syn(&self) -> bool {
        self.scan == TcpScan::Syn && self.scanflags.is_none()
    }
}

/// MSS 1460, the one option nmap puts on a port-scan probe with SYN set.
const SYN_SCAN_OPTIONS: &[TcpOption<'static>] = &[TcpOption::Mss(1460)];

/// Window of every probe (nmap's default for raw TCP probes).
pub const FLAG_PROBE_WINDOW: u16 = 1024;

/// A TCP scan of any flags: FIN, NULL, Xmas, ACK, window, Maimon, `--scanflags`.
pub struct FlagProbe {
    template: TcpTemplate,
    src: IpAddr,
    src_port: u16,
    key: CookieKey,
    spec: TcpScanSpec,
}

impl FlagProbe {
    /// Prepares the template for `spec`'s flags.
    ///
    /// # Errors
    /// The builder's; none for any flags.
    pub fn new(
        src: IpAddr,
        src_mac: Mac,
        src_port: u16,
        ttl: u8,
        key: CookieKey,
        spec: TcpScanSpec,
    ) -> Result<FlagProbe, BuildError> {
        let ip = ip_header(src, src, ttl, 0)?;
        let flags = spec.flags();
        let options = if flags.contains(TcpFlags::SYN) { SYN_SCAN_OPTIONS } else { &[] };
        let tcp = TcpSpec { src_port, flags, window: FLAG_PROBE_WINDOW, options, ..TcpSpec::default() };
        let template = TcpTemplate::new(&EthernetSpec { src: src_mac, dst: Mac::ZERO }, &ip, &tcp)?;
        Ok(FlagProbe { template, src, src_port, key, spec })
    }

    /// The scan this probe does.
    pub fn spec(&self) -> TcpScanSpec {
        self.spec
    }

    /// How much sequence space a probe takes: SYN and FIN count one each.
    fn length(&self) -> u32 {
        let flags = self.spec.flags();
        u32::from(flags.contains(TcpFlags::SYN)) + u32::from(flags.contains(TcpFlags::FIN))
    }

    /// Whether a reply with `seq` and `ack` along `reply` answers our probe
    /// (see the module's validation rule).
    fn answers(&self, reply: &Flow, seq: u32, ack: u32) -> bool {
        let cookie = self.key.cookie(&reply.reversed(), ProbeKind::TCP_FLAGS);
        let acknowledged = ack == cookie.wrapping_add(self.length()) || ack == cookie;
        acknowledged || (self.spec.flags().contains(TcpFlags::ACK) && seq == cookie)
    }
}

impl Probe for FlagProbe {
    fn protocol(&self) -> Protocol {
        Protocol::Tcp
    }

    fn filter(&self) -> String {
        tcp_reply_filter(self.src, self.src_port)
    }

    fn max_frame_len(&self) -> usize {
        self.template.len()
    }

    fn write(
        &self,
        dst: IpAddr,
        port: u16,
        _which: usize,
        dst_mac: Mac,
        ip_id: u16,
        out: &mut [u8],
    ) -> Result<usize, BuildError> {
        let cookie = self.key.cookie(&Flow::new(self.src, dst, self.src_port, port), ProbeKind::TCP_FLAGS);
        let probe = TcpProbe { dst, src_port: self.src_port, dst_port: port, seq: cookie, ip_id };
        let n = if self.spec.flags().contains(TcpFlags::ACK) {
            self.template.write_with_ack(&probe, cookie, out)?
        } else {
            self.template.write(&probe, out)?
        };
        out[..6].copy_from_slice(&dst_mac.0);
        debug_assert!(n > ETHERNET_LEN);
        Ok(n)
    }

    fn classify(&self, frame: &Frame) -> Verdict {
        let Some((ip, transport)) = addressed_to(frame, self.src) else { return Verdict::Unrelated };
        match transport {
            Transport::Tcp(tcp) => {
                if tcp.dst_port != self.src_port {
                    return Verdict::Unrelated;
                }
                // As for SYN probes: the cookie, not the (offloaded) TCP checksum, is the test.
                let reply = Flow::new(ip.src, ip.dst, tcp.src_port, tcp.dst_port);
                if !ip.checksum_ok || !self.answers(&reply, tcp.seq, tcp.ack) {
                    return Verdict::Invalid;
                }
                let Some((state, reason)) = self.spec.scan.read_reply(tcp.flags, tcp.window) else {
                    return Verdict::Invalid;
                };
                Verdict::Port {
                    host: ip.src,
                    port: tcp.src_port,
                    result: PortResult { state, reason, ttl: ip.ttl },
                }
            }
            Transport::Icmp(icmp) => {
                tcp_icmp_verdict(ip, icmp, (self.src, self.src_port), &self.key, ProbeKind::TCP_FLAGS)
            }
            _ => Verdict::Unrelated,
        }
    }

    fn silent_state(&self) -> PortState {
        self.spec.scan.silent_state()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanflags_take_names_in_any_order_and_case_or_numbers() {
        let f = |t: &str| parse_scanflags(t).map(|f| f.0);
        assert_eq!(f("URGACKPSHRSTSYNFIN"), Ok(0x3f));
        assert_eq!(f("finsyn"), Ok(0x03));
        assert_eq!(f("SynFin"), Ok(0x03));
        assert_eq!(f("PUSHRESETECECWR"), Ok(0xcc));
        assert_eq!(f("ALL"), Ok(0xff));
        assert_eq!(f("NONE"), Ok(0));
        assert_eq!(f("SYNNONE"), Ok(0));
        assert_eq!(f("SYNALL"), Ok(0xff));
        assert_eq!(f("9"), Ok(9));
        assert_eq!(f("0x29"), Ok(0x29));
        assert_eq!(f("0X29"), Ok(0x29));
        assert_eq!(f("011"), Ok(9));
        assert_eq!(f("255"), Ok(255));
        assert_eq!(f("0"), Ok(0));
    }

    #[test]
    fn bad_scanflags_name_the_bad_part() {
        assert_eq!(
            parse_scanflags("SYNFOOFIN").unwrap_err().to_string(),
            "--scanflags SYNFOOFIN: unknown flag name at \"FOOFIN\" (use URG, ACK, PSH, RST, SYN, FIN, ECE, \
             CWR, ALL or NONE, e.g. URGPSHFIN, or a number)"
        );
        assert_eq!(
            parse_scanflags("256").unwrap_err().to_string(),
            "--scanflags 256: 256 is not a number from 0 to 255"
        );
        assert!(matches!(parse_scanflags("0x"), Err(ScanFlagsError::Number { .. })));
        assert!(matches!(parse_scanflags("12ab"), Err(ScanFlagsError::Number { .. })));
        assert!(matches!(parse_scanflags("09"), Err(ScanFlagsError::Number { .. })));
        assert_eq!(parse_scanflags(""), Err(ScanFlagsError::Empty));
    }

    #[test]
    fn scanflags_are_written_in_nmaps_order() {
        assert_eq!(scanflags_names(parse_scanflags("URGACKPSHRSTSYNFIN").unwrap()), "FINSYNRSTPSHACKURG");
        assert_eq!(scanflags_names(TcpFlags(0xff)), "FINSYNRSTPSHACKURGECECWR");
        assert_eq!(scanflags_names(TcpFlags::NONE), "");
    }

    #[test]
    fn each_scan_sends_nmaps_flags() {
        let flags: Vec<u8> = TcpScan::ALL.iter().map(|s| s.flags().0).collect();
        assert_eq!(flags, [0x02, 0x01, 0x00, 0x29, 0x10, 0x10, 0x11]);
    }

    #[test]
    fn replies_read_as_nmap_reads_them() {
        let rst = TcpFlags::RST;
        let rst_ack = TcpFlags::RST | TcpFlags::ACK;
        let syn_ack = TcpFlags::SYN | TcpFlags::ACK;
        let closed = Some((PortState::Closed, Reason::Reset));
        for scan in [TcpScan::Fin, TcpScan::Null, TcpScan::Xmas, TcpScan::Maimon] {
            assert_eq!(scan.read_reply(rst_ack, 0), closed, "{scan}");
            assert_eq!(scan.read_reply(syn_ack, 0), None, "{scan}");
            assert_eq!(scan.silent_state(), PortState::OpenFiltered, "{scan}");
        }
        assert_eq!(TcpScan::Ack.read_reply(rst, 0), Some((PortState::Unfiltered, Reason::Reset)));
        assert_eq!(TcpScan::Ack.read_reply(rst, 512), Some((PortState::Unfiltered, Reason::Reset)));
        assert_eq!(TcpScan::Window.read_reply(rst, 0), closed);
        assert_eq!(TcpScan::Window.read_reply(rst, 512), Some((PortState::Open, Reason::Reset)));
        assert_eq!(TcpScan::Syn.read_reply(syn_ack, 0), Some((PortState::Open, Reason::SynAck)));
        assert_eq!(TcpScan::Syn.read_reply(rst_ack, 0), closed);
        assert_eq!(TcpScan::Syn.read_reply(TcpFlags::ACK, 0), None);
        for scan in [TcpScan::Syn, TcpScan::Ack, TcpScan::Window] {
            assert_eq!(scan.silent_state(), PortState::Filtered, "{scan}");
        }
    }
}
