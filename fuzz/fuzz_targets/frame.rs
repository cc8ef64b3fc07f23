//! `parse_frame` on any bytes: the first byte picks the link type, the rest
//! is the frame. It must return a summary or an error, never panic; nor may
//! answering a parsed Neighbor Solicitation (`answer_solicitation`), which
//! a scan does for every solicitation it captures for its source address.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scry_packet::{answer_solicitation, parse_frame, LinkType, Mac, Transport};

const LINKS: [LinkType; 5] =
    [LinkType::Ethernet, LinkType::LinuxSll, LinkType::LinuxSll2, LinkType::RawIp, LinkType::Null];

fuzz_target!(|data: &[u8]| {
    let Some((&link, frame)) = data.split_first() else { return };
    let Ok(parsed) = parse_frame(LINKS[usize::from(link) % LINKS.len()], frame) else { return };
    if let Some(Transport::Icmp(icmp)) = parsed.ip().map(|ip| ip.transport) {
        if let Some(nd) = icmp.nd {
            let _ = answer_solicitation(&parsed, Mac([2, 0, 0xc6, 0x12, 0, 1]), &[nd.target]);
        }
    }
});
