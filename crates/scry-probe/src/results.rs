//! Results so far: one entry per (host, port) that answered.
//!
//! Memory grows with answers, never with probes sent: ports that never
//! answer are not stored, and are counted as filtered per host at the end.

use crate::state::{PortState, Reason};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

/// What one port answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortResult {
    pub state: PortState,
    pub reason: Reason,
    /// TTL (or hop limit) of the reply.
    pub ttl: u8,
}

/// Everything a host answered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostResult {
    pub ports: BTreeMap<u16, PortResult>,
}

/// How an answer changed the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// A port's first answer.
    New,
    /// A better answer replaced an ICMP-filtered one (a TCP reply outranks it).
    Upgraded,
    /// The port already had this or a better answer.
    Duplicate,
}

/// The table of answers, keyed by host.
#[derive(Clone, Debug, Default)]
pub struct Results {
    hosts: HashMap<IpAddr, HostResult>,
    answered: u64,
}

impl Results {
    /// Records an answer and says whether it was new.
    pub fn record(&mut self, host: IpAddr, port: u16, result: PortResult) -> Recorded {
        let entry = self.hosts.entry(host).or_default();
        match entry.ports.get_mut(&port) {
            None => {
                entry.ports.insert(port, result);
                self.answered += 1;
                Recorded::New
            }
            Some(old) if old.state == PortState::Filtered && result.state != PortState::Filtered => {
                *old = result;
                Recorded::Upgraded
            }
            Some(_) => Recorded::Duplicate,
        }
    }

    /// True when `port` on `host` has answered.
    pub fn has(&self, host: IpAddr, port: u16) -> bool {
        self.hosts.get(&host).is_some_and(|h| h.ports.contains_key(&port))
    }

    /// The host's answers, if it answered at all.
    pub fn host(&self, host: IpAddr) -> Option<&HostResult> {
        self.hosts.get(&host)
    }

    /// Hosts that answered, in address order.
    pub fn hosts_sorted(&self) -> Vec<(IpAddr, &HostResult)> {
        let mut hosts: Vec<_> = self.hosts.iter().map(|(ip, h)| (*ip, h)).collect();
        hosts.sort_by_key(|(ip, _)| *ip);
        hosts
    }

    /// Every (host, port) pair that answered.
    pub fn pairs(&self) -> impl Iterator<Item = (IpAddr, u16)> + '_ {
        self.hosts.iter().flat_map(|(ip, h)| h.ports.keys().map(move |p| (*ip, *p)))
    }

    /// Number of (host, port) pairs that answered.
    pub fn answered(&self) -> u64 {
        self.answered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 18, 0, 10));

    fn answer(state: PortState, reason: Reason) -> PortResult {
        PortResult { state, reason, ttl: 64 }
    }

    #[test]
    fn duplicates_are_reported_once_and_tcp_outranks_icmp() {
        let mut r = Results::default();
        assert_eq!(r.record(HOST, 22, answer(PortState::Open, Reason::SynAck)), Recorded::New);
        assert_eq!(r.record(HOST, 22, answer(PortState::Open, Reason::SynAck)), Recorded::Duplicate);
        assert_eq!(r.record(HOST, 22, answer(PortState::Closed, Reason::Reset)), Recorded::Duplicate);
        assert_eq!(r.record(HOST, 25, answer(PortState::Filtered, Reason::Unreachable(13))), Recorded::New);
        assert_eq!(r.record(HOST, 25, answer(PortState::Closed, Reason::Reset)), Recorded::Upgraded);
        assert_eq!(r.host(HOST).unwrap().ports[&25].state, PortState::Closed);
        assert_eq!(r.answered(), 2);
        assert!(r.has(HOST, 22) && !r.has(HOST, 23));
    }
}
