//! What a target node looks like: its stack's personality (sysctls), its
//! open ports, and its firewall (nftables). Everything here is pure data and
//! text generation; `lib.rs` applies it inside the target's namespace.

use crate::error::LabError;

/// Per-namespace kernel settings that change how a target's stack answers
/// probes. `Default` keeps the kernel's defaults: only `Some` fields are
/// written.
///
/// ```
/// use scry_lab::Personality;
/// let p = Personality { ttl: Some(128), tcp_timestamps: Some(false), ..Default::default() };
/// assert_eq!(p.ttl, Some(128));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Personality {
    /// Initial TTL / hop limit: `net.ipv4.ip_default_ttl` and the IPv6 `hop_limit`.
    pub ttl: Option<u8>,
    /// `net.ipv4.tcp_timestamps` (TCP over IPv6 too).
    pub tcp_timestamps: Option<bool>,
    /// `net.ipv4.tcp_window_scaling`.
    pub tcp_window_scaling: Option<bool>,
    /// `net.ipv4.tcp_sack`.
    pub tcp_sack: Option<bool>,
    /// `net.ipv4.tcp_ecn`: 0 off, 1 request and accept, 2 accept only (kernel default).
    pub tcp_ecn: Option<u8>,
    /// `net.ipv4.tcp_rmem`, "min default max" in bytes; sets the SYN-ACK window.
    pub tcp_rmem: Option<String>,
    /// `net.ipv4.tcp_wmem`, "min default max" in bytes.
    pub tcp_wmem: Option<String>,
    /// `net.ipv4.tcp_synack_retries`; 0 stops retransmitted SYN-ACKs cluttering captures.
    pub tcp_synack_retries: Option<u8>,
    /// `net.ipv4.ip_no_pmtu_disc`; `true` clears the DF bit on outgoing packets.
    pub ip_no_pmtu_disc: Option<bool>,
    /// `net.ipv4.icmp_ratelimit` and `net.ipv6.icmp.ratelimit` in ms; 0
    /// lets every closed UDP port answer, over either family.
    pub icmp_ratelimit: Option<u32>,
    /// `net.ipv4.icmp_echo_ignore_all` and `net.ipv6.icmp.echo_ignore_all`;
    /// `true` makes the target ignore pings of either family.
    pub icmp_echo_ignore_all: Option<bool>,
    /// Any other per-namespace sysctls, as (dotted key, value).
    pub extra: Vec<(String, String)>,
}

impl Personality {
    /// Looks roughly like a Windows stack: TTL 128, no timestamps, no window scaling.
    pub fn windows_like() -> Self {
        Self {
            ttl: Some(128),
            tcp_timestamps: Some(false),
            tcp_window_scaling: Some(false),
            ..Self::default()
        }
    }

    /// The sysctls to write, as (dotted key, value), in order.
    pub fn sysctls(&self) -> Vec<(String, String)> {
        let flag = |b: bool| if b { "1" } else { "0" }.to_owned();
        let mut out = Vec::new();
        let mut put = |key: &str, value: Option<String>| {
            if let Some(v) = value {
                out.push((key.to_owned(), v));
            }
        };
        put("net.ipv4.ip_default_ttl", self.ttl.map(|t| t.to_string()));
        // IPv6 reads the per-device value, so set it for eth0 as well as for
        // interfaces yet to come.
        for dev in ["all", "default", crate::IFACE] {
            put(&format!("net.ipv6.conf.{dev}.hop_limit"), self.ttl.map(|t| t.to_string()));
        }
        put("net.ipv4.tcp_timestamps", self.tcp_timestamps.map(flag));
        put("net.ipv4.tcp_window_scaling", self.tcp_window_scaling.map(flag));
        put("net.ipv4.tcp_sack", self.tcp_sack.map(flag));
        put("net.ipv4.tcp_ecn", self.tcp_ecn.map(|v| v.to_string()));
        put("net.ipv4.tcp_rmem", self.tcp_rmem.clone());
        put("net.ipv4.tcp_wmem", self.tcp_wmem.clone());
        put("net.ipv4.tcp_synack_retries", self.tcp_synack_retries.map(|v| v.to_string()));
        put("net.ipv4.ip_no_pmtu_disc", self.ip_no_pmtu_disc.map(flag));
        put("net.ipv4.icmp_ratelimit", self.icmp_ratelimit.map(|v| v.to_string()));
        put("net.ipv6.icmp.ratelimit", self.icmp_ratelimit.map(|v| v.to_string()));
        put("net.ipv4.icmp_echo_ignore_all", self.icmp_echo_ignore_all.map(flag));
        put("net.ipv6.icmp.echo_ignore_all", self.icmp_echo_ignore_all.map(flag));
        out.extend(self.extra.iter().cloned());
        out
    }

    /// A short human summary of what differs from the defaults, e.g. `ttl=128 ts=off`.
    pub fn summary(&self) -> String {
        let onoff = |b: Option<bool>| b.map(|b| if b { "on" } else { "off" }.to_owned());
        let num = |n: Option<u32>| n.map(|n| n.to_string());
        let fields = [
            ("ttl", num(self.ttl.map(u32::from))),
            ("ts", onoff(self.tcp_timestamps)),
            ("ws", onoff(self.tcp_window_scaling)),
            ("sack", onoff(self.tcp_sack)),
            ("ecn", num(self.tcp_ecn.map(u32::from))),
            ("rmem", self.tcp_rmem.as_ref().map(|r| format!("\"{r}\""))),
            ("wmem", self.tcp_wmem.as_ref().map(|w| format!("\"{w}\""))),
            ("synack_retries", num(self.tcp_synack_retries.map(u32::from))),
            ("no_pmtu_disc", onoff(self.ip_no_pmtu_disc)),
            ("icmp_ratelimit", num(self.icmp_ratelimit)),
            ("icmp_echo_ignore", onoff(self.icmp_echo_ignore_all)),
        ];
        let mut parts: Vec<String> =
            fields.into_iter().filter_map(|(name, v)| v.map(|v| format!("{name}={v}"))).collect();
        parts.extend(self.extra.iter().map(|(k, v)| format!("{k}={v}")));
        parts.join(" ")
    }
}

/// How a reject rule answers a matching inbound packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectWith {
    /// ICMP(v6) "administratively prohibited" (v4 type 3 code 13): nmap's `filtered`.
    AdminProhibited,
    /// ICMP(v6) port unreachable: looks closed for UDP.
    PortUnreachable,
    /// ICMP(v6) host unreachable.
    HostUnreachable,
    /// ICMP(v6) no route.
    NoRoute,
    /// A TCP RST (TCP ports only): looks closed.
    TcpReset,
}

impl RejectWith {
    /// The nft `reject` statement for the `inet` family.
    pub fn nft_statement(self) -> &'static str {
        match self {
            Self::AdminProhibited => "reject with icmpx type admin-prohibited",
            Self::PortUnreachable => "reject with icmpx type port-unreachable",
            Self::HostUnreachable => "reject with icmpx type host-unreachable",
            Self::NoRoute => "reject with icmpx type no-route",
            Self::TcpReset => "reject with tcp reset",
        }
    }
}

/// A transport protocol, for reject rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Proto {
    fn nft(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }
}

/// One target node: personality, listening ports and firewall. Build with
/// [`TargetSpec::new`] and chained calls.
///
/// ```
/// use scry_lab::{Personality, RejectWith, TargetSpec};
/// let t = TargetSpec::new()
///     .personality(Personality::windows_like())
///     .tcp_listen(&[135, 445])
///     .udp_listen(&[53])
///     .reject_tcp_port(25, RejectWith::AdminProhibited);
/// assert_eq!(t.tcp_ports(), &[135, 445]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetSpec {
    personality: Personality,
    tcp: Vec<u16>,
    udp: Vec<u16>,
    drop_all: bool,
    drop_ipv6: bool,
    drop_percent: u8,
    drops: Vec<(Proto, u16)>,
    rejects: Vec<(Proto, u16, RejectWith)>,
}

impl TargetSpec {
    /// A target with kernel defaults, no listeners and no firewall.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the stack's sysctls.
    pub fn personality(mut self, p: Personality) -> Self {
        self.personality = p;
        self
    }

    /// Adds TCP listeners (IPv4 and IPv6) on `ports`; they accept and close.
    pub fn tcp_listen(mut self, ports: &[u16]) -> Self {
        add_ports(&mut self.tcp, ports);
        self
    }

    /// Adds UDP sockets (IPv4 and IPv6) on `ports` that echo each datagram back.
    pub fn udp_listen(mut self, ports: &[u16]) -> Self {
        add_ports(&mut self.udp, ports);
        self
    }

    /// Drops every inbound IP packet except IPv6 neighbour discovery, so the
    /// host still resolves on the link (ARP is not IP either) but every port
    /// is silent: a firewalled host, not an absent one.
    pub fn drop_all(mut self) -> Self {
        self.drop_all = true;
        self
    }

    /// Drops every inbound IPv6 packet except neighbour discovery, leaving
    /// IPv4 alone: a host that is up over IPv4 and silent over IPv6.
    pub fn drop_all_ipv6(mut self) -> Self {
        self.drop_ipv6 = true;
        self
    }

    /// Silently drops inbound TCP to `ports` over both families (nmap's
    /// `filtered`, reason `no-response`).
    pub fn drop_tcp_ports(mut self, ports: &[u16]) -> Self {
        self.drops.extend(ports.iter().map(|&p| (Proto::Tcp, p)));
        self
    }

    /// Silently drops inbound UDP to `ports` over both families.
    pub fn drop_udp_ports(mut self, ports: &[u16]) -> Self {
        self.drops.extend(ports.iter().map(|&p| (Proto::Udp, p)));
        self
    }

    /// Drops each inbound packet with probability `percent`/100 (nft
    /// `numgen random`; netem is not available). Values over 100 are refused
    /// by [`crate::LabBuilder::build`].
    pub fn drop_percent(mut self, percent: u8) -> Self {
        self.drop_percent = percent;
        self
    }

    /// Answers inbound TCP to `port` with `kind` instead of the stack, over
    /// both families: the `icmpx` kinds become ICMPv6 for IPv6 (admin
    /// prohibited is ICMPv6 type 1 code 1, port unreachable code 4).
    pub fn reject_tcp_port(mut self, port: u16, kind: RejectWith) -> Self {
        self.rejects.push((Proto::Tcp, port, kind));
        self
    }

    /// Answers inbound UDP to `port` with `kind` (not [`RejectWith::TcpReset`]).
    pub fn reject_udp_port(mut self, port: u16, kind: RejectWith) -> Self {
        self.rejects.push((Proto::Udp, port, kind));
        self
    }

    /// The personality.
    pub fn get_personality(&self) -> &Personality {
        &self.personality
    }

    /// TCP listening ports, sorted and unique.
    pub fn tcp_ports(&self) -> &[u16] {
        &self.tcp
    }

    /// UDP echo ports, sorted and unique.
    pub fn udp_ports(&self) -> &[u16] {
        &self.udp
    }

    /// Whether a firewall drops or rejects anything.
    pub fn has_firewall(&self) -> bool {
        self.drop_all
            || self.drop_ipv6
            || self.drop_percent > 0
            || !self.drops.is_empty()
            || !self.rejects.is_empty()
    }

    /// Refuses specs the kernel or nft would reject later with a less clear message.
    pub(crate) fn validate(&self, label: &str) -> Result<(), LabError> {
        if self.drop_percent > 100 {
            return Err(LabError::InvalidSpec(format!(
                "{label}: drop_percent({}) is over 100",
                self.drop_percent
            )));
        }
        if self.tcp.contains(&0) || self.udp.contains(&0) {
            return Err(LabError::InvalidSpec(format!("{label}: cannot listen on port 0")));
        }
        if let Some((_, port, _)) =
            self.rejects.iter().find(|(p, _, k)| *p == Proto::Udp && *k == RejectWith::TcpReset)
        {
            return Err(LabError::InvalidSpec(format!(
                "{label}: udp port {port} cannot be rejected with a TCP reset"
            )));
        }
        Ok(())
    }

    /// The nft script for this target's firewall, or `None` if it has none.
    /// Loaded with `nft -f -` inside the target namespace.
    pub fn nft_ruleset(&self) -> Option<String> {
        if !self.has_firewall() {
            return None;
        }
        let policy = if self.drop_all { "drop" } else { "accept" };
        let mut rules = vec![format!("type filter hook input priority filter; policy {policy};")];
        if self.drop_all || self.drop_ipv6 {
            rules.push("icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept".to_owned());
        }
        if self.drop_ipv6 {
            rules.push("meta nfproto ipv6 drop".to_owned());
        }
        if self.drop_percent > 0 {
            rules.push(format!("numgen random mod 100 < {} drop", self.drop_percent));
        }
        for (proto, port) in &self.drops {
            rules.push(format!("{} dport {port} drop", proto.nft()));
        }
        for (proto, port, kind) in &self.rejects {
            rules.push(format!("{} dport {port} {}", proto.nft(), kind.nft_statement()));
        }
        let body: String = rules.iter().map(|r| format!("\t\t{r}\n")).collect();
        Some(format!("table inet scry_lab {{\n\tchain input {{\n{body}\t}}\n}}\n"))
    }

    /// A short human summary of the firewall, e.g. `drop 30%, tcp/25 admin-prohibited`.
    pub(crate) fn firewall_summary(&self) -> String {
        let mut parts = Vec::new();
        if self.drop_all {
            parts.push("drop all".to_owned());
        } else if self.drop_percent > 0 {
            parts.push(format!("drop {}%", self.drop_percent));
        }
        if self.drop_ipv6 && !self.drop_all {
            parts.push("drop ipv6".to_owned());
        }
        for (proto, port) in &self.drops {
            parts.push(format!("{}/{port} drop", proto.nft()));
        }
        for (proto, port, kind) in &self.rejects {
            let how = kind.nft_statement().rsplit(' ').next().unwrap_or_default();
            parts.push(format!("{}/{port} {how}", proto.nft()));
        }
        parts.join(", ")
    }
}

fn add_ports(list: &mut Vec<u16>, ports: &[u16]) {
    list.extend_from_slice(ports);
    list.sort_unstable();
    list.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_personality_writes_nothing() {
        assert!(Personality::default().sysctls().is_empty());
        assert_eq!(Personality::default().summary(), "");
    }

    #[test]
    fn ttl_sets_v4_and_every_v6_hop_limit() {
        let p = Personality { ttl: Some(128), tcp_timestamps: Some(false), ..Default::default() };
        let keys: Vec<(String, String)> = p.sysctls();
        let want = [
            ("net.ipv4.ip_default_ttl", "128"),
            ("net.ipv6.conf.all.hop_limit", "128"),
            ("net.ipv6.conf.default.hop_limit", "128"),
            ("net.ipv6.conf.eth0.hop_limit", "128"),
            ("net.ipv4.tcp_timestamps", "0"),
        ];
        let want: Vec<(String, String)> = want.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(keys, want);
        assert_eq!(p.summary(), "ttl=128 ts=off");
    }

    #[test]
    fn icmp_limits_and_echo_ignoring_cover_both_families() {
        let p =
            Personality { icmp_ratelimit: Some(0), icmp_echo_ignore_all: Some(true), ..Default::default() };
        let want = [
            ("net.ipv4.icmp_ratelimit", "0"),
            ("net.ipv6.icmp.ratelimit", "0"),
            ("net.ipv4.icmp_echo_ignore_all", "1"),
            ("net.ipv6.icmp.echo_ignore_all", "1"),
        ];
        let want: Vec<(String, String)> = want.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(p.sysctls(), want);
    }

    #[test]
    fn no_firewall_means_no_ruleset() {
        let t = TargetSpec::new().tcp_listen(&[22]);
        assert_eq!(t.nft_ruleset(), None);
        assert!(t.validate("t0").is_ok());
    }

    #[test]
    fn drop_all_keeps_neighbour_discovery() {
        let t = TargetSpec::new().drop_all();
        assert_eq!(
            t.nft_ruleset().unwrap(),
            "table inet scry_lab {\n\tchain input {\n\
             \t\ttype filter hook input priority filter; policy drop;\n\
             \t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept\n\
             \t}\n}\n"
        );
    }

    #[test]
    fn drop_percent_and_rejects() {
        let t = TargetSpec::new()
            .drop_percent(30)
            .reject_tcp_port(25, RejectWith::AdminProhibited)
            .reject_udp_port(161, RejectWith::PortUnreachable)
            .reject_tcp_port(113, RejectWith::TcpReset);
        let rules = t.nft_ruleset().unwrap();
        assert!(rules.contains("policy accept;"), "{rules}");
        assert!(rules.contains("\t\tnumgen random mod 100 < 30 drop\n"), "{rules}");
        assert!(rules.contains("\t\ttcp dport 25 reject with icmpx type admin-prohibited\n"), "{rules}");
        assert!(rules.contains("\t\tudp dport 161 reject with icmpx type port-unreachable\n"), "{rules}");
        assert!(rules.contains("\t\ttcp dport 113 reject with tcp reset\n"), "{rules}");
        assert_eq!(
            t.firewall_summary(),
            "drop 30%, tcp/25 admin-prohibited, udp/161 port-unreachable, tcp/113 reset"
        );
    }

    #[test]
    fn per_port_and_ipv6_drops() {
        let t = TargetSpec::new()
            .drop_all_ipv6()
            .drop_tcp_ports(&[23, 24])
            .drop_udp_ports(&[69])
            .reject_tcp_port(25, RejectWith::AdminProhibited);
        assert_eq!(
            t.nft_ruleset().unwrap(),
            "table inet scry_lab {\n\tchain input {\n\
             \t\ttype filter hook input priority filter; policy accept;\n\
             \t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept\n\
             \t\tmeta nfproto ipv6 drop\n\
             \t\ttcp dport 23 drop\n\
             \t\ttcp dport 24 drop\n\
             \t\tudp dport 69 drop\n\
             \t\ttcp dport 25 reject with icmpx type admin-prohibited\n\
             \t}\n}\n"
        );
        assert_eq!(
            t.firewall_summary(),
            "drop ipv6, tcp/23 drop, tcp/24 drop, udp/69 drop, tcp/25 admin-prohibited"
        );
    }

    #[test]
    fn invalid_specs_are_refused() {
        assert!(TargetSpec::new().drop_percent(101).validate("t0").is_err());
        assert!(TargetSpec::new().tcp_listen(&[0]).validate("t0").is_err());
        let bad = TargetSpec::new().reject_udp_port(53, RejectWith::TcpReset);
        assert!(matches!(bad.validate("t1"), Err(LabError::InvalidSpec(m)) if m.contains("udp port 53")));
    }

    #[test]
    fn ports_are_sorted_and_unique() {
        let t = TargetSpec::new().tcp_listen(&[443, 22, 80]).tcp_listen(&[22]);
        assert_eq!(t.tcp_ports(), &[22, 80, 443]);
    }
}
