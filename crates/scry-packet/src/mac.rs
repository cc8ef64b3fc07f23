//! Ethernet MAC addresses: parsed from and printed as `aa:bb:cc:dd:ee:ff`.

use std::fmt;
use std::str::FromStr;

/// A 48-bit Ethernet address.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    pub const BROADCAST: Mac = Mac([0xff; 6]);
    pub const ZERO: Mac = Mac([0; 6]);
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A MAC address that did not parse, with the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad MAC address {0:?}: expected six hex octets like 02:00:c6:12:00:01")]
pub struct BadMac(pub String);

impl FromStr for Mac {
    type Err = BadMac;

    fn from_str(s: &str) -> Result<Mac, BadMac> {
        let bad = || BadMac(s.to_string());
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for octet in &mut out {
            let part = parts.next().ok_or_else(bad)?;
            if part.is_empty() || part.len() > 2 {
                return Err(bad());
            }
            *octet = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Mac(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let mac: Mac = "02:00:C6:12:00:0a".parse().unwrap();
        assert_eq!(mac.0, [2, 0, 0xc6, 0x12, 0, 10]);
        assert_eq!(mac.to_string(), "02:00:c6:12:00:0a");
        assert_eq!("02-00-c6-12-00-0a".parse::<Mac>(), Ok(mac));
    }

    #[test]
    fn rejects_with_the_text() {
        for bad in ["", "02:00:c6:12:00", "02:00:c6:12:00:0a:01", "0g:00:00:00:00:00", "002:0:0:0:0:0"] {
            assert_eq!(bad.parse::<Mac>(), Err(BadMac(bad.to_string())), "{bad}");
        }
    }
}
