//! One node of the lab (the scanner or a target): its namespace, its fixed
//! addresses, and ways to run code or commands inside it.
//!
//! The address plan is the same in every lab, since each lab lives in its
//! own namespaces: the scanner is host 1, target `i` is host `10 + i`, in
//! 198.18.0.0/24 and 2001:2::/64, with MAC `02:00:c6:12:00:<host>`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;
use std::time::Duration;

use crate::error::LabError;
use crate::icmp::{self, EchoReply};
use crate::netns::{self, Role};

/// The interface name of every node's link, inside its namespace.
pub const IFACE: &str = "eth0";
/// The lab's IPv4 prefix length (198.18.0.0/24).
pub const PREFIX_V4: u8 = 24;
/// The lab's IPv6 prefix length (2001:2::/64).
pub const PREFIX_V6: u8 = 64;
/// Host number of target 0; target `i` is host `FIRST_TARGET_HOST + i`.
pub(crate) const FIRST_TARGET_HOST: u8 = 10;
/// At most this many targets fit the /24 (hosts 10 to 254).
pub const MAX_TARGETS: usize = 255 - FIRST_TARGET_HOST as usize;

/// An Ethernet address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// The six bytes.
    pub fn octets(self) -> [u8; 6] {
        self.0
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// The host number of a role: 1 for the scanner, `10 + i` for target `i`
/// (0 for the hub, which has no address).
pub(crate) fn host_number(role: Role) -> u8 {
    match role {
        Role::Hub => 0,
        Role::Scanner => 1,
        Role::Target(i) => FIRST_TARGET_HOST.saturating_add(u8::try_from(i).unwrap_or(u8::MAX)),
    }
}

/// A node's IPv4 address: `198.18.0.<host>`.
pub fn ipv4_of(role: Role) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 0, host_number(role))
}

/// A node's IPv6 address: `2001:2::<host>` (host in hex, e.g. `2001:2::a`).
pub fn ipv6_of(role: Role) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0x2, 0, 0, 0, 0, 0, u16::from(host_number(role)))
}

/// A node's MAC: locally administered, `02:00:c6:12:00:<host>`.
pub fn mac_of(role: Role) -> MacAddr {
    MacAddr([0x02, 0x00, 0xc6, 0x12, 0x00, host_number(role)])
}

/// The MAC of the node's peer port on the hub's bridge: `02:00:c6:12:01:<host>`.
pub(crate) fn hub_port_mac_of(role: Role) -> MacAddr {
    MacAddr([0x02, 0x00, 0xc6, 0x12, 0x01, host_number(role)])
}

/// The scanner or a target: a namespace with one veth `eth0` on the lab link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    role: Role,
    ns: String,
}

impl Node {
    pub(crate) fn new(ns: String, role: Role) -> Self {
        Self { role, ns }
    }

    /// The node's role: scanner or target `i`.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Short label: `scan`, `t0`, `t1`...
    pub fn label(&self) -> String {
        self.role.label()
    }

    /// The network namespace name (as in `ip netns exec NAME`).
    pub fn ns(&self) -> &str {
        &self.ns
    }

    /// The node's IPv4 address.
    pub fn ipv4(&self) -> Ipv4Addr {
        ipv4_of(self.role)
    }

    /// The node's IPv6 address.
    pub fn ipv6(&self) -> Ipv6Addr {
        ipv6_of(self.role)
    }

    /// The MAC address of the node's `eth0`.
    pub fn mac(&self) -> MacAddr {
        mac_of(self.role)
    }

    /// The interface name inside the namespace (always `eth0`).
    pub fn iface(&self) -> &'static str {
        IFACE
    }

    /// Runs `f` on a new thread inside this node's network namespace and
    /// returns its result; sockets opened there (raw or not) belong to the
    /// namespace. A panic in `f` is resumed on the calling thread.
    ///
    /// ```no_run
    /// # let lab = scry_lab::Lab::builder().target(scry_lab::TargetSpec::new().tcp_listen(&[22])).build()?;
    /// let t0 = lab.targets()[0].ipv4();
    /// let open = lab.scanner().run(|| std::net::TcpStream::connect((t0, 22)).is_ok())?;
    /// # Ok::<(), scry_lab::LabError>(())
    /// ```
    ///
    /// # Errors
    /// The thread could not enter the namespace; `f` has then not run.
    pub fn run<F, R>(&self, f: F) -> Result<R, LabError>
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        netns::in_netns(&self.ns, f)
    }

    /// `program` wrapped in `ip netns exec <ns>`; add arguments and run it.
    pub fn command(&self, program: &str) -> Command {
        netns::exec_in(&self.ns, program)
    }

    /// Pings `dst` from this node (in-process ICMP/ICMPv6 echo, resent every
    /// 200 ms) and returns the first reply, or `None` after `timeout`.
    ///
    /// # Errors
    /// `dst` is outside the lab ranges, or raw sockets failed.
    pub fn ping(&self, dst: IpAddr, timeout: Duration) -> Result<Option<EchoReply>, LabError> {
        if !icmp::in_lab_range(dst) {
            return Err(LabError::OutsideLab(dst));
        }
        self.run(|| icmp::ping_all(&[dst], timeout))?
            .map(|mut replies| replies.pop().flatten())
            .map_err(|e| LabError::io(format!("ping {dst} from {}", self.ns), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_plan() {
        assert_eq!(ipv4_of(Role::Scanner), Ipv4Addr::new(198, 18, 0, 1));
        assert_eq!(ipv6_of(Role::Scanner), "2001:2::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(ipv4_of(Role::Target(0)), Ipv4Addr::new(198, 18, 0, 10));
        assert_eq!(ipv6_of(Role::Target(1)), "2001:2::b".parse::<Ipv6Addr>().unwrap());
        assert_eq!(ipv4_of(Role::Target(MAX_TARGETS - 1)), Ipv4Addr::new(198, 18, 0, 254));
    }

    #[test]
    fn macs_are_local_unicast_and_name_the_host() {
        assert_eq!(mac_of(Role::Target(2)).to_string(), "02:00:c6:12:00:0c");
        assert_eq!(mac_of(Role::Scanner).octets(), [0x02, 0, 0xc6, 0x12, 0, 1]);
        assert_eq!(hub_port_mac_of(Role::Scanner).to_string(), "02:00:c6:12:01:01");
        assert_eq!(mac_of(Role::Scanner).0[0] & 0b11, 0b10, "locally administered unicast");
    }
}
