//! Errors of the capture layer, each naming the interface and operation.

/// What went wrong opening or using the wire.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The process lacks a capability (or root) for this operation.
    #[error("{operation} on {iface} needs {capability} (or root): {detail}")]
    Privilege { operation: &'static str, iface: String, capability: &'static str, detail: String },
    /// libpcap refused an operation.
    #[error("libpcap: {operation} on {iface}: {source}")]
    Pcap {
        operation: &'static str,
        iface: String,
        #[source]
        source: pcap::Error,
    },
    /// A system call failed.
    #[error("{operation} on {iface}: {source}")]
    Io {
        operation: &'static str,
        iface: String,
        #[source]
        source: std::io::Error,
    },
    /// No interface of that name exists in this network namespace.
    #[error("no network interface named {0:?}")]
    NoSuchInterface(String),
    /// libpcap delivers a link type scry cannot parse.
    #[error("interface {iface} has link type {dlt}, which scry cannot parse")]
    UnsupportedLinkType { iface: String, dlt: i32 },
}

pub(crate) fn is_permission(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    text.contains("permission") || text.contains("not permitted")
}
