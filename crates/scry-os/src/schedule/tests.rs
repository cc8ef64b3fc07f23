//! The schedule in simulated time, 1 ms steps.

use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A fixed 250 ms timeout: instant answers keep it at its minimum.
fn fixed() -> Timing {
    Timing { initial_timeout: ms(250), min_timeout: ms(250), ..Timing::default() }
}

/// Runs the schedule to the end; `answers(probe, sends)` says whether that
/// send is answered (immediately). Returns `(ms, probe)` for every send.
fn run(mut s: HostSchedule, answers: impl Fn(OsProbe, u32) -> bool) -> Vec<(u64, OsProbe)> {
    let mut sent = Vec::new();
    for t in 0..20_000 {
        if let Some(p) = s.poll(ms(t)) {
            sent.push((t, p));
            if answers(p, s.sends(p)) {
                s.on_reply(p, ms(t));
            }
        }
        if s.is_done() {
            return sent;
        }
    }
    panic!("schedule never ended; sent {sent:?}");
}

#[test]
fn answered_host_gets_nmaps_sixteen_probes_in_order() {
    let sent = run(HostSchedule::new(fixed(), true, true, ms(0)), |_, _| true);
    let want: Vec<(u64, OsProbe)> = vec![
        (0, OsProbe::Seq(0)),
        (100, OsProbe::Seq(1)),
        (200, OsProbe::Seq(2)),
        (300, OsProbe::Seq(3)),
        (400, OsProbe::Seq(4)),
        (500, OsProbe::Seq(5)),
        (525, OsProbe::Ie(0)),
        (550, OsProbe::Ie(1)),
        (575, OsProbe::U1),
        (600, OsProbe::Ecn),
        (625, OsProbe::T(2)),
        (650, OsProbe::T(3)),
        (675, OsProbe::T(4)),
        (700, OsProbe::T(5)),
        (725, OsProbe::T(6)),
        (750, OsProbe::T(7)),
    ];
    assert_eq!(sent, want);
}

#[test]
fn unanswered_probes_are_resent_three_times_seq_never() {
    // T2 and T3 are never answered (as a Linux host's open port does).
    let sent = run(HostSchedule::new(fixed(), true, true, ms(0)), |p, _| !matches!(p, OsProbe::T(2 | 3)));
    let count = |probe| sent.iter().filter(|(_, p)| *p == probe).count();
    assert_eq!((count(OsProbe::T(2)), count(OsProbe::T(3)), count(OsProbe::T(4))), (4, 4, 1));
    let t2: Vec<u64> = sent.iter().filter(|(_, p)| *p == OsProbe::T(2)).map(|(t, _)| *t).collect();
    assert_eq!(t2, vec![625, 875, 1125, 1375]);
}

#[test]
fn seq_probes_without_answers_bring_ops_and_t1_resends() {
    // SEQ 1 and 4 unanswered: after the 250 ms timeout, OPS 0 and 3 and T1 follow.
    let sent = run(HostSchedule::new(fixed(), true, true, ms(0)), |p, _| !matches!(p, OsProbe::Seq(0 | 3)));
    let seq = sent.iter().filter(|(_, p)| matches!(p, OsProbe::Seq(_))).count();
    assert_eq!(seq, 6, "SEQ probes are not resent");
    let others: Vec<OsProbe> = sent.iter().map(|(_, p)| *p).skip(6).collect();
    assert_eq!(
        others,
        vec![
            OsProbe::Ie(0),
            OsProbe::Ie(1),
            OsProbe::U1,
            OsProbe::Ops(0),
            OsProbe::Ops(3),
            OsProbe::Ecn,
            OsProbe::T(1),
            OsProbe::T(2),
            OsProbe::T(3),
            OsProbe::T(4),
            OsProbe::T(5),
            OsProbe::T(6),
            OsProbe::T(7)
        ]
    );
    assert_eq!(sent[6].0, 750, "the second phase waits for the SEQ timeout");
}

#[test]
fn without_ports_only_the_probes_that_need_none() {
    let sent = run(HostSchedule::new(fixed(), false, false, ms(0)), |_, _| true);
    let probes: Vec<OsProbe> = sent.iter().map(|(_, p)| *p).collect();
    assert_eq!(probes, vec![OsProbe::Ie(0), OsProbe::Ie(1), OsProbe::U1]);
}

#[test]
fn a_silent_host_ends_after_its_resends() {
    let mut s = HostSchedule::new(fixed(), true, true, ms(0));
    let sent = run(s.clone(), |_, _| false);
    // 6 SEQ, then IE x2, U1, OPS x6, ECN, T1-T7, each sent 4 times.
    let others = 3 + 6 + 1 + 7;
    assert_eq!(sent.len(), 6 + others * 4);
    assert_eq!(s.poll(ms(0)), Some(OsProbe::Seq(0)));
    assert_eq!(s.seq_sent_us()[0], Some(0));
    assert_eq!(s.sends(OsProbe::Seq(0)), 1);
}

#[test]
fn the_timeout_follows_the_round_trip() {
    // Every reply takes 40 ms, except that T2 is never answered.
    let mut s = HostSchedule::new(Timing::default(), true, true, ms(0));
    assert_eq!(s.timeout(), ms(1000), "before any reply");
    let mut inflight: Vec<(u64, OsProbe)> = Vec::new();
    let mut t2 = Vec::new();
    for t in 0..20_000 {
        for (_, p) in inflight.iter().filter(|(due, _)| *due == t) {
            s.on_reply(*p, ms(t));
        }
        if let Some(p) = s.poll(ms(t)) {
            if p == OsProbe::T(2) {
                t2.push(t);
            } else {
                inflight.push((t + 40, p));
            }
        }
        if s.is_done() {
            break;
        }
    }
    assert!(s.is_done());
    // srtt 40 ms, rttvar shrinking from 20 ms: 100 ms is the floor.
    assert_eq!(s.timeout(), ms(100));
    let gaps: Vec<u64> = t2.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps, vec![100, 100, 100]);
}
