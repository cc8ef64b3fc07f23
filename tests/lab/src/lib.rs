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
//!         .target(TargetSpec::new().personality(Personality::windows_like()).drop_all()));
//!     let t0 = lab.targets()[0].ipv4();
//!     let ok = lab.scanner().run(|| std::net::TcpStream::connect((t0, 22)).is_ok()).unwrap();
//!     assert!(ok);
//! }
//! ```
//!
//! Building needs root (CAP_NET_ADMIN and permission to mount under
//! `/run/netns`) and the `ip` and `nft` commands; without privilege `build`
//! returns [`LabError::NotRoot`] and [`lab_or_skip!`] skips the test.

#![deny(unsafe_op_in_unsafe_fn)]

mod error;
mod icmp;
mod listen;
mod netns;
mod node;
mod offload;
mod signals;
mod skip;
mod sys;
mod table;
mod target;

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

pub use error::LabError;
pub use icmp::{in_lab_range, EchoReply};
pub use netns::{list_labs, parse_ns_name, sweep_all, sweep_stale, LabId, Role, NETNS_DIR};
pub use node::{ipv4_of, ipv6_of, mac_of, MacAddr, Node, IFACE, MAX_TARGETS, PREFIX_V4, PREFIX_V6};
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
        if self.targets.len() > MAX_TARGETS {
            return Err(LabError::InvalidSpec(format!(
                "{} targets, at most {MAX_TARGETS} fit",
                self.targets.len()
            )));
        }
        for (i, spec) in self.targets.iter().enumerate() {
            spec.validate(&Role::Target(i).label())?;
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

    /// All targets, in the order they were added.
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

    /// Every namespace of the lab: hub, scanner, then targets.
    pub fn namespaces(&self) -> Vec<String> {
        let nodes = std::iter::once(&self.scanner).chain(&self.targets).map(|n| n.ns().to_owned());
        std::iter::once(self.hub.clone()).chain(nodes).collect()
    }

    fn nodes(&self) -> impl Iterator<Item = &Node> {
        std::iter::once(&self.scanner).chain(&self.targets)
    }

    fn create_namespaces(&self) -> Result<(), LabError> {
        let _lock = netns::global_lock()?;
        let script: String = self.namespaces().iter().map(|n| format!("netns add {n}\n")).collect();
        netns::run(netns::ip(None, ["-batch", "-"]), Some(&script))
    }

    /// Quietens IPv6 (no DAD, no router solicitations; none at all in the
    /// hub), builds the bridge and one veth per node, then addresses nodes.
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

        let mut hub_script =
            String::from("link set lo up\nlink add br0 type bridge mcast_snooping 0\nlink set br0 up\n");
        for node in self.nodes() {
            let port = node.label();
            hub_script += &format!(
                "link add {port} address {} type veth peer name {IFACE} address {} netns {}\n\
                 link set {port} master br0\nlink set {port} up\n",
                node::hub_port_mac_of(node.role()),
                node.mac(),
                node.ns(),
            );
        }
        netns::run(netns::ip(Some(&self.hub), ["-batch", "-"]), Some(&hub_script))?;

        let node_cmds = self
            .nodes()
            .map(|node| {
                let script = format!(
                    "link set lo up\naddr add {}/{PREFIX_V4} dev {IFACE}\n\
                     addr add {}/{PREFIX_V6} dev {IFACE} nodad\nlink set {IFACE} up\n",
                    node.ipv4(),
                    node.ipv6(),
                );
                (netns::ip(Some(node.ns()), ["-batch", "-"]), Some(script))
            })
            .collect();
        netns::run_all(node_cmds)
    }

    /// Waits until the scanner gets an echo reply from every target over
    /// IPv4 and IPv6 (this also fills the neighbour caches).
    fn wait_ready(&self) -> Result<(), LabError> {
        let dsts: Vec<IpAddr> =
            self.targets.iter().flat_map(|t| [IpAddr::V4(t.ipv4()), IpAddr::V6(t.ipv6())]).collect();
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

    /// Applies each target's sysctls, firewall and listeners.
    fn configure_targets(&mut self) -> Result<(), LabError> {
        let sockets: usize = self.specs.iter().map(|s| 2 * (s.tcp_ports().len() + s.udp_ports().len())).sum();
        if sockets > FEW_SOCKETS {
            sys::raise_nofile(sockets as u64 + 1024).map_err(|e| LabError::io("raise RLIMIT_NOFILE", e))?;
        }
        let mut nft_cmds = Vec::new();
        for (node, spec) in self.targets.iter().zip(&self.specs) {
            if let Some(rules) = spec.nft_ruleset() {
                let mut cmd = node.command("nft");
                cmd.args(["-f", "-"]);
                nft_cmds.push((cmd, Some(rules)));
            }
        }
        netns::run_all(nft_cmds)?;
        for (node, spec) in self.targets.iter().zip(&self.specs) {
            let ns = node.ns();
            let sockets = node.run(|| {
                for (key, value) in spec.get_personality().sysctls() {
                    netns::write_sysctl(ns, &key, &value)?;
                }
                listen::open(ns, spec.tcp_ports(), spec.udp_ports())
            })??;
            if !sockets.is_empty() {
                self.services.push(listen::serve(ns, sockets)?);
            }
        }
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
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Lab {
    /// A table of nodes: namespace, addresses, MAC, ports, personality and firewall.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rows = vec![table::Row::node(&self.scanner, None)];
        rows.extend(self.targets.iter().zip(&self.specs).map(|(n, s)| table::Row::node(n, Some(s))));
        write!(f, "{}", table::render(&rows))
    }
}
