//! From the OS probes' replies to a subject fingerprint, as nmap computes it.
//!
//! The input is what a prober saw for one host: the [`ProbeSet`] it sent,
//! when each SEQ probe left, and every reply it received (already parsed
//! into scry-packet summaries and matched to a probe with
//! [`ProbeSet::classify`]), in arrival order. The output is the fingerprint
//! nmap 7.93 would print for the same packets: tests `SEQ`, `OPS`, `WIN`,
//! `ECN`, `T1`-`T7`, `U1`, `IE`, in that order, with every attribute and
//! nmap's formulas (Nmap book, "TCP/IP Fingerprinting Methods Supported by
//! Nmap"; nmap 7.93 `osscan2.cc`: `processResp` and the `process*Resp`
//! functions, `makeTSeqFP`, `makeFP`, `get_tcpopt_string`).
//!
//! Replies are taken as nmap takes them: the first usable reply to a probe
//! wins, a SEQ reply that is not a SYN/ACK is ignored for SEQ, the reply to
//! SEQ probe 1 also makes T1, and the six SEQ replies also make OPS and WIN.
//! No I/O and no clock: times are given.

pub use scry_packet::checksum::crc32;
use scry_packet::{Frame, IpHeader, Tcp, TcpFlags, Transport};

use crate::probes::{OsProbe, ProbeSet, IE1_CODE, SEQ_PROBES, U1_FILL, U1_IP_ID, U1_IP_LEN};
use crate::subject::{SubjectFingerprint, SubjectTest};

mod seq;
#[cfg(test)]
mod tests;

pub use seq::{ipid_class, IpIdClass};

/// One received reply, matched to the probe it answers.
#[derive(Clone, Copy, Debug)]
pub struct Reply {
    pub probe: OsProbe,
    pub frame: Frame,
    /// The probe had been sent more than once when this reply came: nmap
    /// then leaves the echo replies' IP IDs out of the `II` test.
    pub after_resend: bool,
}

/// Everything observed for one host in one try.
#[derive(Clone, Debug)]
pub struct Exchange {
    pub set: ProbeSet,
    /// When each SEQ probe was (first) sent, in microseconds on any clock.
    pub seq_sent_us: [Option<i64>; SEQ_PROBES],
    /// The replies in the order they arrived.
    pub replies: Vec<Reply>,
    /// The hop count when known without U1: 0 for the scanning host
    /// itself, 1 for a host on the same link. Reported as the distance; the
    /// `T` tests still use U1's count only (as nmap's do: for the scanning
    /// host it reads 1, and without a U1 reply the TTLs are guessed).
    pub known_distance: Option<u8>,
    /// The target is the scanning host (nmap's `islocalhost`).
    pub localhost: bool,
    /// No closed TCP port was known, so T5-T7 went to an arbitrary port that
    /// is probably closed (as nmap does): their missing replies are then not
    /// written `R=N`, and the conditions count as poor.
    pub closed_tcp_guessed: bool,
}

/// How the hop distance was found (nmap's `DC` in the `SCAN` line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DistanceMethod {
    /// Known beforehand: the host itself or one on the same link.
    Known,
    /// From the TTL quoted in U1's port unreachable.
    Icmp,
    /// Guessed from a reply's TTL (`TG` tests).
    Guess,
}

/// A computed fingerprint and what was learnt along the way.
#[derive(Clone, Debug, PartialEq)]
pub struct Computed {
    pub fingerprint: SubjectFingerprint,
    /// Hops to the target, when measured or guessed.
    pub distance: Option<i32>,
    pub distance_method: Option<DistanceMethod>,
    /// Why nmap would not consider this fingerprint fit for submission
    /// (its `SCAN(...G=N)`), e.g. a missing closed port; empty when good.
    pub poor_conditions: Vec<String>,
}

/// Per-host state while replies are walked, as nmap keeps it.
#[derive(Default)]
struct State {
    seq: seq::SeqSamples,
    ops: [Option<String>; SEQ_PROBES],
    win: [Option<String>; SEQ_PROBES],
    ecn: Option<SubjectTest>,
    t: [Option<SubjectTest>; 7],
    u1: Option<SubjectTest>,
    ie_first: Option<(usize, IpHeader, u8)>,
    ie: Option<SubjectTest>,
    /// Hops from U1's quoted TTL.
    distance: Option<i32>,
}

/// Computes the subject fingerprint of one exchange.
pub fn compute(ex: &Exchange) -> Computed {
    let set = &ex.set;
    let mut st = State::default();
    for reply in &ex.replies {
        let Some(ip) = reply.frame.ip() else { continue };
        match (reply.probe, &ip.transport) {
            (OsProbe::Seq(i), Transport::Tcp(tcp)) => {
                let i = usize::from(i) % SEQ_PROBES;
                st.seq.record(set, i, &ip.header, tcp);
                if i == 0 && st.t[0].is_none() {
                    st.t[0] = Some(t_test(set.seq_base, set.ack, 1, &ip.header, tcp));
                }
                record_ops_win(&mut st, i, tcp);
            }
            (OsProbe::Ops(i), Transport::Tcp(tcp)) => {
                record_ops_win(&mut st, usize::from(i) % SEQ_PROBES, tcp)
            }
            (OsProbe::Ecn, Transport::Tcp(tcp)) if st.ecn.is_none() => {
                st.ecn = Some(ecn_test(&ip.header, tcp))
            }
            (OsProbe::T(n @ 1..=7), Transport::Tcp(tcp)) => {
                let slot = usize::from(n) - 1;
                if st.t[slot].is_none() {
                    st.t[slot] = Some(t_test(set.seq_base, set.ack, n, &ip.header, tcp));
                    if n >= 5 {
                        st.seq.closed_ipids[slot - 4] = Some(ip.header.id);
                    }
                }
            }
            (OsProbe::Ie(k @ 0..=1), Transport::Icmp(icmp)) if icmp.icmp_type == 0 && st.ie.is_none() => {
                let k = usize::from(k);
                let useful = match st.ie_first {
                    None => {
                        st.ie_first = Some((k, ip.header, icmp.code));
                        true
                    }
                    Some((first, _, _)) if first == k => false,
                    Some((_, other, other_code)) => {
                        let (one, two) = if k == 1 {
                            ((other, other_code), (ip.header, icmp.code))
                        } else {
                            ((ip.header, icmp.code), (other, other_code))
                        };
                        st.ie = Some(ie_test(one, two));
                        true
                    }
                };
                if useful && !reply.after_resend {
                    st.seq.icmp_ipids[k] = Some(ip.header.id);
                }
            }
            (OsProbe::U1, Transport::Icmp(icmp)) if st.u1.is_none() => {
                if let Some(quoted) = icmp.quoted {
                    st.u1 = Some(u1_test(set, &ip.header, icmp, &quoted));
                    st.distance = Some(i32::from(set.udp_ttl) - i32::from(quoted.ip.ttl) + 1);
                }
            }
            _ => {}
        }
    }
    finish(ex, st)
}

/// The tests one SYN-ACK answers when the SYN had the window and options of
/// nmap's first SEQ probe (as every SYN of scry's port scan has): `OPS` with
/// `O1` only, `WIN` with `W1` only, and `T1`, its TTL as nmap's guess `TG`
/// (there is no U1 hop count). `sent_seq` and `sent_ack` are the SYN's.
///
/// Two `SEQ` classes are settled by one reply too, and are added when they
/// are: `TI=Z` when its IP ID is zero (nmap's class for all-zero IDs; any
/// other single ID could belong to several classes), and `TS=U` when it has
/// no timestamp option although the SYN had one, or `TS=0` when its TSval
/// is zero (nmap gives those classes as soon as one reply shows them; a
/// rate needs two).
///
/// The matcher scores only attributes the subject has, so this subject is
/// compared on exactly these tests (see `docs/os-detection.md`, "A guess
/// from one SYN-ACK").
pub fn one_syn_ack(ip: &IpHeader, tcp: &Tcp, sent_seq: u32, sent_ack: u32) -> SubjectFingerprint {
    let mut fp = SubjectFingerprint::default();
    let mut seq: Vec<(&str, &str)> = Vec::new();
    if ip.id == 0 {
        seq.push(("TI", "Z"));
    }
    match tcp.options.timestamp() {
        None => seq.push(("TS", "U")),
        Some((0, _)) => seq.push(("TS", "0")),
        Some(_) => {}
    }
    if !seq.is_empty() {
        fp.push(SubjectTest::new("SEQ", seq));
    }
    fp.push(SubjectTest::new("OPS", [("O1", option_string(tcp))]));
    fp.push(SubjectTest::new("WIN", [("W1", format!("{:X}", tcp.window))]));
    let mut t1 = t_test(sent_seq, sent_ack, 1, ip, tcp);
    retime(&mut t1, None, &mut None);
    fp.push(t1);
    fp
}

fn record_ops_win(st: &mut State, i: usize, tcp: &Tcp) {
    if st.ops.iter().all(Option::is_some) && st.win.iter().all(Option::is_some) {
        return;
    }
    st.ops[i].get_or_insert_with(|| option_string(tcp));
    st.win[i].get_or_insert_with(|| format!("{:X}", tcp.window));
}

/// Assembles the tests in nmap's order and rewrites TTLs (`makeFP`).
fn finish(ex: &Exchange, mut st: State) -> Computed {
    let set = &ex.set;
    let mut fp = SubjectFingerprint::default();
    if let Some(seq) = st.seq.test(&ex.seq_sent_us, ex.localhost) {
        fp.push(seq);
    }
    let numbered = |name: &str, values: &[Option<String>; SEQ_PROBES]| -> Option<SubjectTest> {
        let all: Option<Vec<&String>> = values.iter().map(Option::as_ref).collect();
        all.map(|v| {
            SubjectTest::new(
                name,
                v.iter().enumerate().map(|(i, v)| (format!("{}{}", &name[..1], i + 1), v.as_str())),
            )
        })
    };
    fp.tests.extend(numbered("OPS", &st.ops));
    fp.tests.extend(numbered("WIN", &st.win));
    let no_reply = |name: &str| SubjectTest::new(name, [("R", "N")]);
    let open = set.open_tcp.is_some();
    let closed = set.closed_tcp.is_some() && !ex.closed_tcp_guessed;
    let mut rest: Vec<(Option<SubjectTest>, &str, bool)> = vec![(st.ecn.take(), "ECN", open)];
    for (i, t) in st.t.iter_mut().enumerate() {
        rest.push((
            t.take(),
            ["T1", "T2", "T3", "T4", "T5", "T6", "T7"][i],
            if i < 4 { open } else { closed },
        ));
    }
    rest.push((st.u1.take(), "U1", true));
    rest.push((st.ie.take(), "IE", true));
    let mut guess: Option<i32> = None;
    for (test, name, expected) in rest {
        match test {
            Some(mut test) => {
                retime(&mut test, st.distance, &mut guess);
                fp.push(test);
            }
            None if expected => {
                fp.push(no_reply(name));
            }
            None => {}
        }
    }
    let (distance, method) = match (ex.known_distance, st.distance, guess) {
        (Some(d), _, _) => (Some(i32::from(d)), Some(DistanceMethod::Known)),
        (None, Some(d), _) => (Some(d), Some(DistanceMethod::Icmp)),
        (None, None, Some(g)) => (Some(g), Some(DistanceMethod::Guess)),
        (None, None, None) => (None, None),
    };
    let poor_conditions = poor_conditions(ex, distance);
    Computed { fingerprint: fp, distance, distance_method: method, poor_conditions }
}

/// Turns a test's received TTL into nmap's `T` (initial TTL from U1's hop
/// count) or `TG` (initial TTL guessed), in hex.
fn retime(test: &mut SubjectTest, distance: Option<i32>, guess: &mut Option<i32>) {
    let Some(slot) = test.attrs.iter_mut().find(|(a, _)| a == "T") else { return };
    let ttl: i32 = slot.1.parse().unwrap_or(0);
    guess.get_or_insert(initial_ttl_guess(ttl) - ttl);
    match distance {
        Some(d) => slot.1 = format!("{:X}", (ttl + d - 1) as u16),
        None => *slot = ("TG".to_owned(), format!("{:X}", initial_ttl_guess(ttl))),
    }
}

/// nmap's `get_initial_ttl_guess`: the next of 32, 64, 128, 255.
pub fn initial_ttl_guess(ttl: i32) -> i32 {
    match ttl {
        ..=32 => 32,
        33..=64 => 64,
        65..=128 => 128,
        _ => 255,
    }
}

/// nmap's reasons to leave a fingerprint out of submission
/// (`FingerPrintResults::OmitSubmissionFP`) that scry can know.
fn poor_conditions(ex: &Exchange, distance: Option<i32>) -> Vec<String> {
    let mut out = Vec::new();
    if ex.set.open_tcp.is_none() {
        out.push("Missing an open TCP port so results incomplete".to_owned());
    }
    if ex.set.closed_tcp.is_none() || ex.closed_tcp_guessed {
        out.push("Missing a closed TCP port so results incomplete".to_owned());
    }
    if let Some(d) = distance.filter(|&d| d > 5) {
        out.push(format!("Host distance ({d} network hops) is greater than five"));
    }
    if let Some(ratio) = seq::timing_ratio(&ex.seq_sent_us).filter(|&r| r > 1.4) {
        out.push(format!("Host not scanned at the right pace (timing ratio {ratio:.2} > 1.4)"));
    }
    out
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "Y"
    } else {
        "N"
    }
}

/// nmap's `Q`: `R` for non-zero reserved bits, `U` for an urgent pointer
/// without URG.
fn quirks(tcp: &Tcp) -> String {
    let mut q = String::new();
    if tcp.reserved != 0 {
        q.push('R');
    }
    if !tcp.flags.contains(TcpFlags::URG) && tcp.urgent != 0 {
        q.push('U');
    }
    q
}

/// The `ECN` test.
fn ecn_test(ip: &IpHeader, tcp: &Tcp) -> SubjectTest {
    let (ece, cwr) = (tcp.flags.contains(TcpFlags::ECE), tcp.flags.contains(TcpFlags::CWR));
    let cc = match (ece, cwr) {
        (true, true) => "S",
        (true, false) => "Y",
        (false, false) => "N",
        (false, true) => "O",
    };
    SubjectTest::new(
        "ECN",
        [
            ("R", "Y".to_owned()),
            ("DF", yes_no(ip.df).to_owned()),
            ("T", ip.ttl.to_string()),
            ("W", format!("{:X}", tcp.window)),
            ("O", option_string(tcp)),
            ("CC", cc.to_owned()),
            ("Q", quirks(tcp)),
        ],
    )
}

/// `T1`..`T7` of a reply to a probe with sequence `sent_seq` and
/// acknowledgment `sent_ack`; T1 has no `W` and no `O`.
fn t_test(sent_seq: u32, sent_ack: u32, n: u8, ip: &IpHeader, tcp: &Tcp) -> SubjectTest {
    let mut attrs = vec![("R", "Y".to_owned()), ("DF", yes_no(ip.df).to_owned()), ("T", ip.ttl.to_string())];
    if n != 1 {
        attrs.push(("W", format!("{:X}", tcp.window)));
    }
    let s = match tcp.seq {
        0 => "Z",
        s if s == sent_ack => "A",
        s if s == sent_ack.wrapping_add(1) => "A+",
        _ => "O",
    };
    let a = match tcp.ack {
        0 => "Z",
        a if a == sent_seq => "S",
        a if a == sent_seq.wrapping_add(1) => "S+",
        _ => "O",
    };
    attrs.push(("S", s.to_owned()));
    attrs.push(("A", a.to_owned()));
    const LETTERS: [(TcpFlags, char); 7] = [
        (TcpFlags::ECE, 'E'),
        (TcpFlags::URG, 'U'),
        (TcpFlags::ACK, 'A'),
        (TcpFlags::PSH, 'P'),
        (TcpFlags::RST, 'R'),
        (TcpFlags::SYN, 'S'),
        (TcpFlags::FIN, 'F'),
    ];
    attrs.push(("F", LETTERS.iter().filter(|(f, _)| tcp.flags.contains(*f)).map(|(_, c)| *c).collect()));
    if n != 1 {
        attrs.push(("O", option_string(tcp)));
    }
    let rd = if tcp.flags.contains(TcpFlags::RST) && !tcp.payload.is_empty() {
        // Over all of the data, however long (Nmap book, "TCP/IP
        // Fingerprinting Methods", RST data checksum).
        format!("{:08X}", tcp.payload.crc32())
    } else {
        "0".to_owned()
    };
    attrs.push(("RD", rd));
    attrs.push(("Q", quirks(tcp)));
    SubjectTest::new(format!("T{n}"), attrs)
}

/// The `U1` test from the port unreachable and the datagram it quotes.
fn u1_test(
    set: &ProbeSet,
    ip: &IpHeader,
    icmp: &scry_packet::Icmp,
    quoted: &scry_packet::Quoted,
) -> SubjectTest {
    let ripl =
        if quoted.ip.total_len == U1_IP_LEN { "G".to_owned() } else { format!("{:X}", quoted.ip.total_len) };
    let rid = if quoted.ip.id == u32::from(U1_IP_ID) {
        "G".to_owned()
    } else {
        format!("{:X}", quoted.ip.id as u16)
    };
    let ripck = match (quoted.ip.checksum, quoted.ip.checksum_ok) {
        (0, _) => "Z",
        (_, true) => "G",
        (_, false) => "I",
    };
    let sent_udp = set.u1_checksum();
    let ruck = match quoted.udp_checksum {
        Some(sum) if sum == sent_udp => "G".to_owned(),
        Some(sum) => format!("{sum:X}"),
        None => "0".to_owned(),
    };
    let rud = if quoted.data.is_empty() || quoted.data.fill() == Some(U1_FILL) { "G" } else { "I" };
    SubjectTest::new(
        "U1",
        [
            ("R", "Y".to_owned()),
            ("DF", yes_no(ip.df).to_owned()),
            ("T", ip.ttl.to_string()),
            ("IPL", format!("{:X}", ip.total_len)),
            // nmap prints the 32-bit field with %hX: its low 16 bits.
            ("UN", format!("{:X}", u16::from_be_bytes([icmp.rest[2], icmp.rest[3]]))),
            ("RIPL", ripl),
            ("RID", rid),
            ("RIPCK", ripck.to_owned()),
            ("RUCK", ruck),
            ("RUD", rud.to_owned()),
        ],
    )
}

/// The `IE` test from the replies to IE1 and IE2 (header and ICMP code).
fn ie_test(one: (IpHeader, u8), two: (IpHeader, u8)) -> SubjectTest {
    let dfi = match (one.0.df, two.0.df) {
        (true, true) => "Y",
        (true, false) => "S",
        (false, false) => "N",
        (false, true) => "O",
    };
    let cd = match (one.1, two.1) {
        (0, 0) => "Z".to_owned(),
        (a, b) if a == b => format!("{a:X}"),
        (IE1_CODE, 0) => "S".to_owned(),
        _ => "O".to_owned(),
    };
    SubjectTest::new(
        "IE",
        [("R", "Y".to_owned()), ("DFI", dfi.to_owned()), ("T", one.0.ttl.to_string()), ("CD", cd)],
    )
}

/// nmap's option string (`get_tcpopt_string`): `L` EOL, `N` NOP, `M`+hex
/// MSS, `W`+hex shift, `S` SACK permitted, `T` + `0`/`1` for each timestamp
/// word being zero or not. Like nmap it reads every option at its fixed
/// size whatever its length byte says, and keeps reading after EOL (so
/// padding shows). A truncated option gives the empty string; so does an
/// unknown kind, which nmap 7.93 cannot step over.
pub fn option_string(tcp: &Tcp) -> String {
    let mut out = String::new();
    let mut rest = tcp.options.as_bytes();
    while let Some((&kind, _)) = rest.split_first() {
        let need = match kind {
            0 | 1 => 1,
            2 => 4,
            3 => 3,
            4 => 2,
            8 => 10,
            _ => return String::new(),
        };
        if rest.len() < need {
            return String::new();
        }
        match kind {
            0 => out.push('L'),
            1 => out.push('N'),
            2 => out += &format!("M{:X}", u16::from_be_bytes([rest[2], rest[3]])),
            3 => out += &format!("W{:X}", rest[2]),
            4 => out.push('S'),
            _ => {
                out.push('T');
                out.push(if rest[2..6] == [0; 4] { '0' } else { '1' });
                out.push(if rest[6..10] == [0; 4] { '0' } else { '1' });
            }
        }
        rest = &rest[need..];
    }
    out
}
