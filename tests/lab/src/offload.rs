//! NIC offloads (GRO, GSO, TSO, checksum offload) on every lab interface.
//!
//! With offloads on, veth hands the capture side partial checksums and
//! coalesced segments; a libpcap capture with default settings has been seen
//! to lose replies that way. Tests run scans with offloads both on and off.

use crate::{netns, Lab, LabError};

/// The ethtool features switched together.
const FEATURES: &[&str] = &["gro", "gso", "tso", "tx", "rx"];

impl Lab {
    /// Turns GRO, GSO, TSO and checksum offload on or off on every node's
    /// `eth0` and every bridge port in the hub.
    ///
    /// # Errors
    /// [`LabError::Command`] or [`LabError::Spawn`] when `ethtool` fails or is missing.
    pub fn set_offloads(&self, on: bool) -> Result<(), LabError> {
        let state = if on { "on" } else { "off" };
        let mut cmds = Vec::new();
        for node in std::iter::once(self.scanner()).chain(self.targets()) {
            cmds.push(self.ethtool(node.ns(), node.iface(), state));
            cmds.push(self.ethtool(self.hub_ns(), &node.label(), state));
        }
        netns::run_all(cmds.into_iter().map(|c| (c, None)).collect())
    }

    fn ethtool(&self, ns: &str, iface: &str, state: &str) -> std::process::Command {
        let mut cmd = netns::exec_in(ns, "ethtool");
        cmd.args(["-K", iface]);
        for feature in FEATURES {
            cmd.args([feature, state]);
        }
        cmd
    }
}
