//! Network interfaces of the current network namespace.

use crate::Error;
use scry_packet::Mac;
use std::net::IpAddr;

/// An interface: name, index, hardware address and addresses with prefixes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub index: u32,
    /// `None` for interfaces without an Ethernet address.
    pub mac: Option<Mac>,
    pub addrs: Vec<(IpAddr, u8)>,
    pub is_loopback: bool,
    pub is_up: bool,
}

impl Interface {
    /// Every interface in this thread's network namespace.
    pub fn all() -> Vec<Interface> {
        pnet_datalink::interfaces()
            .into_iter()
            .map(|i| Interface {
                index: i.index,
                mac: i.mac.map(|m| Mac(m.octets())),
                addrs: i.ips.iter().map(|n| (n.ip(), n.prefix())).collect(),
                is_loopback: i.is_loopback(),
                is_up: i.is_up(),
                name: i.name,
            })
            .collect()
    }

    /// The interface called `name`.
    ///
    /// # Errors
    /// [`Error::NoSuchInterface`] when there is none.
    pub fn by_name(name: &str) -> Result<Interface, Error> {
        Interface::all()
            .into_iter()
            .find(|i| i.name == name)
            .ok_or_else(|| Error::NoSuchInterface(name.into()))
    }
}
