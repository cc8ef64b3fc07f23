//! Stateless reply validation: each probe carries a keyed hash of its own flow.
//!
//! A probe's TCP sequence number (or whatever field its kind echoes back) is
//! [`CookieKey::cookie`]: SipHash-2-4, under a 128-bit key chosen per scan, of
//! the probe's addresses, ports and [`ProbeKind`]. A reply is ours only if it
//! echoes that value, so the receiver needs no table of probes sent and
//! spoofed or stray replies fail the check. This is masscan's `syn-cookie`
//! (SipHash of the 4-tuple) and zmap's `validate` (AES of it).
//!
//! **Direction.** Cookies are always computed over the probe as *sent*:
//! (our address, target address, our port, target port). A reply travels the
//! other way, so the `check_*` helpers for replies take the reply's own
//! [`Flow`] and reverse it; the ICMP helper takes the quoted datagram, which is
//! our probe as sent and is not reversed.

use siphasher::sip::SipHasher24;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::ops::RangeInclusive;

/// Addresses and ports of one packet, in that packet's direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Flow {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
}

impl Flow {
    /// A flow from `src:src_port` to `dst:dst_port`.
    pub fn new(src: IpAddr, dst: IpAddr, src_port: u16, dst_port: u16) -> Flow {
        Flow { src, dst, src_port, dst_port }
    }

    /// The same flow seen from the other end: a reply's flow reversed is its probe's.
    pub fn reversed(self) -> Flow {
        Flow { src: self.dst, dst: self.src, src_port: self.dst_port, dst_port: self.src_port }
    }
}

/// Which kind of probe a cookie is for, so different probes to one flow get
/// unrelated cookies. Probe modules each pick a distinct value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProbeKind(pub u8);

impl ProbeKind {
    pub const TCP_SYN: ProbeKind = ProbeKind(1);
    pub const TCP_ACK: ProbeKind = ProbeKind(2);
    pub const UDP: ProbeKind = ProbeKind(3);
    pub const ICMP_ECHO: ProbeKind = ProbeKind(4);
    pub const ICMP_TIMESTAMP: ProbeKind = ProbeKind(5);
    /// The TCP scans other than SYN (FIN, NULL, Xmas, ACK, window, Maimon, `--scanflags`).
    pub const TCP_FLAGS: ProbeKind = ProbeKind(6);
}

/// Last byte of [`CookieKey::source_port`]'s 19-byte message (flow messages are 13 or 37 bytes).
const SOURCE_PORT_TAG: u8 = 0xff;

/// The scan's 128-bit secret for cookies. `Debug` does not print it.
#[derive(Clone)]
pub struct CookieKey {
    sip: SipHasher24,
}

impl CookieKey {
    /// A fresh key from the operating system's random source; use one per scan.
    pub fn random() -> CookieKey {
        CookieKey::from_bytes(rand::random())
    }

    /// A key derived from `seed`, for tests and reproducible runs; not secret.
    pub fn from_seed(seed: u64) -> CookieKey {
        let mut state = seed;
        let mut next = || {
            // SplitMix64 (Steele, Lea and Flood).
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let z = (state ^ (state >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        CookieKey { sip: SipHasher24::new_with_keys(next(), next()) }
    }

    /// The key from its 16 bytes, e.g. as saved with a resumable scan.
    pub fn from_bytes(key: [u8; 16]) -> CookieKey {
        CookieKey { sip: SipHasher24::new_with_key(&key) }
    }

    /// The key's 16 bytes, to save with a resumable scan so late replies still validate.
    pub fn to_bytes(&self) -> [u8; 16] {
        self.sip.key()
    }

    /// The cookie for a probe of `kind` sent along `probe` (our side as `src`).
    #[inline]
    pub fn cookie(&self, probe: &Flow, kind: ProbeKind) -> u32 {
        match (probe.src, probe.dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                self.cookie_v4(src, dst, probe.src_port, probe.dst_port, kind)
            }
            (src, dst) => {
                // 37 bytes: a different length from the IPv4 message, so the two never collide.
                let mut message = [0u8; 37];
                message[..16].copy_from_slice(&v6_octets(src));
                message[16..32].copy_from_slice(&v6_octets(dst));
                message[32..34].copy_from_slice(&probe.src_port.to_be_bytes());
                message[34..36].copy_from_slice(&probe.dst_port.to_be_bytes());
                message[36] = kind.0;
                self.sip.hash(&message) as u32
            }
        }
    }

    /// [`CookieKey::cookie`] for an IPv4 probe without building a [`Flow`]: the hot path.
    #[inline]
    pub fn cookie_v4(
        &self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        src_port: u16,
        dst_port: u16,
        kind: ProbeKind,
    ) -> u32 {
        // 13 bytes: one SipHash block plus the length block, the fewest rounds possible.
        let mut message = [0u8; 13];
        message[..4].copy_from_slice(&src.octets());
        message[4..8].copy_from_slice(&dst.octets());
        message[8..10].copy_from_slice(&src_port.to_be_bytes());
        message[10..12].copy_from_slice(&dst_port.to_be_bytes());
        message[12] = kind.0;
        self.sip.hash(&message) as u32
    }

    /// Whether a SYN-ACK along `reply` acknowledges our SYN: `ack - 1 == cookie`,
    /// since the SYN used one sequence number (RFC 9293 §3.4).
    pub fn check_syn_ack(&self, reply: &Flow, kind: ProbeKind, ack: u32) -> bool {
        ack.wrapping_sub(1) == self.cookie(&reply.reversed(), kind)
    }

    /// Whether a RST along `reply` answers our probe: `ack` is the cookie + 1
    /// (RFC 9293's reset for a SYN acknowledges it) or the cookie itself, which
    /// some stacks and middleboxes send. masscan accepts only + 1; its
    /// descendant xtate accepts both, as here.
    pub fn check_rst(&self, reply: &Flow, kind: ProbeKind, ack: u32) -> bool {
        let cookie = self.cookie(&reply.reversed(), kind);
        ack == cookie || ack == cookie.wrapping_add(1)
    }

    /// Whether the probe quoted in an ICMP error is ours: `quoted` is that
    /// datagram's flow, i.e. our probe as sent (not reversed), and `seq` its
    /// sequence number.
    pub fn check_quoted_seq(&self, quoted: &Flow, kind: ProbeKind, seq: u32) -> bool {
        seq == self.cookie(quoted, kind)
    }

    /// A source port in `ports` chosen by the key for this target, so probes to
    /// different targets leave from different ports (masscan's `--source-port`
    /// range) while a reply's destination port can still be checked.
    ///
    /// # Panics
    /// When `ports` is empty.
    pub fn source_port(&self, dst: IpAddr, dst_port: u16, ports: RangeInclusive<u16>) -> u16 {
        let (first, last) = (*ports.start(), *ports.end());
        assert!(first <= last, "empty source port range {first}-{last}");
        let mut message = [0u8; 19];
        message[..16].copy_from_slice(&v6_octets(dst));
        message[16..18].copy_from_slice(&dst_port.to_be_bytes());
        message[18] = SOURCE_PORT_TAG;
        let span = u64::from(last - first) + 1;
        // Lemire's multiply-shift range reduction of the hash's low 32 bits.
        let offset = (u64::from(self.sip.hash(&message) as u32) * span) >> 32;
        first + offset as u16
    }
}

impl fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CookieKey(..)")
    }
}

/// An address as 16 bytes, IPv4 as IPv4-mapped IPv6.
fn v6_octets(address: IpAddr) -> [u8; 16] {
    match address {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}
