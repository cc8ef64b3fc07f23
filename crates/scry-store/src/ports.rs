//! Text forms stored in the database: port lists as nmap writes them
//! (`1-21,23,80`), and nmap's words for states and protocols read back.

use scry_probe::services::Protocol;
use scry_probe::state::PortState;

/// Ascending ports as a compact list: `1-3,5,7-8`.
pub fn ranges(ports: &[u16]) -> String {
    let mut runs: Vec<(u16, u16)> = Vec::new();
    for &p in ports {
        match runs.last_mut() {
            Some((_, last)) if u32::from(*last) + 1 == u32::from(p) => *last = p,
            _ => runs.push((p, p)),
        }
    }
    let text: Vec<String> =
        runs.iter().map(|&(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") }).collect();
    text.join(",")
}

/// The ports of a list written by [`ranges`]; `None` names nothing (the
/// caller reports the bad text).
pub fn parse_ranges(text: &str) -> Option<Vec<u16>> {
    let mut out = Vec::new();
    if text.is_empty() {
        return Some(out);
    }
    for piece in text.split(',') {
        let (a, b) = match piece.split_once('-') {
            Some((a, b)) => (a.parse::<u16>().ok()?, b.parse::<u16>().ok()?),
            None => {
                let p = piece.parse::<u16>().ok()?;
                (p, p)
            }
        };
        if a > b {
            return None;
        }
        out.extend(a..=b);
    }
    Some(out)
}

const STATES: [PortState; 6] = [
    PortState::Open,
    PortState::Closed,
    PortState::Filtered,
    PortState::Unfiltered,
    PortState::OpenFiltered,
    PortState::ClosedFiltered,
];

/// The state nmap names `word` (`open`, `open|filtered`, ...).
pub fn parse_state(word: &str) -> Option<PortState> {
    STATES.into_iter().find(|s| s.as_str() == word)
}

/// The protocol nmap names `word` (`tcp`, `udp`, `sctp`).
pub fn parse_protocol(word: &str) -> Option<Protocol> {
    [Protocol::Tcp, Protocol::Udp, Protocol::Sctp].into_iter().find(|p| p.as_str() == word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_lists_round_trip() {
        let ports = [1, 2, 3, 5, 7, 8, 65534, 65535];
        assert_eq!(ranges(&ports), "1-3,5,7-8,65534-65535");
        assert_eq!(parse_ranges("1-3,5,7-8,65534-65535").unwrap(), ports);
        assert_eq!(ranges(&[]), "");
        assert_eq!(parse_ranges("").unwrap(), Vec::<u16>::new());
        assert_eq!(parse_ranges("9-3"), None);
        assert_eq!(parse_ranges("80,x"), None);
    }

    #[test]
    fn nmap_words_read_back() {
        assert_eq!(parse_state("open|filtered"), Some(PortState::OpenFiltered));
        assert_eq!(parse_state("opened"), None);
        assert_eq!(parse_protocol("udp"), Some(Protocol::Udp));
        assert_eq!(parse_protocol("UDP"), None);
    }
}
