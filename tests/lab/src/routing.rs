//! The routed part of a lab: a router namespace with `eth0` on the
//! scanner's link and `eth1` on a second bridge, the far link, where routed
//! targets live. Forwarding is on in the router's namespace only, and each
//! side has one specific route to the other side via the router, never a
//! default route. Pure text generation; `lib.rs` runs it.

use crate::netns::Role;
use crate::node::{self, Link, FAR, IFACE, NEAR, PREFIX_V4, PREFIX_V6, ROUTER_FAR_IFACE};

/// The bridge in the hub namespace for the scanner's link.
pub(crate) const NEAR_BRIDGE: &str = "br0";
/// The bridge in the hub namespace for the far link.
pub(crate) const FAR_BRIDGE: &str = "br1";
/// The hub-side name of the router's far veth.
const ROUTER_FAR_PORT: &str = "rtf";
/// The sysctls that make the router forward, written in its namespace only.
pub(crate) const FORWARDING: [(&str, &str); 2] =
    [("net.ipv4.ip_forward", "1"), ("net.ipv6.conf.all.forwarding", "1")];

/// The bridge a role's `eth0` hangs off.
pub(crate) fn bridge_of(role: Role) -> &'static str {
    if node::placement(role).0 == FAR {
        FAR_BRIDGE
    } else {
        NEAR_BRIDGE
    }
}

/// `ip -batch` lines for the hub: the far bridge and the router's far veth,
/// whose inner end `eth1` goes to namespace `router_ns`.
pub(crate) fn hub_far_link(router_ns: &str) -> String {
    format!(
        "link add {FAR_BRIDGE} type bridge mcast_snooping 0\nlink set {FAR_BRIDGE} up\n\
         link add {ROUTER_FAR_PORT} address {} type veth peer name {ROUTER_FAR_IFACE} address {} netns {router_ns}\n\
         link set {ROUTER_FAR_PORT} master {FAR_BRIDGE}\nlink set {ROUTER_FAR_PORT} up\n",
        node::router_far_port_mac(),
        node::router_far_mac(),
    )
}

/// `ip -batch` lines for a node of a lab with a router, run after its
/// `eth0` is addressed: the router's far leg, or the one route to the
/// other link via the router for the scanner and routed targets. Direct
/// targets get nothing: they never talk to the far link.
pub(crate) fn node_lines(role: Role) -> String {
    match role {
        Role::Router => format!(
            "addr add {}/{PREFIX_V4} dev {ROUTER_FAR_IFACE}\n\
             addr add {}/{PREFIX_V6} dev {ROUTER_FAR_IFACE} nodad\nlink set {ROUTER_FAR_IFACE} up\n",
            node::router_far_ipv4(),
            node::router_far_ipv6(),
        ),
        Role::Scanner => route_via(FAR, NEAR),
        Role::Routed(_) => route_via(NEAR, FAR),
        Role::Hub | Role::Target(_) => String::new(),
    }
}

/// Routes to `dst`'s subnets via the router's address on link `on`.
fn route_via(dst: Link, on: Link) -> String {
    let gw = on.router_host();
    format!(
        "route add {} via {} dev {IFACE}\nroute add {} via {} dev {IFACE}\n",
        dst.subnet_v4(),
        on.ipv4(gw),
        dst.subnet_v6(),
        on.ipv6(gw),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanner_and_routed_targets_route_to_each_other_via_the_router() {
        assert_eq!(
            node_lines(Role::Scanner),
            "route add 198.19.0.0/24 via 198.18.0.2 dev eth0\nroute add 2001:2:0:1::/64 via 2001:2::2 dev eth0\n"
        );
        assert_eq!(
            node_lines(Role::Routed(4)),
            "route add 198.18.0.0/24 via 198.19.0.1 dev eth0\nroute add 2001:2::/64 via 2001:2:0:1::1 dev eth0\n"
        );
        assert_eq!(node_lines(Role::Target(0)), "");
        assert!(!node_lines(Role::Scanner).contains("default"));
    }

    #[test]
    fn the_router_has_a_far_leg() {
        assert_eq!(
            node_lines(Role::Router),
            "addr add 198.19.0.1/24 dev eth1\naddr add 2001:2:0:1::1/64 dev eth1 nodad\nlink set eth1 up\n"
        );
        let hub = hub_far_link("scry1x0rt");
        assert!(hub.contains("peer name eth1 address 02:00:c6:13:00:01 netns scry1x0rt\n"), "{hub}");
        assert!(hub.contains("link set rtf master br1\n"), "{hub}");
        assert_eq!((bridge_of(Role::Routed(0)), bridge_of(Role::Router)), ("br1", "br0"));
    }
}
