//! TCP flags and options, kept in wire order.
//!
//! OS fingerprinting reads meaning into the *order* of options and into kinds
//! nobody asked for, so options are stored as the raw option bytes and decoded
//! on demand: nothing is normalised away, unknown kinds are kept, and a
//! malformed option list decodes up to the damage and then reports it.

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

/// The eight TCP flag bits of header byte 13 (RFC 9293, RFC 3168).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: TcpFlags = TcpFlags(0x01);
    pub const SYN: TcpFlags = TcpFlags(0x02);
    pub const RST: TcpFlags = TcpFlags(0x04);
    pub const PSH: TcpFlags = TcpFlags(0x08);
    pub const ACK: TcpFlags = TcpFlags(0x10);
    pub const URG: TcpFlags = TcpFlags(0x20);
    pub const ECE: TcpFlags = TcpFlags(0x40);
    pub const CWR: TcpFlags = TcpFlags(0x80);
    /// No flag set.
    pub const NONE: TcpFlags = TcpFlags(0);

    /// True when every flag in `other` is set.
    pub fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for TcpFlags {
    /// tcpdump-like letters, most significant first: `CEUAPRSF`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const LETTERS: &[u8; 8] = b"CEUAPRSF";
        let mut out = String::with_capacity(8);
        for (i, letter) in LETTERS.iter().enumerate() {
            if self.0 & (0x80 >> i) != 0 {
                out.push(*letter as char);
            }
        }
        if out.is_empty() {
            out.push('.');
        }
        f.write_str(&out)
    }
}

/// Option kinds scry writes or recognises (IANA TCP parameters).
pub mod kind {
    pub const EOL: u8 = 0;
    pub const NOP: u8 = 1;
    pub const MSS: u8 = 2;
    pub const WINDOW_SCALE: u8 = 3;
    pub const SACK_PERMITTED: u8 = 4;
    pub const SACK: u8 = 5;
    pub const TIMESTAMP: u8 = 8;
}

/// One TCP option, borrowed from the bytes it was decoded from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpOption<'a> {
    /// End of option list (kind 0).
    Eol,
    /// No-operation padding (kind 1).
    Nop,
    /// Maximum segment size (kind 2).
    Mss(u16),
    /// Window scale shift count (kind 3).
    WindowScale(u8),
    /// SACK permitted (kind 4).
    SackPermitted,
    /// Timestamps (kind 8): TSval and TSecr.
    Timestamp { val: u32, ecr: u32 },
    /// Any other kind, or a known kind with an unusual length, kept as is.
    Other { kind: u8, data: &'a [u8] },
}

impl TcpOption<'_> {
    /// Bytes this option takes on the wire.
    pub fn wire_len(&self) -> usize {
        match self {
            TcpOption::Eol | TcpOption::Nop => 1,
            TcpOption::Mss(_) => 4,
            TcpOption::WindowScale(_) => 3,
            TcpOption::SackPermitted => 2,
            TcpOption::Timestamp { .. } => 10,
            TcpOption::Other { data, .. } => 2 + data.len(),
        }
    }

    /// Appends the option's wire form to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        match *self {
            TcpOption::Eol => out.push(kind::EOL),
            TcpOption::Nop => out.push(kind::NOP),
            TcpOption::Mss(mss) => {
                out.extend_from_slice(&[kind::MSS, 4]);
                out.extend_from_slice(&mss.to_be_bytes());
            }
            TcpOption::WindowScale(shift) => out.extend_from_slice(&[kind::WINDOW_SCALE, 3, shift]),
            TcpOption::SackPermitted => out.extend_from_slice(&[kind::SACK_PERMITTED, 2]),
            TcpOption::Timestamp { val, ecr } => {
                out.extend_from_slice(&[kind::TIMESTAMP, 10]);
                out.extend_from_slice(&val.to_be_bytes());
                out.extend_from_slice(&ecr.to_be_bytes());
            }
            TcpOption::Other { kind, data } => {
                out.push(kind);
                out.push((data.len() + 2) as u8);
                out.extend_from_slice(data);
            }
        }
    }
}

/// The most option bytes a TCP header can carry (data offset 15 words).
pub const MAX_OPTIONS_LEN: usize = 40;

/// The raw option bytes of a received segment, in order. `Copy`, no heap.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TcpOptions {
    bytes: [u8; MAX_OPTIONS_LEN],
    len: u8,
}

impl Default for TcpOptions {
    fn default() -> Self {
        TcpOptions { bytes: [0; MAX_OPTIONS_LEN], len: 0 }
    }
}

impl TcpOptions {
    /// Wraps option bytes; anything past [`MAX_OPTIONS_LEN`] is dropped.
    pub fn from_bytes(raw: &[u8]) -> TcpOptions {
        let len = raw.len().min(MAX_OPTIONS_LEN);
        let mut bytes = [0; MAX_OPTIONS_LEN];
        bytes[..len].copy_from_slice(&raw[..len]);
        TcpOptions { bytes, len: len as u8 }
    }

    /// The raw option bytes, padding included.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Decodes the options in order. A malformed option ends the walk with
    /// an `Err` naming its offset within the option bytes.
    pub fn iter(&self) -> OptionIter<'_> {
        OptionIter { rest: self.as_bytes(), offset: 0 }
    }

    /// The MSS option's value, if present and well formed.
    pub fn mss(&self) -> Option<u16> {
        self.iter().find_map(|o| match o {
            Ok(TcpOption::Mss(v)) => Some(v),
            _ => None,
        })
    }

    /// The window scale option's shift, if present and well formed.
    pub fn window_scale(&self) -> Option<u8> {
        self.iter().find_map(|o| match o {
            Ok(TcpOption::WindowScale(v)) => Some(v),
            _ => None,
        })
    }

    /// The timestamp option's (TSval, TSecr), if present and well formed.
    pub fn timestamp(&self) -> Option<(u32, u32)> {
        self.iter().find_map(|o| match o {
            Ok(TcpOption::Timestamp { val, ecr }) => Some((val, ecr)),
            _ => None,
        })
    }
}

impl fmt::Debug for TcpOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A malformed option: its kind and offset within the option bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadOption {
    pub kind: u8,
    pub offset: usize,
}

/// Iterator over [`TcpOptions`]; see [`TcpOptions::iter`].
pub struct OptionIter<'a> {
    rest: &'a [u8],
    offset: usize,
}

impl<'a> Iterator for OptionIter<'a> {
    type Item = Result<TcpOption<'a>, BadOption>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&kind, after) = self.rest.split_first()?;
        let start = self.offset;
        if kind == kind::EOL || kind == kind::NOP {
            self.rest = after;
            self.offset += 1;
            return Some(Ok(if kind == kind::EOL { TcpOption::Eol } else { TcpOption::Nop }));
        }
        let bad = BadOption { kind, offset: start };
        let len = match after.first() {
            Some(&len) if len >= 2 && usize::from(len) <= self.rest.len() => usize::from(len),
            _ => {
                self.rest = &[];
                return Some(Err(bad));
            }
        };
        let data = &self.rest[2..len];
        self.rest = &self.rest[len..];
        self.offset += len;
        Some(Ok(decode(kind, data)))
    }
}

fn decode(kind: u8, data: &[u8]) -> TcpOption<'_> {
    match (kind, data.len()) {
        (kind::MSS, 2) => TcpOption::Mss(u16::from_be_bytes([data[0], data[1]])),
        (kind::WINDOW_SCALE, 1) => TcpOption::WindowScale(data[0]),
        (kind::SACK_PERMITTED, 0) => TcpOption::SackPermitted,
        (kind::TIMESTAMP, 8) => TcpOption::Timestamp {
            val: u32::from_be_bytes([data[0], data[1], data[2], data[3]]),
            ecr: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
        },
        _ => TcpOption::Other { kind, data },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_round_trip_in_order() {
        let opts = [
            TcpOption::WindowScale(10),
            TcpOption::Nop,
            TcpOption::Mss(1460),
            TcpOption::Timestamp { val: 0xffff_ffff, ecr: 0 },
            TcpOption::SackPermitted,
            TcpOption::Other { kind: 30, data: &[1, 2] },
            TcpOption::Eol,
        ];
        let mut wire = Vec::new();
        opts.iter().for_each(|o| o.write(&mut wire));
        assert_eq!(wire.len(), opts.iter().map(TcpOption::wire_len).sum::<usize>());
        let parsed = TcpOptions::from_bytes(&wire);
        let back: Vec<_> = parsed.iter().map(Result::unwrap).collect();
        assert_eq!(back, opts);
        assert_eq!(parsed.mss(), Some(1460));
        assert_eq!(parsed.window_scale(), Some(10));
        assert_eq!(parsed.timestamp(), Some((0xffff_ffff, 0)));
    }

    #[test]
    fn impossible_lengths_are_reported_not_followed() {
        // MSS claiming 0 bytes, then a timestamp claiming more than is left.
        let zero = TcpOptions::from_bytes(&[1, 2, 0, 5, 6]);
        let items: Vec<_> = zero.iter().collect();
        assert_eq!(items, vec![Ok(TcpOption::Nop), Err(BadOption { kind: 2, offset: 1 })]);
        let long = TcpOptions::from_bytes(&[8, 10, 0, 0]);
        assert_eq!(long.iter().next(), Some(Err(BadOption { kind: 8, offset: 0 })));
    }

    #[test]
    fn flags_print_like_tcpdump() {
        assert_eq!(format!("{:?}", TcpFlags::SYN | TcpFlags::ACK), "AS");
        assert_eq!(format!("{:?}", TcpFlags::CWR | TcpFlags::ECE | TcpFlags::SYN), "CES");
        assert_eq!(format!("{:?}", TcpFlags::NONE), ".");
    }
}
