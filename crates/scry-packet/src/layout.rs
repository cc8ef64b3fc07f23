//! Named byte offsets of header fields, relative to the start of their header.
//!
//! Used where code must touch a field in place (templates, tests) instead of
//! going through a parser or builder.

/// Length of an Ethernet II header without VLAN tags.
pub const ETHERNET_LEN: usize = 14;

/// IPv4 header fields (RFC 791).
#[allow(non_snake_case)]
pub mod IPV4 {
    pub const TOTAL_LEN: usize = 2;
    pub const ID: usize = 4;
    pub const TTL: usize = 8;
    pub const CHECKSUM: usize = 10;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
}

/// IPv6 header fields (RFC 8200).
#[allow(non_snake_case)]
pub mod IPV6 {
    pub const PAYLOAD_LEN: usize = 4;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: usize = 8;
    pub const DST: usize = 24;
}

/// TCP header fields (RFC 9293).
#[allow(non_snake_case)]
pub mod TCP {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const SEQ: usize = 4;
    pub const ACK: usize = 8;
    /// Data offset (high nibble) and reserved bits (low nibble).
    pub const DATA_OFFSET: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: usize = 14;
    pub const CHECKSUM: usize = 16;
    pub const URGENT: usize = 18;
}
