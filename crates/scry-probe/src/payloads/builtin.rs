//! Built-in payloads, used when nmap's file is not installed: one minimal,
//! harmless request per service, written from each protocol's specification.
//! Request ids are zero here; the UDP probe fills them with cookie bits.

use super::{Entry, Payload};

/// (port, payload) pairs, one request each.
pub(super) fn entries() -> Vec<Entry> {
    let list: [(u16, Vec<u8>); 8] = [
        (53, dns_query(&[], 2)),
        (111, portmap_null()),
        (123, ntp_client()),
        (137, netbios_status()),
        (161, snmp_get_sysdescr()),
        (500, ike_main_mode()),
        (1900, ssdp_search()),
        (5353, dns_query(&[b"_services", b"_dns-sd", b"_udp", b"local"], 12)),
    ];
    list.into_iter()
        .map(|(port, data)| (vec![(port, port)], Payload { data: data.into(), source_port: None }))
        .collect()
}

/// A recursive DNS query for `name` (labels), type `qtype`, class IN
/// (RFC 1035 §4.1). The root NS query (`&[]`, 2) is one every server answers
/// somehow: with the root servers, a referral, REFUSED or SERVFAIL.
fn dns_query(name: &[&[u8]], qtype: u16) -> Vec<u8> {
    // id 0, flags RD, one question, no other records.
    let mut out = vec![0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name {
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    out.push(0);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out
}

/// ONC RPC call of portmapper (program 100000) version 2 procedure 0 (NULL)
/// with AUTH_NULL credentials and verifier (RFC 5531 §9, RFC 1833).
fn portmap_null() -> Vec<u8> {
    let words: [u32; 10] = [0, 0, 2, 100_000, 2, 0, 0, 0, 0, 0];
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
}

/// An NTPv4 client-mode packet (RFC 5905 §7.3): LI 3 (unsynchronised),
/// version 4, mode 3; a non-zero transmit timestamp, which servers copy into
/// the reply's origin timestamp.
fn ntp_client() -> Vec<u8> {
    let mut out = vec![0u8; 48];
    out[0] = 0b11_100_011;
    out[2] = 6; // poll interval 2^6 s
    out[3] = 0xec; // precision 2^-20 s
    out[40..44].copy_from_slice(&0xec00_0000u32.to_be_bytes());
    out
}

/// A NetBIOS node status (NBSTAT) request for the wildcard name `*`
/// (RFC 1002 §4.2.17): the name is `*` padded with NULs, first-level encoded.
fn netbios_status() -> Vec<u8> {
    let mut out = vec![0, 0, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    out.push(32);
    let mut name = [0u8; 16];
    name[0] = b'*';
    for byte in name {
        out.push(b'A' + (byte >> 4));
        out.push(b'A' + (byte & 0x0f));
    }
    out.push(0);
    out.extend_from_slice(&[0x00, 0x21, 0x00, 0x01]); // NBSTAT, IN
    out
}

/// SNMPv1 GetRequest for sysDescr.0 (1.3.6.1.2.1.1.1.0) with community
/// `public` (RFC 1157 §4.1.2, BER encoded).
fn snmp_get_sysdescr() -> Vec<u8> {
    let oid = [0x2b, 6, 1, 2, 1, 1, 1, 0];
    let varbind = tlv(0x30, &[tlv(0x06, &oid), vec![0x05, 0x00]].concat());
    let pdu_body = [
        tlv(0x02, &[0, 0, 0, 0]), // request-id
        tlv(0x02, &[0]),          // error-status
        tlv(0x02, &[0]),          // error-index
        tlv(0x30, &varbind),      // varbind list
    ]
    .concat();
    let message = [tlv(0x02, &[0]), tlv(0x04, b"public"), tlv(0xa0, &pdu_body)].concat();
    tlv(0x30, &message)
}

/// A BER type-length-value with a short-form length (all ours are < 128).
fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag, value.len() as u8];
    out.extend_from_slice(value);
    out
}

/// IKEv1 Main Mode opening message (RFC 2408 §3.1, §3.4-3.6; RFC 2409
/// appendix A): one ISAKMP proposal with one transform, 3DES/SHA/pre-shared
/// key/MODP group 2, lifetime 28800 s. The initiator cookie is non-zero as
/// RFC 2408 §2.5.3 requires.
fn ike_main_mode() -> Vec<u8> {
    let attributes: [(u16, u16); 6] = [(1, 5), (2, 2), (3, 1), (4, 2), (11, 1), (12, 28_800)];
    let mut transform = vec![0, 0, 0, 0, 1, 1, 0, 0]; // last, reserved, length, #1, KEY_IKE
    for (kind, value) in attributes {
        transform.extend_from_slice(&(0x8000 | kind).to_be_bytes()); // TV format
        transform.extend_from_slice(&value.to_be_bytes());
    }
    set_len(&mut transform, 2);
    let mut proposal = vec![0, 0, 0, 0, 1, 1, 0, 1]; // last, reserved, length, #1, ISAKMP, no SPI, 1 transform
    proposal.extend_from_slice(&transform);
    set_len(&mut proposal, 2);
    let mut sa = vec![0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]; // DOI IPsec, SIT_IDENTITY_ONLY
    sa.extend_from_slice(&proposal);
    set_len(&mut sa, 2);
    let mut out = b"scry-ike".to_vec(); // initiator cookie
    out.extend_from_slice(&[0; 8]); // responder cookie
    out.extend_from_slice(&[1, 0x10, 2, 0]); // next: SA, version 1.0, Main Mode, no flags
    out.extend_from_slice(&[0; 8]); // message id, length
    out.extend_from_slice(&sa);
    let len = out.len() as u32;
    out[24..28].copy_from_slice(&len.to_be_bytes());
    out
}

/// Writes `buf.len()` as a 16-bit big-endian length at `at`.
fn set_len(buf: &mut [u8], at: usize) {
    let len = buf.len() as u16;
    buf[at..at + 2].copy_from_slice(&len.to_be_bytes());
}

/// An SSDP discovery request for every service (UPnP Device Architecture 2.0 §1.3.2).
fn ssdp_search() -> Vec<u8> {
    b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n"
        .to_vec()
}
