//! `parse_frame` on any bytes: the first byte picks the link type, the rest
//! is the frame. It must return a summary or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scry_packet::{parse_frame, LinkType};

const LINKS: [LinkType; 5] =
    [LinkType::Ethernet, LinkType::LinuxSll, LinkType::LinuxSll2, LinkType::RawIp, LinkType::Null];

fuzz_target!(|data: &[u8]| {
    let Some((&link, frame)) = data.split_first() else { return };
    let _ = parse_frame(LINKS[usize::from(link) % LINKS.len()], frame);
});
