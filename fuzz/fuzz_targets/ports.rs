//! `-p` port specifications on any text, with the built-in service names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scry_probe::ports::PortList;
use scry_probe::services::{Protocol, Services};
use std::sync::OnceLock;

fn services() -> &'static Services {
    static SERVICES: OnceLock<Services> = OnceLock::new();
    SERVICES.get_or_init(Services::builtin)
}

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = std::str::from_utf8(data) else { return };
    let Ok(list) = PortList::parse(spec, services()) else { return };
    for protocol in [Protocol::Tcp, Protocol::Udp] {
        let ports = list.get(protocol);
        assert!(ports.windows(2).all(|w| w[0] < w[1]), "{protocol} ports of {spec:?} not sorted and unique");
    }
});
