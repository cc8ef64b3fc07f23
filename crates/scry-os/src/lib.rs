//! scry's OS fingerprinting core: nmap's reference database, subject
//! fingerprints and nmap's matching rules. No packets, no I/O beyond
//! reading database files, no printing.
//!
//! ```no_run
//! use scry_os::{report, Database, Matcher, ReportOptions, SubjectFingerprint};
//!
//! let db = Database::load(&["/usr/share/nmap/nmap-os-db"])?;
//! let subject = SubjectFingerprint::parse(
//!     "SEQ(SP=101%GCD=1%ISR=10A%TI=Z%CI=Z%II=I%TS=A)\nT1(R=Y%DF=Y%T=40%S=O%A=S+%F=AS%RD=0%Q=)",
//! )?;
//! let result = Matcher::new(&db).match_subject(&subject);
//! for line in report::os_lines(&result, &ReportOptions::default()) {
//!     println!("{line}");
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The module docs cite the Nmap book ("Nmap Network Scanning", chapter 8)
//! and nmap 7.93's osscan.cc / output.cc for every rule; `docs/os-detection.md`
//! explains them in one place.

pub mod compute;
pub mod db;
pub mod error;
pub mod expr;
pub mod matcher;
pub mod probes;
pub mod report;
pub mod schedule;
pub mod schema;
pub mod subject;

pub use db::{Cpe, Database, DatabaseBuilder, OsClass, Reference};
pub use error::{DbError, SubjectError};
pub use expr::{Dialect, Expr, Value};
pub use matcher::{
    FamilyScore, MatchOptions, MatchStatus, Matcher, OsMatch, OsResult, Score, GUESS_THRESHOLD, MAX_MATCHES,
};
pub use report::{MatchJson, ReportOptions};
pub use subject::{SubjectFingerprint, SubjectTest};
