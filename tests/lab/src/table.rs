//! The human-readable table of a lab's nodes (`impl Display for Lab`, the
//! `scry-lab up` banner).

use crate::netns::Role;
use crate::node::{router_far_ipv4, router_far_ipv6, Node, ROUTER_FAR_IFACE};
use crate::target::TargetSpec;

const HEADERS: [&str; 8] = ["node", "netns", "ipv4", "ipv6", "mac", "tcp", "udp", "notes"];

/// One line of the table, already formatted.
pub(crate) struct Row([String; 8]);

impl Row {
    /// Describes `node`; targets pass their spec.
    pub(crate) fn node(node: &Node, spec: Option<&TargetSpec>) -> Self {
        let (tcp, udp, notes) = match spec {
            None if node.role() == Role::Router => (
                "-".to_owned(),
                "-".to_owned(),
                format!("router; {ROUTER_FAR_IFACE} {} {}", router_far_ipv4(), router_far_ipv6()),
            ),
            None => ("-".to_owned(), "-".to_owned(), "scanner".to_owned()),
            Some(s) => {
                let notes: Vec<String> = [s.get_personality().summary(), s.firewall_summary()]
                    .into_iter()
                    .filter(|n| !n.is_empty())
                    .collect();
                (port_ranges(s.tcp_ports()), port_ranges(s.udp_ports()), notes.join("; "))
            }
        };
        Self([
            node.label(),
            node.ns().to_owned(),
            node.ipv4().to_string(),
            node.ipv6().to_string(),
            node.mac().to_string(),
            tcp,
            udp,
            notes,
        ])
    }
}

/// Renders rows under the headers, columns padded to their widest cell.
pub(crate) fn render(rows: &[Row]) -> String {
    let mut widths = HEADERS.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(&row.0) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: [&str; 8]| {
        let padded: Vec<String> = cells.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join("  ").trim_end().to_owned() + "\n"
    };
    let mut out = line(HEADERS);
    for row in rows {
        out += &line(row.0.each_ref().map(String::as_str));
    }
    out
}

/// Sorted, unique ports as compact ranges: `22,80,1000-1999`; `-` when empty.
pub(crate) fn port_ranges(ports: &[u16]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut iter = ports.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while let Some(next) = iter.next_if(|&p| Some(p) == end.checked_add(1)) {
            end = next;
        }
        parts.push(if start == end { start.to_string() } else { format!("{start}-{end}") });
    }
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_collapse() {
        assert_eq!(port_ranges(&[]), "-");
        assert_eq!(port_ranges(&[22]), "22");
        assert_eq!(port_ranges(&[22, 80, 443]), "22,80,443");
        assert_eq!(port_ranges(&[1, 2, 3, 5, 65534, 65535]), "1-3,5,65534-65535");
    }

    #[test]
    fn table_lines_up() {
        let spec = TargetSpec::new().tcp_listen(&[22, 80]).udp_listen(&[53]).drop_percent(10);
        let rows = [
            Row::node(&Node::new("scry1x0scan".into(), Role::Scanner), None),
            Row::node(&Node::new("scry1x0t0".into(), Role::Target(0)), Some(&spec)),
        ];
        let text = render(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("node  netns        ipv4         ipv6"), "{text}");
        assert!(
            lines[2].contains("198.18.0.10  2001:2::a  02:00:c6:12:00:0a  22,80  53   drop 10%"),
            "{text}"
        );
    }

    #[test]
    fn the_router_row_names_its_far_leg() {
        let row = Row::node(&Node::new("scry1x0rt".into(), Role::Router), None);
        assert_eq!(row.0[2], "198.18.0.2");
        assert_eq!(row.0[7], "router; eth1 198.19.0.1 2001:2:0:1::1");
    }
}
