//! One node of the lab (the scanner or a target): its namespace, its fixed
//! addresses, and ways to run code or commands inside it.
//!
//! The address plan is the same in every lab, since each lab lives in its
//! own namespaces. On the scanner's link (198.18.0.0/24, 2001:2::/64) the
//! scanner is host 1, the router host 2 and target `i` host `10 + i`; on
//! the far link behind the router (198.19.0.0/24, 2001:2:0:1::/64) the
//! router is host 1 and routed target `j` host `10 + j`. MACs are
//! `02:00:c6:<0x12 + link>:00:<host>`.

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
/// At most this many targets fit the /24 (hosts 10 to 254); as many routed ones.
pub const MAX_TARGETS: usize = 255 - FIRST_TARGET_HOST as usize;
/// The router's interface on the far link, inside its namespace.
pub const ROUTER_FAR_IFACE: &str = "eth1";
/// The scanner's link, where the scanner, direct targets and the router's `eth0` are.
pub(crate) const NEAR: Link = Link(0);
/// The link behind the router, where routed targets and the router's `eth1` are.
pub(crate) const FAR: Link = Link(1);
/// The router's host number on the scanner's link.
const ROUTER_HOST: u8 = 2;
/// The router's host number on the far link.
const ROUTER_FAR_HOST: u8 = 1;

/// One of the lab's two links (bridges): its number picks the third octet
/// of the MACs, the second of the IPv4 subnet and the fourth group of the
/// IPv6 prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Link(u8);

impl Link {
    /// Host `host`'s IPv4 address on this link: `198.(18 + link).0.<host>`.
    pub(crate) fn ipv4(self, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(198, 18 + self.0, 0, host)
    }

    /// Host `host`'s IPv6 address on this link: `2001:2:0:<link>::<host>`.
    pub(crate) fn ipv6(self, host: u8) -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 0x2, 0, u16::from(self.0), 0, 0, 0, u16::from(host))
    }

    /// The link's IPv4 subnet, e.g. `198.19.0.0/24`.
    pub(crate) fn subnet_v4(self) -> String {
        format!("{}/{PREFIX_V4}", self.ipv4(0))
    }

    /// The link's IPv6 prefix, e.g. `2001:2:0:1::/64`.
    pub(crate) fn subnet_v6(self) -> String {
        format!("{}/{PREFIX_V6}", self.ipv6(0))
    }

    /// Host `host`'s MAC on this link; `port` picks the bridge-side veth end.
    fn mac(self, host: u8, port: bool) -> MacAddr {
        MacAddr([0x02, 0x00, 0xc6, 0x12 + self.0, u8::from(port), host])
    }

    /// The router's address on this link: where the other link is routed via.
    pub(crate) fn router_host(self) -> u8 {
        if self == NEAR {
            ROUTER_HOST
        } else {
            ROUTER_FAR_HOST
        }
    }
}

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

/// The link of a role's `eth0` and its host number there: the scanner is
/// 1, the router 2, target `i` is `10 + i` on the scanner's link; routed
/// target `j` is `10 + j` on the far link (0 for the hub, which has no
/// address).
pub(crate) fn placement(role: Role) -> (Link, u8) {
    let numbered = |i: usize| FIRST_TARGET_HOST.saturating_add(u8::try_from(i).unwrap_or(u8::MAX));
    match role {
        Role::Hub => (NEAR, 0),
        Role::Scanner => (NEAR, 1),
        Role::Router => (NEAR, ROUTER_HOST),
        Role::Target(i) => (NEAR, numbered(i)),
        Role::Routed(j) => (FAR, numbered(j)),
    }
}

/// A node's IPv4 address: `198.18.0.<host>`, routed targets `198.19.0.<host>`.
pub fn ipv4_of(role: Role) -> Ipv4Addr {
    let (link, host) = placement(role);
    link.ipv4(host)
}

/// A node's IPv6 address: `2001:2::<host>` (host in hex, e.g. `2001:2::a`),
/// routed targets `2001:2:0:1::<host>`.
pub fn ipv6_of(role: Role) -> Ipv6Addr {
    let (link, host) = placement(role);
    link.ipv6(host)
}

/// A node's MAC: locally administered, `02:00:c6:12:00:<host>`, routed
/// targets `02:00:c6:13:00:<host>`.
pub fn mac_of(role: Role) -> MacAddr {
    let (link, host) = placement(role);
    link.mac(host, false)
}

/// The MAC of the node's peer port on the hub's bridge: `02:00:c6:12:01:<host>`.
pub(crate) fn hub_port_mac_of(role: Role) -> MacAddr {
    let (link, host) = placement(role);
    link.mac(host, true)
}

/// The router's IPv4 address on the far link, routed targets' gateway: 198.19.0.1.
pub fn router_far_ipv4() -> Ipv4Addr {
    FAR.ipv4(ROUTER_FAR_HOST)
}

/// The router's IPv6 address on the far link: 2001:2:0:1::1.
pub fn router_far_ipv6() -> Ipv6Addr {
    FAR.ipv6(ROUTER_FAR_HOST)
}

/// The MAC of the router's far interface (`eth1`): 02:00:c6:13:00:01.
pub fn router_far_mac() -> MacAddr {
    FAR.mac(ROUTER_FAR_HOST, false)
}

/// The MAC of the router's far interface's peer port on the hub's far bridge.
pub(crate) fn router_far_port_mac() -> MacAddr {
    FAR.mac(ROUTER_FAR_HOST, true)
}

/// The scanner, a target or the router: a namespace with a veth `eth0` on
/// its lab link (the router has a second one, `eth1`, on the far link).
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

    /// Short label: `scan`, `t0`, `t1`..., `rt`, `r0`...
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
    fn routed_address_plan() {
        assert_eq!(ipv4_of(Role::Router), Ipv4Addr::new(198, 18, 0, 2));
        assert_eq!(ipv6_of(Role::Router), "2001:2::2".parse::<Ipv6Addr>().unwrap());
        assert_eq!(router_far_ipv4(), Ipv4Addr::new(198, 19, 0, 1));
        assert_eq!(router_far_ipv6(), "2001:2:0:1::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(ipv4_of(Role::Routed(0)), Ipv4Addr::new(198, 19, 0, 10));
        assert_eq!(ipv6_of(Role::Routed(2)), "2001:2:0:1::c".parse::<Ipv6Addr>().unwrap());
        assert_eq!(mac_of(Role::Routed(1)).to_string(), "02:00:c6:13:00:0b");
        assert_eq!(hub_port_mac_of(Role::Routed(1)).to_string(), "02:00:c6:13:01:0b");
        assert_eq!(router_far_mac().to_string(), "02:00:c6:13:00:01");
        assert_eq!(router_far_port_mac().to_string(), "02:00:c6:13:01:01");
        assert_eq!((FAR.subnet_v4(), FAR.subnet_v6()), ("198.19.0.0/24".into(), "2001:2:0:1::/64".into()));
        assert_eq!((NEAR.subnet_v4(), NEAR.subnet_v6()), ("198.18.0.0/24".into(), "2001:2::/64".into()));
    }

    #[test]
    fn macs_are_local_unicast_and_name_the_host() {
        assert_eq!(mac_of(Role::Target(2)).to_string(), "02:00:c6:12:00:0c");
        assert_eq!(mac_of(Role::Scanner).octets(), [0x02, 0, 0xc6, 0x12, 0, 1]);
        assert_eq!(hub_port_mac_of(Role::Scanner).to_string(), "02:00:c6:12:01:01");
        assert_eq!(mac_of(Role::Scanner).0[0] & 0b11, 0b10, "locally administered unicast");
    }
}
