//! Open ports carried over from a stopped run (its resume file's
//! `versions`): the resumed run versions them and reports them open beside
//! what its own walk finds, without probing them again. After a stop in the
//! version phase the port scan itself is done, and the resumed run reports
//! only the hosts with carried ports: the stopped run already reported the
//! rest.

use std::collections::BTreeMap;
use std::net::IpAddr;

use scry_probe::results::PortResult;
use scry_probe::services::Protocol;
use scry_probe::state::{PortState, Reason};

use crate::output::PortTable;

/// Carried ports by host.
#[derive(Debug, Default)]
pub struct Carried {
    by_host: BTreeMap<IpAddr, Vec<(Protocol, u16)>>,
    /// The port scan was finished before the stop: report carried hosts only.
    pub only: bool,
}

impl Carried {
    pub fn new(list: &[(IpAddr, Protocol, u16)], only: bool) -> Carried {
        let mut by_host: BTreeMap<IpAddr, Vec<(Protocol, u16)>> = BTreeMap::new();
        for &(ip, protocol, port) in list {
            by_host.entry(ip).or_default().push((protocol, port));
        }
        Carried { by_host, only }
    }

    /// `ip`'s carried ports, now handed over.
    pub fn take(&mut self, ip: IpAddr) -> Vec<(Protocol, u16)> {
        self.by_host.remove(&ip).unwrap_or_default()
    }

    /// The hosts not yet reported, with their carried ports.
    pub fn rest(&mut self) -> BTreeMap<IpAddr, Vec<(Protocol, u16)>> {
        std::mem::take(&mut self.by_host)
    }
}

/// A host's port tables with its carried ports added: TCP ones open
/// (syn-ack, as the stopped run found them), UDP ones open|filtered until a
/// version probe answers.
pub struct Tables {
    /// Protocol, answered ports, scanned ports, and what an unanswered port is.
    owned: Vec<(Protocol, BTreeMap<u16, PortResult>, Vec<u16>, PortState)>,
}

impl Tables {
    pub fn new(tables: &[PortTable<'_>], carried: &[(Protocol, u16)]) -> Tables {
        let mut owned: Vec<_> =
            tables.iter().map(|t| (t.protocol, t.ports.clone(), t.scanned.to_vec(), t.silent)).collect();
        for &(protocol, port) in carried {
            let at = match owned.iter().position(|t| t.0 == protocol) {
                Some(at) => at,
                None => {
                    let silent =
                        if protocol == Protocol::Udp { PortState::OpenFiltered } else { PortState::Filtered };
                    owned.push((protocol, BTreeMap::new(), Vec::new(), silent));
                    owned.len() - 1
                }
            };
            let (_, ports, scanned, _) = &mut owned[at];
            let result = match protocol {
                Protocol::Udp => {
                    PortResult { state: PortState::OpenFiltered, reason: Reason::NoResponse, ttl: 0 }
                }
                _ => PortResult { state: PortState::Open, reason: Reason::SynAck, ttl: 0 },
            };
            ports.entry(port).or_insert(result);
            if let Err(at) = scanned.binary_search(&port) {
                scanned.insert(at, port);
            }
        }
        // TCP first, as every report lists them.
        owned.sort_by_key(|t| t.0);
        Tables { owned }
    }

    pub fn tables(&self) -> Vec<PortTable<'_>> {
        self.owned
            .iter()
            .map(|(protocol, ports, scanned, silent)| PortTable {
                protocol: *protocol,
                ports,
                scanned,
                silent: *silent,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carried_ports_join_the_tables_open_and_in_order() {
        let answered =
            BTreeMap::from([(80, PortResult { state: PortState::Closed, reason: Reason::Reset, ttl: 64 })]);
        let scanned = [80, 8080];
        let udp_only = [PortTable::new(Protocol::Udp, &answered, &scanned)];
        let t = Tables::new(&udp_only, &[(Protocol::Tcp, 443), (Protocol::Tcp, 22), (Protocol::Udp, 161)]);
        let tables = t.tables();
        assert_eq!(tables.iter().map(|t| t.protocol).collect::<Vec<_>>(), [Protocol::Tcp, Protocol::Udp]);
        assert_eq!(tables[0].scanned, [22, 443]);
        assert_eq!(tables[0].ports[&22].state, PortState::Open);
        assert_eq!(tables[0].ports[&22].reason, Reason::SynAck);
        assert_eq!(tables[1].scanned, [80, 161, 8080]);
        assert_eq!(tables[1].ports[&161].state, PortState::OpenFiltered);
        assert_eq!(tables[1].ports[&80].state, PortState::Closed);
    }

    #[test]
    fn each_host_is_handed_its_ports_once() {
        let a: IpAddr = "198.18.0.10".parse().unwrap();
        let b: IpAddr = "198.18.0.11".parse().unwrap();
        let mut c =
            Carried::new(&[(a, Protocol::Tcp, 22), (b, Protocol::Tcp, 80), (a, Protocol::Udp, 53)], true);
        assert_eq!(c.take(a), [(Protocol::Tcp, 22), (Protocol::Udp, 53)]);
        assert_eq!(c.take(a), []);
        assert_eq!(c.rest().into_iter().collect::<Vec<_>>(), [(b, vec![(Protocol::Tcp, 80)])]);
        assert!(c.rest().is_empty());
    }
}
