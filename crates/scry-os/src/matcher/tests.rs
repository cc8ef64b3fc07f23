//! Matching rules on small hand-made databases.

use super::*;
use crate::db::DatabaseBuilder;

const MP: &str = "MatchPoints
SEQ(SP=25%GCD=75%TS=100)
T1(R=100%DF=20%T=15%TG=15%S=20%A=20%F=30%RD=20%Q=20)
T2(R=80%DF=20%W=25)
U1(R=50%DF=20%IPL=100)
";

fn make_db(entries: &str) -> Database {
    let mut b = DatabaseBuilder::new();
    b.add_str("test.db", &format!("{MP}\n{entries}")).unwrap();
    b.build().unwrap()
}

fn subject(text: &str) -> SubjectFingerprint {
    SubjectFingerprint::parse(text).unwrap()
}

fn names(result: &OsResult) -> Vec<(&str, u32)> {
    result.matches.iter().map(|m| (&*m.name, m.percent())).collect()
}

#[test]
fn accuracy_is_matched_over_possible_points() {
    let db = make_db("Fingerprint A\nSEQ(SP=0-5%GCD=1%TS=U)\nT1(R=Y%DF=Y%S=O)\n");
    let m = Matcher::new(&db);
    // SP ok (25), GCD wrong (75), TS ok (100), R ok (100), DF ok (20), S wrong (20).
    let s = m.score(&subject("SEQ(SP=3%GCD=2%TS=U)\nT1(R=Y%DF=Y%S=Z%A=S)"), &db.references()[0]);
    assert_eq!(s, Score { matched: 245, possible: 340 });
    assert!((s.accuracy() - 245.0 / 340.0).abs() < 1e-12);
}

#[test]
fn missing_tests_and_attributes_are_skipped() {
    let db = make_db("Fingerprint A\nSEQ(SP=0-5%GCD=1%TS=U)\nT1(R=Y%DF=Y)\n");
    let m = Matcher::new(&db);
    // No T1 in the subject, no GCD: only SP and TS are compared.
    let s = m.score(&subject("SEQ(SP=3%TS=U%II=I)\nT7(R=Y)"), &db.references()[0]);
    assert_eq!(s, Score { matched: 125, possible: 125 });
    // Nothing comparable at all: accuracy 0, not a match.
    let s = m.score(&subject("T7(R=Y)"), &db.references()[0]);
    assert_eq!(s.accuracy(), 0.0);
    assert_eq!(m.match_subject(&subject("T7(R=Y)")).status, MatchStatus::NoMatches);
}

#[test]
fn no_response_is_scored_through_r() {
    let db = make_db("Fingerprint A\nT2(R=N)\nFingerprint B\nT2(R=Y%DF=N%W=0)\n");
    let m = Matcher::new(&db);
    let s = subject("T2(R=N)");
    assert_eq!(m.score(&s, &db.references()[0]), Score { matched: 80, possible: 80 });
    assert_eq!(m.score(&s, &db.references()[1]), Score { matched: 0, possible: 80 });
    let s = subject("T2(R=Y%DF=N%W=0)");
    assert_eq!(m.score(&s, &db.references()[0]), Score { matched: 0, possible: 80 });
}

#[test]
fn implied_r_only_in_the_modern_dialect() {
    let db = make_db("Fingerprint A\nU1(DF=N%IPL=164)\n");
    let r = &db.references()[0];
    let old = Matcher::new(&db);
    let modern =
        Matcher::with_options(&db, MatchOptions { dialect: Dialect::Modern, ..MatchOptions::default() });
    let answered = subject("U1(R=Y%DF=N%IPL=164)");
    let silent = subject("U1(R=N)");
    assert_eq!(old.score(&answered, r), Score { matched: 120, possible: 120 });
    assert_eq!(modern.score(&answered, r), Score { matched: 170, possible: 170 });
    // 7.93 has nothing to compare when U1 got no answer; newer nmap penalises.
    assert_eq!(old.score(&silent, r), Score { matched: 0, possible: 0 });
    assert_eq!(modern.score(&silent, r), Score { matched: 0, possible: 50 });
}

#[test]
fn threshold_is_inclusive() {
    // 85 of 100 points: exactly the threshold.
    let db = make_db("Fingerprint A\nT1(R=Y%F=AS%Q=R)\n");
    let m = Matcher::new(&db);
    let r = m.match_subject(&subject("T1(R=Y%F=AS%Q=)"));
    assert_eq!(m.score(&subject("T1(R=Y%F=AS%Q=)"), &db.references()[0]).accuracy(), 130.0 / 150.0);
    assert_eq!(r.status, MatchStatus::Success);
    let db = db_with_points("Fingerprint A\nT1(R=Y%DF=N)\n", "T1(R=85%DF=15)");
    let m = Matcher::new(&db);
    assert_eq!(names(&m.match_subject(&subject("T1(R=Y%DF=Y)"))), [("A", 85)]);
    let db = db_with_points("Fingerprint A\nT1(R=Y%DF=N)\n", "T1(R=84%DF=16)");
    assert_eq!(Matcher::new(&db).match_subject(&subject("T1(R=Y%DF=Y)")).status, MatchStatus::NoMatches);
}

fn db_with_points(entries: &str, points: &str) -> Database {
    let mut b = DatabaseBuilder::new();
    b.add_str("test.db", &format!("MatchPoints\n{points}\n\n{entries}")).unwrap();
    b.build().unwrap()
}

#[test]
fn ranking_ties_keep_database_order_and_names_are_deduplicated() {
    let db = make_db(
        "Fingerprint B\nT1(R=Y%DF=Y%S=Z)\n\n\
                 Fingerprint A\nT1(R=Y%DF=Y%S=O)\n\n\
                 Fingerprint C\nT1(R=Y%DF=Y%S=O)\n\n\
                 Fingerprint B\nT1(R=Y%DF=Y%S=O)\n\n\
                 Fingerprint A\nT1(R=Y%DF=N%S=O)\n",
    );
    let r = Matcher::new(&db).match_subject(&subject("T1(R=Y%DF=Y%S=O)"));
    // The second "B" (perfect) replaces the first (85%) and ranks after A and C.
    assert_eq!(names(&r), [("A", 100), ("C", 100), ("B", 100)]);
    assert_eq!(r.perfect, 3);
    assert_eq!(r.matches[2].index, 3);
}

#[test]
fn at_most_36_results_and_then_a_stricter_entrance() {
    let mut entries = String::new();
    for i in 0..40 {
        // A wrong W costs 5 of 115 points.
        let w = if i < 20 { "0" } else { "1" };
        entries.push_str(&format!("Fingerprint OS {i:02}\nT2(R=Y%DF=Y%W={w})\n\n"));
    }
    entries.push_str("Fingerprint Late\nT2(R=Y%DF=Y%W=1)\n");
    let db = db_with_points(&entries, "T2(R=100%DF=10%W=5)");
    let r = Matcher::new(&db).match_subject(&subject("T2(R=Y%DF=Y%W=0)"));
    assert_eq!(r.matches.len(), MAX_MATCHES);
    assert_eq!(r.perfect, 20);
    // 20 perfect ones, then 16 of the 20 imperfect ones, first come first served.
    assert_eq!(&*r.matches[35].name, "OS 35");
    assert!(r.matches.iter().all(|m| &*m.name != "Late"));
}

#[test]
fn too_many_perfect_matches() {
    let mut entries = String::new();
    for i in 0..37 {
        entries.push_str(&format!("Fingerprint OS {i}\nT1(R=Y)\n\n"));
    }
    let db = make_db(&entries);
    let r = Matcher::new(&db).match_subject(&subject("T1(R=Y)"));
    assert_eq!(r.status, MatchStatus::TooManyMatches);
    assert_eq!(r.perfect, 36);
    // 36 distinct names are fine, and a repeated name is not a new match.
    let db = make_db(&(entries.replace("OS 36", "OS 35")));
    let r = Matcher::new(&db).match_subject(&subject("T1(R=Y)"));
    assert_eq!(r.status, MatchStatus::Success);
    assert_eq!(r.perfect, 36);
}

#[test]
fn repeated_subject_tests_count_once() {
    let db = make_db("Fingerprint A\nT1(R=Y%DF=Y)\n");
    let m = Matcher::new(&db);
    let s = subject("T1(R=Y%DF=Y)\nT1(R=Y%DF=N)");
    assert_eq!(m.score(&s, &db.references()[0]), Score { matched: 120, possible: 120 });
    let s = subject("T1(R=Y%DF=N%DF=Y)");
    assert_eq!(m.score(&s, &db.references()[0]), Score { matched: 100, possible: 120 });
}

#[test]
fn custom_threshold() {
    let db = make_db("Fingerprint A\nT1(R=Y%DF=Y%S=O)\n");
    let s = subject("T1(R=N)");
    let m = Matcher::with_options(&db, MatchOptions { threshold: 0.0, ..MatchOptions::default() });
    let r = m.match_subject(&s);
    assert_eq!(names(&r), [("A", 0)]);
}

#[test]
fn example_subjects_score_perfectly() {
    let db =
        make_db("Fingerprint A\nSEQ(SP=0-5%GCD=1|>1000000%TS=U)\nT1(R=Y%DF=Y|N%S=O)\nU1(DF=N)\nT2(R=N)\n");
    for dialect in [Dialect::Nmap793, Dialect::Modern] {
        let m = Matcher::with_options(&db, MatchOptions { dialect, ..MatchOptions::default() });
        let r = &db.references()[0];
        let s = m.example_subject(r).unwrap();
        let score = m.score(&s, r);
        assert_eq!(score.matched, score.possible, "{dialect:?}: {s}");
        assert_eq!(m.match_subject(&s).perfect, 1);
    }
}

#[test]
fn a_one_syn_ack_subject_is_scored_on_o1_w1_and_t1_only() {
    let mut b = DatabaseBuilder::new();
    let text = "MatchPoints
SEQ(SP=25%GCD=75)
OPS(O1=20%O2=20%O3=20)
WIN(W1=15%W2=15%W3=15)
T1(R=100%DF=20%TG=15%S=20%A=20%F=30%RD=20%Q=20)
T2(R=80%DF=20%W=25)

Fingerprint A
SEQ(SP=0-5%GCD=1)
OPS(O1=M5B4ST11NW7%O2=M5B4ST11NW7%O3=M5B4NNT11NW7)
WIN(W1=FE88%W2=FE88%W3=FE88)
T1(R=Y%DF=Y%TG=40%S=O%A=S+%F=AS%RD=0%Q=)
T2(R=N)
";
    b.add_str("test.db", text).unwrap();
    let db = b.build().unwrap();
    let m = Matcher::new(&db);
    // Everything but W1 agrees: O1 (20) and T1's 245 of 245; W1 (15) missed.
    let s = m.score(
        &subject("OPS(O1=M5B4ST11NW7)\nWIN(W1=FAF0)\nT1(R=Y%DF=Y%TG=40%S=O%A=S+%F=AS%RD=0%Q=)"),
        &db.references()[0],
    );
    assert_eq!(s, Score { matched: 265, possible: 280 });
}

#[test]
fn families_rank_by_accuracy_then_references() {
    let db = make_db(
        "Fingerprint A1\nClass A | A | 1 | general purpose\nT1(R=Y%DF=Y)\n\
         Fingerprint B1\nClass B | B | 1 | general purpose\nT1(R=Y%DF=Y)\n\
         Fingerprint B2\nClass B | B | 2 | general purpose\nT1(R=Y%DF=Y)\n\
         Fingerprint C1\nClass C | C | 1 | general purpose\nT1(R=Y%DF=N)\n",
    );
    let f = Matcher::new(&db).families(&subject("T1(R=Y%DF=Y)"));
    let got: Vec<(&str, u32, u32)> =
        f.iter().map(|f| (f.family.as_str(), percent(f.accuracy), f.references)).collect();
    // C misses DF: 100 of 120 points.
    assert_eq!(got, [("B", 100, 2), ("A", 100, 1), ("C", 83, 1)]);
}

#[test]
fn families_tie_on_whole_percents_and_then_count_references() {
    // A's reference misses TG of 345 possible points (95.65%); B's two lack
    // Q, so they miss TG of 325 (95.38%): the same 95% as nmap prints it,
    // where B's two references outweigh A's finer fraction.
    let db = make_db(
        "Fingerprint A1\nClass A | A | 1 | general purpose\nSEQ(TS=U)\n\
         T1(R=Y%DF=Y%TG=80%S=O%A=S+%F=AS%RD=0%Q=)\n\
         Fingerprint B1\nClass B | B | 1 | general purpose\nSEQ(TS=U)\n\
         T1(R=Y%DF=Y%TG=80%S=O%A=S+%F=AS%RD=0)\n\
         Fingerprint B2\nClass B | B | 2 | general purpose\nSEQ(TS=U)\n\
         T1(R=Y%DF=Y%TG=80%S=O%A=S+%F=AS%RD=0)\n",
    );
    let m = Matcher::new(&db);
    let s = subject("SEQ(TS=U)\nT1(R=Y%DF=Y%TG=40%S=O%A=S+%F=AS%RD=0%Q=)");
    assert_eq!(m.score(&s, &db.references()[0]), Score { matched: 330, possible: 345 });
    assert_eq!(m.score(&s, &db.references()[1]), Score { matched: 310, possible: 325 });
    let families = m.families(&s);
    let got: Vec<(&str, u32, u32)> =
        families.iter().map(|f| (f.family.as_str(), f.percent(), f.references)).collect();
    assert_eq!(got, [("B", 95, 2), ("A", 95, 1)]);
    // Each family keeps its best accuracy.
    assert_eq!(families[1].accuracy, 330.0 / 345.0);
}
