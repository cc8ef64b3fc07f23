//! `scry-lab`: throwaway network-namespace labs with real Linux stacks for
//! scry's integration tests, plus the `scry-lab` binary for humans.
//!
//! A [`Lab`] is a scanner node and N target nodes, each in its own network
//! namespace with one veth `eth0`, whose peers hang off a bridge in a
//! separate hub namespace. Nothing is created in the root namespace, no
//! namespace has a default route, and every address is in 198.18.0.0/15 or
//! 2001:2::/48: the scanner is 198.18.0.1 / 2001:2::1, target `i` is
//! 198.18.0.(10+i) / 2001:2::(10+i), MACs are `02:00:c6:12:00:<host>`.
//! Targets get a [`Personality`] (per-namespace sysctls), TCP/UDP listeners
//! and an optional nftables firewall, all described by a [`TargetSpec`].
//!
//! [`LabBuilder::routed_target`] adds targets one hop away: a router
//! namespace (`eth0` 198.18.0.2 / 2001:2::2 on the scanner's bridge,
//! `eth1` 198.19.0.1 / 2001:2:0:1::1 on a second bridge) forwards between
//! the scanner's link and a far link where routed target `j` is
//! 198.19.0.(10+j) / 2001:2:0:1::(10+j), MAC `02:00:c6:13:00:<host>`.
//! Forwarding is on in the router only; the scanner has a route to
//! 198.19.0.0/24 and 2001:2:0:1::/64 via the router, routed targets one to
//! 198.18.0.0/24 and 2001:2::/64, and still nothing has a default route.
//! Routed targets take the same [`TargetSpec`]s as direct ones, and their
//! answers reach the scanner with the TTL one lower.
//!
//! Namespaces are named `scry<pid>x<n><role>`, so labs never collide and
//! labs left behind by a dead process are swept by the next
//! [`LabBuilder::build`]. Dropping the [`Lab`] (also while unwinding from a
//! panic) stops its listeners and deletes its namespaces.
//!
//! ```no_run
//! use scry_lab::{lab_or_skip, Lab, Personality, TargetSpec};
//!
//! #[test]
//! fn open_port_accepts() {
//!     let lab = lab_or_skip!(Lab::builder()
//!         .target(TargetSpec::new().tcp_listen(&[22, 80]))
//!         .target(TargetSpec::new().personality(Personality::windows_like()).drop_all())
//!         .routed_target(TargetSpec::new().tcp_listen(&[443])));
//!     let t0 = lab.targets()[0].ipv4();
//!     let ok = lab.scanner().run(|| std::net::TcpStream::connect((t0, 22)).is_ok()).unwrap();
//!     assert!(ok);
//!     let r0 = lab.routed()[0].ipv4(); // 198.19.0.10, via the router
//!     let ok = lab.scanner().run(|| std::net::TcpStream::connect((r0, 443)).is_ok()).unwrap();
//!     assert!(ok);
//! }
//! ```
//!
//! Building needs root (CAP_NET_ADMIN and permission to mount under
//! `/run/netns`) and the `ip` and `nft` commands; without privilege `build`
//! returns [`LabError::NotRoot`] and [`lab_or_skip!`] skips the test.

#![deny(unsafe_op_in_unsafe_fn)]

mod daemon;
mod error;
mod icmp;
mod listen;
mod netns;
mod node;
mod offload;
mod routing;
mod signals;
mod skip;
mod sys;
mod table;
mod target;

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

pub use daemon::{Daemon, Service};
pub use error::LabError;
pub use icmp::{in_lab_range, EchoReply};
pub use netns::{list_labs, parse_ns_name, sweep_all, sweep_stale, LabId, Role, NETNS_DIR};
pub use node::{
    ipv4_of, ipv6_of, mac_of, router_far_ipv4, router_far_ipv6, router_far_mac, MacAddr, Node, IFACE,
    MAX_TARGETS, PREFIX_V4, PREFIX_V6, ROUTER_FAR_IFACE,
};
pub use signals::Termination;
pub use skip::require_lab;
pub use target::{Personality, Proto, RejectWith, TargetSpec};

/// How long `build` waits for every target to answer the scanner's ping.
const READY_TIMEOUT: Duration = Duration::from_secs(5);
/// Above this many listening sockets, `build` raises `RLIMIT_NOFILE`.
const FEW_SOCKETS: usize = 256;

/// Collects target specs; [`LabBuilder::build`] makes the lab.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct LabBuilder {
    targets: Vec<TargetSpec>,
    routed: Vec<TargetSpec>,
}

impl LabBuilder {
    /// Adds a target; the n-th call makes target `n - 1`.
    pub fn target(mut self, spec: TargetSpec) -> Self {
        self.targets.push(spec);
        self
    }

    /// Adds several targets in order.
    pub fn targets(mut self, specs: impl IntoIterator<Item = TargetSpec>) -> Self {
        self.targets.extend(specs);
        self
    }

    /// Adds a target behind the lab's router, on the far link; the n-th
    /// call makes routed target `n - 1`. The first call adds the router.
    pub fn routed_target(mut self, spec: TargetSpec) -> Self {
        self.routed.push(spec);
        self
    }

    /// Adds several routed targets in order.
    pub fn routed_targets(mut self, specs: impl IntoIterator<Item = TargetSpec>) -> Self {
        self.routed.extend(specs);
        self
    }

    /// Creates the namespaces, wires them up, waits until the scanner can
    /// ping every target, then applies personalities, firewalls and
    /// listeners. Stale labs of dead processes are swept first. Takes
    /// well under a second for a few targets.
    ///
    /// # Errors
    /// [`LabError::NotRoot`] without privilege; [`LabError::InvalidSpec`]
    /// for an impossible spec; otherwise the failing command or call.
    /// Whatever was created is deleted again before returning an error.
    pub fn build(self) -> Result<Lab, LabError> {
        let euid = sys::euid();
        if euid != 0 {
            return Err(LabError::NotRoot(format!("effective uid is {euid}, not 0")));
        }
        for (specs, kind) in [(&self.targets, "targets"), (&self.routed, "routed targets")] {
            if specs.len() > MAX_TARGETS {
                return Err(LabError::InvalidSpec(format!(
                    "{} {kind}, at most {MAX_TARGETS} fit",
                    specs.len()
                )));
            }
        }
        for (i, spec) in self.targets.iter().enumerate() {
            spec.validate(&Role::Target(i).label())?;
        }
        for (j, spec) in self.routed.iter().enumerate() {
            spec.validate(&Role::Routed(j).label())?;
        }
        sweep_stale()?;
        let id = LabId::next();
        let mut lab = Lab {
            id,
            hub: id.ns_name(Role::Hub),
            scanner: Node::new(id.ns_name(Role::Scanner), Role::Scanner),
            targets: (0..self.targets.len())
                .map(|i| Node::new(id.ns_name(Role::Target(i)), Role::Target(i)))
                .collect(),
            specs: self.targets,
            router: (!self.routed.is_empty()).then(|| Node::new(id.ns_name(Role::Router), Role::Router)),
            routed: (0..self.routed.len())
                .map(|j| Node::new(id.ns_name(Role::Routed(j)), Role::Routed(j)))
                .collect(),
            routed_specs: self.routed,
            services: Vec::new(),
        };
        // On any error `lab` drops here and deletes what exists.
        lab.create_namespaces()?;
        lab.wire()?;
        lab.wait_ready()?;
        lab.configure_targets()?;
        Ok(lab)
    }
}

/// A running lab. Dropping it stops the listeners and deletes every
/// namespace it created.
pub struct Lab {
    id: LabId,
    hub: String,
    scanner: Node,
    targets: Vec<Node>,
    specs: Vec<TargetSpec>,
    router: Option<Node>,
    routed: Vec<Node>,
    routed_specs: Vec<TargetSpec>,
    services: Vec<listen::Services>,
}

impl Lab {
    /// Starts describing a lab.
    pub fn builder() -> LabBuilder {
        LabBuilder::default()
    }

    /// The lab's identity (building pid and counter).
    pub fn id(&self) -> LabId {
        self.id
    }

    /// The prefix shared by all the lab's namespace names, e.g. `scry4242x0`.
    pub fn prefix(&self) -> String {
        self.id.prefix()
    }

    /// The hub namespace, which holds the bridge `br0`.
    pub fn hub_ns(&self) -> &str {
        &self.hub
    }

    /// The scanner node.
    pub fn scanner(&self) -> &Node {
        &self.scanner
    }

    /// All targets on the scanner's link, in the order they were added.
    pub fn targets(&self) -> &[Node] {
        &self.targets
    }

    /// Target `i`, if there is one.
    pub fn target(&self, i: usize) -> Option<&Node> {
        self.targets.get(i)
    }

    /// The spec target `i` was built from.
    pub fn spec(&self, i: usize) -> Option<&TargetSpec> {
        self.specs.get(i)
    }

    /// The router, when the lab has routed targets.
    pub fn router(&self) -> Option<&Node> {
        self.router.as_ref()
    }

    /// All routed targets (behind the router), in the order they were added.
    pub fn routed(&self) -> &[Node] {
        &self.routed
    }

    /// The spec routed target `j` was built from.
    pub fn routed_spec(&self, j: usize) -> Option<&TargetSpec> {
        self.routed_specs.get(j)
    }

    /// Every namespace of the lab: hub, scanner, targets, then the router
    /// and the routed targets.
    pub fn namespaces(&self) -> Vec<String> {
        let nodes = self.nodes().map(|n| n.ns().to_owned());
        std::iter::once(self.hub.clone()).chain(nodes).collect()
    }

    fn nodes(&self) -> impl Iterator<Item = &Node> {
        std::iter::once(&self.scanner).chain(&self.targets).chain(&self.router).chain(&self.routed)
    }

    /// Every target, direct then routed, with its spec.
    fn targets_with_specs(&self) -> impl Iterator<Item = (&Node, &TargetSpec)> {
        self.targets.iter().zip(&self.specs).chain(self.routed.iter().zip(&self.routed_specs))
    }

    fn create_namespaces(&self) -> Result<(), LabError> {
        let _lock = netns::global_lock()?;
        let script: String = self.namespaces().iter().map(|n| format!("netns add {n}\n")).collect();
        netns::run(netns::ip(None, ["-batch", "-"]), Some(&script))
    }

    /// Quietens IPv6 (no DAD, no router solicitations; none at all in the
    /// hub), builds the bridges and one veth per node (two for the router),
    /// addresses nodes, routes between the links and lets the router forward.
    fn wire(&self) -> Result<(), LabError> {
        let hub = self.hub.clone();
        netns::in_netns(&hub, || {
            ["all", "default"].iter().try_for_each(|dev| {
                netns::write_sysctl(&hub, &format!("net.ipv6.conf.{dev}.disable_ipv6"), "1")
            })
        })??;
        for node in self.nodes() {
            node.run(|| {
                for dev in ["all", "default"] {
                    netns::write_sysctl(node.ns(), &format!("net.ipv6.conf.{dev}.accept_dad"), "0")?;
                    netns::write_sysctl(
                        node.ns(),
                        &format!("net.ipv6.conf.{dev}.router_solicitations"),
                        "0",
                    )?;
                }
                Ok::<(), LabError>(())
            })??;
        }

        let mut hub_script = format!(
            "link set lo up\nlink add {0} type bridge mcast_snooping 0\nlink set {0} up\n",
            routing::NEAR_BRIDGE
        );
        if let Some(router) = &self.router {
            hub_script += &routing::hub_far_link(router.ns());
        }
        for node in self.nodes() {
            let port = node.label();
            hub_script += &format!(
                "link add {port} address {} type veth peer name {IFACE} address {} netns {}\n\
                 link set {port} master {}\nlink set {port} up\n",
                node::hub_port_mac_of(node.role()),
                node.mac(),
                node.ns(),
                routing::bridge_of(node.role()),
            );
        }
        netns::run(netns::ip(Some(&self.hub), ["-batch", "-"]), Some(&hub_script))?;

        if let Some(router) = &self.router {
            router.run(|| {
                routing::FORWARDING
                    .iter()
                    .try_for_each(|(key, value)| netns::write_sysctl(router.ns(), key, value))
            })??;
        }
        let node_cmds = self
            .nodes()
            .map(|node| {
                let mut script = format!(
                    "link set lo up\naddr add {}/{PREFIX_V4} dev {IFACE}\n\
                     addr add {}/{PREFIX_V6} dev {IFACE} nodad\nlink set {IFACE} up\n",
                    node.ipv4(),
                    node.ipv6(),
                );
                if self.router.is_some() {
                    script += &routing::node_lines(node.role());
                }
                (netns::ip(Some(node.ns()), ["-batch", "-"]), Some(script))
            })
            .collect();
        netns::run_all(node_cmds)
    }

    /// Waits until the scanner gets an echo reply from every target, direct
    /// or routed, over IPv4 and IPv6 (this also fills the neighbour caches).
    fn wait_ready(&self) -> Result<(), LabError> {
        let dsts: Vec<IpAddr> = self
            .targets_with_specs()
            .flat_map(|(t, _)| [IpAddr::V4(t.ipv4()), IpAddr::V6(t.ipv6())])
            .collect();
        if dsts.is_empty() {
            return Ok(());
        }
        let replies = self
            .scanner
            .run(|| icmp::ping_all(&dsts, READY_TIMEOUT))?
            .map_err(|e| LabError::io(format!("ping the targets from {}", self.scanner.ns()), e))?;
        let silent: Vec<String> =
            dsts.iter().zip(&replies).filter(|(_, r)| r.is_none()).map(|(d, _)| d.to_string()).collect();
        if silent.is_empty() {
            Ok(())
        } else {
            Err(LabError::NotReady(format!(
                "no echo reply from {} to {} within {READY_TIMEOUT:?}",
                silent.join(", "),
                self.scanner.ns()
            )))
        }
    }

    /// Applies each target's sysctls, firewall and listeners, routed ones too.
    fn configure_targets(&mut self) -> Result<(), LabError> {
        let sockets: usize =
            self.targets_with_specs().map(|(_, s)| 2 * (s.tcp_ports().len() + s.udp_ports().len())).sum();
        if sockets > FEW_SOCKETS {
            sys::raise_nofile(sockets as u64 + 1024).map_err(|e| LabError::io("raise RLIMIT_NOFILE", e))?;
        }
        let mut nft_cmds = Vec::new();
        for (node, spec) in self.targets_with_specs() {
            if let Some(rules) = spec.nft_ruleset() {
                let mut cmd = node.command("nft");
                cmd.args(["-f", "-"]);
                nft_cmds.push((cmd, Some(rules)));
            }
        }
        netns::run_all(nft_cmds)?;
        let mut services = Vec::new();
        for (node, spec) in self.targets_with_specs() {
            let ns = node.ns();
            let sockets = node.run(|| {
                for (key, value) in spec.get_personality().sysctls() {
                    netns::write_sysctl(ns, &key, &value)?;
                }
                listen::open(ns, spec.tcp_ports(), spec.udp_ports())
            })??;
            if !sockets.is_empty() {
                services.push(listen::serve(ns, sockets)?);
            }
        }
        self.services.extend(services);
        Ok(())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Close every socket first: an open socket keeps its namespace alive.
        self.services.clear();
        let existing: Vec<String> = self.namespaces().into_iter().filter(|n| netns::exists(n)).collect();
        // Nothing to report to in a destructor; a leftover is swept by the
        // next build once this process has exited.
        let _ = netns::delete(&existing);
    }
}

impl fmt::Debug for Lab {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lab")
            .field("id", &self.id)
            .field("hub", &self.hub)
            .field("scanner", &self.scanner)
            .field("targets", &self.targets)
            .field("specs", &self.specs)
            .field("router", &self.router)
            .field("routed", &self.routed)
            .field("routed_specs", &self.routed_specs)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Lab {
    /// A table of nodes: namespace, addresses, MAC, ports, personality and firewall.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rows = vec![table::Row::node(&self.scanner, None)];
        rows.extend(self.router.iter().map(|n| table::Row::node(n, None)));
        rows.extend(self.targets_with_specs().map(|(n, s)| table::Row::node(n, Some(s))));
        write!(f, "{}", table::render(&rows))
    }
}
