//! The nmap-payloads parser on any text, then a lookup on every port it names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scry_probe::payloads::{echo_field, Payloads};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(payloads) = Payloads::parse(text, "fuzz-payloads") else { return };
    for port in [0, 7, 53, 111, 137, 161, 500, 65535] {
        for p in payloads.for_port(port) {
            assert!(p.data.len() <= payloads.max_len());
            if let Some(echo) = echo_field(port, &p.data) {
                assert!(
                    echo.offset + echo.width <= p.data.len(),
                    "echo field past the payload on port {port}"
                );
            }
        }
    }
});
