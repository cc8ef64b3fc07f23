//! Internet checksums (RFC 1071), full and incremental (RFC 1624), and the
//! CRC-32 nmap takes of a reset's data.
//!
//! Full sums lean on etherparse's `Sum16BitWords`; the incremental update is
//! what the hot-path templates use to patch a frame without re-summing it.

use etherparse::checksum::Sum16BitWords;
use std::net::IpAddr;

/// Ones'-complement checksum of `data` (odd lengths padded with a zero byte).
pub fn checksum(data: &[u8]) -> u16 {
    Sum16BitWords::new().add_slice(data).ones_complement().to_be()
}

/// Sum of the TCP/UDP/ICMPv6 pseudo-header (RFC 793, RFC 8200 section 8.1).
pub fn pseudo_header(src: IpAddr, dst: IpAddr, protocol: u8, length: u32) -> Sum16BitWords {
    let mut sum = Sum16BitWords::new();
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => sum
            .add_4bytes(s.octets())
            .add_4bytes(d.octets())
            .add_2bytes([0, protocol])
            .add_2bytes((length as u16).to_be_bytes()),
        (s, d) => sum
            .add_16bytes(to_v6(s))
            .add_16bytes(to_v6(d))
            .add_4bytes(length.to_be_bytes())
            .add_4bytes([0, 0, 0, protocol]),
    }
}

fn to_v6(addr: IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

/// Checksum of a transport segment with its pseudo-header.
///
/// Computed over a segment whose checksum field holds zero this is the value
/// to store; computed over a received segment it is zero when the stored
/// checksum is right.
pub fn transport_checksum(src: IpAddr, dst: IpAddr, protocol: u8, segment: &[u8]) -> u16 {
    pseudo_header(src, dst, protocol, segment.len() as u32).add_slice(segment).ones_complement().to_be()
}

/// Incrementally updates checksum `old_sum` after a 16-bit word changed from
/// `old` to `new`: `HC' = ~(~HC + ~m + m')` (RFC 1624, equation 3).
pub fn update16(old_sum: u16, old: u16, new: u16) -> u16 {
    let mut sum = u32::from(!old_sum) + u32::from(!old) + u32::from(new);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    !(sum as u16)
}

/// [`update16`] over a run of words: `old` and `new` must have equal, even length.
pub fn update_bytes(old_sum: u16, old: &[u8], new: &[u8]) -> u16 {
    debug_assert_eq!(old.len(), new.len());
    let mut sum = u32::from(!old_sum);
    for (o, n) in old.chunks_exact(2).zip(new.chunks_exact(2)) {
        sum += u32::from(!u16::from_be_bytes([o[0], o[1]]));
        sum += u32::from(u16::from_be_bytes([n[0], n[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// CRC-32 lookup table, one entry per byte value (reflected polynomial).
const CRC32_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// CRC-32 (IEEE 802.3, reflected, as zlib and nmap's `nbase_crc32`): the
/// `RD` value of nmap's T1-T7 tests is this over a reset's whole TCP data.
pub fn crc32(data: &[u8]) -> u32 {
    !data.iter().fold(!0u32, |crc, &byte| (crc >> 8) ^ CRC32_TABLE[usize::from((crc as u8) ^ byte)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn incremental_matches_full() {
        let mut data = [0x45u8, 0, 0, 60, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 198, 18, 0, 1, 198, 18, 0, 10];
        let before = checksum(&data);
        data[18..20].copy_from_slice(&[1, 2]);
        let after = checksum(&data);
        assert_eq!(update16(before, 0x000a, 0x0102), after);
        assert_eq!(update_bytes(before, &[0, 10], &[1, 2]), after);
    }

    #[test]
    fn crc32_is_the_ieee_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }
}
