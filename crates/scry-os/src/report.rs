//! nmap's OS detection report, as data: the lines of normal output and a
//! JSON form per match. Nothing here prints.
//!
//! The rules are nmap 7.93's `printosscanoutput`, `printosclassificationoutput`
//! (output.cc) and `FingerPrintResults::populateClassification`:
//!
//! * "OS details:" lists the perfect matches, unless there are more than 8
//!   ("Too many fingerprints match this host to give specific OS details")
//!   and debugging (`-d`) is off, or nmap's 36 results overflowed.
//! * Without a perfect match, "Aggressive OS guesses:" is printed only with
//!   `--osscan-guess` or when the test conditions were not ideal; it lists at
//!   most 10 matches, each within 10 points of the best (strictly more than
//!   best - 0.10), with `floor(accuracy * 100)` percent.
//! * Classes (vendor, family, generation, type) are collected from the ranked
//!   matches, deduplicated; with a perfect match only the perfect ones count.
//!   "Device type:", "Running:" (or "Running (JUST GUESSING):" when no class
//!   is perfect) and "OS CPE:" summarise them; nothing is printed when more
//!   than 8 device types, families or CPEs would be needed.

use serde::Serialize;

use crate::db::OsClass;
use crate::matcher::{percent, MatchStatus, OsMatch, OsResult, MAX_MATCHES};
use crate::subject::SubjectFingerprint;

#[cfg(test)]
mod tests;

/// nmap's `MAX_OS_CLASSMEMBERS`: most types, families or CPEs summarised.
const MAX_CLASS_MEMBERS: usize = 8;

/// Most perfect matches that are still named ("OS details").
const MAX_DETAILS: usize = 8;

/// Most guesses listed.
const MAX_GUESSES: usize = 10;

/// The circumstances nmap's printing depends on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportOptions {
    /// `--osscan-guess`: list guesses even when the conditions were ideal.
    pub osscan_guess: bool,
    /// Why the fingerprint is not good enough to submit (nmap's
    /// `OmitSubmissionFP`, e.g. "Missing a closed TCP port so results
    /// incomplete"); nmap then guesses as if `--osscan-guess` were given.
    pub omit_reason: Option<String>,
    /// Not both an open and a closed TCP port were found.
    pub unreliable: bool,
    /// `-d` or `-vv` (nmap's `o.debugging || o.verbose > 1`): the
    /// fingerprint follows every result, and a guess says why the
    /// conditions were not ideal.
    pub always_fingerprint: bool,
    /// `-d`: more than 8 perfect matches are still named; nmap calls them
    /// "too many" only without debugging (or past its 36 results).
    pub debugging: bool,
}

/// How nmap prints the subject fingerprint after the OS lines
/// (output.cc `write_merged_fpr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FingerprintShown {
    /// Wrapped in `OS:` lines for submission, else one test per line.
    pub wrapped: bool,
    /// The SCAN line's `G`: fit to submit.
    pub good: bool,
}

/// Whether and how nmap 7.93's `printosscanoutput` prints the fingerprint:
/// always wrapped, `G=Y`, when it asks for a submission (no perfect match,
/// ideal conditions); with [`ReportOptions::always_fingerprint`] also after
/// a perfect match (wrapped, `G` as the conditions), and one test per line
/// with `G=N` after a result under non-ideal conditions or too many matches.
pub fn fingerprint_shown(result: &OsResult, options: &ReportOptions) -> Option<FingerprintShown> {
    let ideal = options.omit_reason.is_none();
    let lines = FingerprintShown { wrapped: false, good: false };
    match result.status {
        _ if too_many(result, options) => options.always_fingerprint.then_some(lines),
        MatchStatus::Success if result.perfect > 0 => {
            options.always_fingerprint.then_some(FingerprintShown { wrapped: true, good: ideal })
        }
        _ if ideal => Some(FingerprintShown { wrapped: true, good: true }),
        _ => options.always_fingerprint.then_some(lines),
    }
}

/// The fingerprint as [`fingerprint_shown`] says, SCAN line first with its
/// `G` set accordingly; ends with a line break.
pub fn fingerprint_text(fingerprint: &SubjectFingerprint, shown: FingerprintShown) -> String {
    let mut fp = fingerprint.clone();
    if let Some(scan) = fp.scan.as_mut() {
        for (_, value) in scan.attrs.iter_mut().filter(|(a, _)| a == "G") {
            *value = if shown.good { "Y" } else { "N" }.to_owned();
        }
    }
    if shown.wrapped {
        fp.to_wrapped(true)
    } else {
        fp.to_lines(true)
    }
}

/// One deduplicated class and the accuracy of the best match carrying it.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassMatch<'a> {
    /// The class.
    pub class: &'a OsClass,
    /// Accuracy of the match it came from.
    pub accuracy: f64,
}

/// The classes of a result (nmap's `OS_Classification_Results`).
#[derive(Clone, Debug, PartialEq)]
pub struct Classification<'a> {
    /// Overall status of the classification.
    pub status: MatchStatus,
    /// Classes in rank order.
    pub classes: Vec<ClassMatch<'a>>,
    /// How many leading classes come from perfect matches.
    pub perfect: usize,
}

/// Collects the classes of a result as nmap's `populateClassification` does.
pub fn classify(result: &OsResult) -> Classification<'_> {
    let mut c = Classification { status: MatchStatus::Success, classes: Vec::new(), perfect: 0 };
    if result.status == MatchStatus::TooManyMatches {
        c.status = MatchStatus::TooManyMatches;
        return c;
    }
    for (printno, m) in result.matches.iter().enumerate() {
        for class in m.classes.iter() {
            let known = c.classes.iter().any(|k| {
                k.class.vendor == class.vendor
                    && k.class.family == class.family
                    && k.class.device_type == class.device_type
                    && k.class.generation == class.generation
            });
            if known {
                continue;
            }
            if c.classes.len() == MAX_MATCHES {
                if printno < result.perfect {
                    c.status = MatchStatus::TooManyMatches;
                }
                return c;
            }
            if c.perfect > 0 && printno >= result.perfect {
                return c;
            }
            c.classes.push(ClassMatch { class, accuracy: m.accuracy });
            if printno < result.perfect {
                c.perfect += 1;
            }
        }
    }
    if c.classes.is_empty() {
        c.status = MatchStatus::NoMatches;
    }
    c
}

/// Adds `item` unless present; false when it would overflow.
fn add_if_new<'a>(list: &mut Vec<&'a str>, item: &'a str) -> bool {
    if list.contains(&item) {
        return true;
    }
    if list.len() >= MAX_CLASS_MEMBERS {
        return false;
    }
    list.push(item);
    true
}

/// The "Device type:", "Running:" and "OS CPE:" lines; `guess` also admits
/// imperfect classes (nmap passes `--osscan-guess` or a non-ideal reason).
pub fn class_lines(c: &Classification<'_>, guess: bool) -> Vec<String> {
    if c.status != MatchStatus::Success || c.classes.is_empty() {
        return Vec::new();
    }
    let best = c.classes[0].accuracy;
    let mut overflow = false;
    let mut types: Vec<&str> = Vec::new();
    let mut cpes: Vec<&str> = Vec::new();
    // (vendor+family, generations, accuracy)
    let mut families: Vec<(String, String, f64)> = Vec::new();
    for (classno, cm) in c.classes.iter().enumerate() {
        if (!guess && classno >= c.perfect) || cm.accuracy <= best - 0.1 || (cm.accuracy < 1.0 && classno > 9)
        {
            break;
        }
        let class = cm.class;
        overflow |= !add_if_new(&mut types, &class.device_type);
        for cpe in &class.cpe {
            overflow |= !add_if_new(&mut cpes, &cpe.name);
        }
        let family = if class.vendor == class.family {
            class.family.clone()
        } else {
            format!("{} {}", class.vendor, class.family)
        };
        let full = families.len() >= MAX_CLASS_MEMBERS;
        match families.iter_mut().find(|(f, _, _)| *f == family) {
            Some((_, gens, _)) => {
                if let Some(g) = class.generation.as_deref().filter(|g| !gens.contains(g)) {
                    if !gens.is_empty() {
                        gens.push('|');
                    }
                    gens.push_str(g);
                }
            }
            None if full => {
                overflow = true;
                break;
            }
            None => families.push((family, class.generation.clone().unwrap_or_default(), cm.accuracy)),
        }
    }
    if overflow || families.is_empty() {
        return Vec::new();
    }
    let running: Vec<String> = families
        .iter()
        .enumerate()
        .map(|(i, (family, gens, acc))| {
            let mut s = family.clone();
            if !gens.is_empty() {
                s.push(' ');
                s.push_str(gens);
            }
            if i >= c.perfect {
                s.push_str(&format!(" ({}%)", percent(*acc)));
            }
            s
        })
        .collect();
    let mut lines = vec![
        format!("Device type: {}", types.join("|")),
        format!("Running{}: {}", if c.perfect == 0 { " (JUST GUESSING)" } else { "" }, running.join(", ")),
    ];
    if !cpes.is_empty() {
        lines.push(format!("OS CPE: {}", cpes.join(" ")));
    }
    lines
}

/// Whether nmap would call this "too many fingerprints".
fn too_many(result: &OsResult, options: &ReportOptions) -> bool {
    result.status == MatchStatus::TooManyMatches || (result.perfect > MAX_DETAILS && !options.debugging)
}

/// The matches nmap names (its XML `osmatch` elements): the perfect ones, or
/// without any, up to 10 guesses within 10 points of the best.
pub fn listed_matches<'a>(result: &'a OsResult, options: &ReportOptions) -> &'a [OsMatch] {
    if result.status != MatchStatus::Success || too_many(result, options) {
        return &[];
    }
    if result.perfect > 0 {
        return &result.matches[..result.perfect];
    }
    let best = result.matches.first().map_or(0.0, |m| m.accuracy);
    let n = result.matches.iter().take(MAX_GUESSES).take_while(|m| m.accuracy > best - 0.10).count();
    &result.matches[..n]
}

/// "OS details: A, B" when there are 1 to 8 perfect matches (any number
/// with [`ReportOptions::debugging`]).
pub fn details_line(result: &OsResult, options: &ReportOptions) -> Option<String> {
    if result.status != MatchStatus::Success || too_many(result, options) || result.perfect == 0 {
        return None;
    }
    let names: Vec<&str> = result.matches[..result.perfect].iter().map(|m| &*m.name).collect();
    Some(format!("OS details: {}", names.join(", ")))
}

/// "Aggressive OS guesses: A (96%), B (92%)" when there is no perfect match.
pub fn guesses_line(result: &OsResult, options: &ReportOptions) -> Option<String> {
    if result.status != MatchStatus::Success || too_many(result, options) || result.perfect > 0 {
        return None;
    }
    let list: Vec<String> =
        listed_matches(result, options).iter().map(|m| format!("{} ({}%)", m.name, m.percent())).collect();
    (!list.is_empty()).then(|| format!("Aggressive OS guesses: {}", list.join(", ")))
}

/// nmap's report lines, in order, without the fingerprint block that may
/// follow them (see [`fingerprint_shown`]).
pub fn os_lines(result: &OsResult, options: &ReportOptions) -> Vec<String> {
    let mut out = Vec::new();
    if options.unreliable && !too_many(result, options) {
        out.push(
            "Warning: OSScan results may be unreliable because we could not find at least 1 open and 1 closed port"
                .to_owned(),
        );
    }
    let reason = options.omit_reason.as_deref();
    let guess = options.osscan_guess || reason.is_some();
    out.extend(class_lines(&classify(result), guess));
    match result.status {
        _ if too_many(result, options) => {
            out.push("Too many fingerprints match this host to give specific OS details".to_owned());
        }
        MatchStatus::Success if result.perfect > 0 => out.extend(details_line(result, options)),
        MatchStatus::Success => {
            if let (Some(r), true) = (reason, options.always_fingerprint) {
                out.push(format!("OS fingerprint not ideal because: {r}"));
            }
            if guess {
                out.extend(guesses_line(result, options));
            }
            out.push(match reason {
                None => "No exact OS matches for host (If you know what OS is running on it, see https://nmap.org/submit/ ).".to_owned(),
                Some(_) => "No exact OS matches for host (test conditions non-ideal).".to_owned(),
            });
        }
        _ => match reason {
            None => out.push(
                "No OS matches for host (If you know what OS is running on it, see https://nmap.org/submit/ ).".to_owned(),
            ),
            Some(r) => {
                out.push(format!("OS fingerprint not ideal because: {r}"));
                out.push("No OS matches for host".to_owned());
            }
        },
    }
    out
}

/// One match in scry's JSON output.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MatchJson<'a> {
    /// OS name.
    pub name: &'a str,
    /// `floor(accuracy * 100)`, as nmap prints it.
    pub accuracy: u32,
    /// Line of the reference in its database file.
    pub line: usize,
    /// Classes: `{vendor, family, generation, type}`.
    pub classes: &'a [OsClass],
    /// Every CPE of those classes, in order, without repeats.
    pub cpe: Vec<&'a str>,
}

impl OsMatch {
    /// The JSON form of this match.
    pub fn to_json(&self) -> MatchJson<'_> {
        let mut cpe: Vec<&str> = Vec::new();
        for c in self.classes.iter().flat_map(|class| &class.cpe) {
            if !cpe.contains(&c.name.as_str()) {
                cpe.push(&c.name);
            }
        }
        MatchJson { name: &self.name, accuracy: self.percent(), line: self.line, classes: &self.classes, cpe }
    }
}
