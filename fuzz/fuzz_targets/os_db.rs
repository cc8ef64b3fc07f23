//! The nmap-os-db parser on any text (read as `add_file` reads a file), and,
//! when it builds, one fixed subject fingerprint matched against it so the
//! compiled expressions are evaluated too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scry_os::{DatabaseBuilder, Matcher, SubjectFingerprint};
use std::sync::OnceLock;

const SUBJECT: &str = "SEQ(SP=105%GCD=1%ISR=10C%TI=Z%CI=Z%II=I%TS=A)\
OPS(O1=M5B4ST11NW7%O2=M5B4ST11NW7%O3=M5B4NNT11NW7%O4=M5B4ST11NW7%O5=M5B4ST11NW7%O6=M5B4ST11)\
WIN(W1=FE88%W2=FE88%W3=FE88%W4=FE88%W5=FE88%W6=FE88)\
ECN(R=Y%DF=Y%T=40%W=FAF0%O=M5B4NNSNW7%CC=Y%Q=)\
T1(R=Y%DF=Y%T=40%S=O%A=S+%F=AS%RD=0%Q=)T2(R=N)T3(R=N)\
T4(R=Y%DF=Y%T=40%W=0%S=A%A=Z%F=R%O=%RD=0%Q=)\
T5(R=Y%DF=Y%T=40%W=0%S=Z%A=S+%F=AR%O=%RD=0%Q=)\
T6(R=Y%DF=Y%T=40%W=0%S=A%A=Z%F=R%O=%RD=0%Q=)\
T7(R=Y%DF=Y%T=40%W=0%S=Z%A=S+%F=AR%O=%RD=0%Q=)\
U1(R=Y%DF=N%T=40%IPL=164%UN=0%RIPL=G%RID=G%RIPCK=G%RUCK=G%RUD=G)\
IE(R=Y%DFI=N%T=40%CD=S)";

fn subject() -> &'static SubjectFingerprint {
    static SUBJECT_FP: OnceLock<SubjectFingerprint> = OnceLock::new();
    SUBJECT_FP.get_or_init(|| SubjectFingerprint::parse(SUBJECT).expect("the fixed subject parses"))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut builder = DatabaseBuilder::new();
    if builder.add_str("fuzz.db", &text).is_err() {
        return;
    }
    if let Ok(db) = builder.build() {
        let _ = Matcher::new(&db).match_subject(subject());
    }
});
