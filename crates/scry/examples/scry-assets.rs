//! Writes scry's man page and shell completions, generated from the clap
//! definition of its command line, into a directory:
//!
//! ```text
//! cargo run -p scry --example scry-assets -- OUT_DIR
//! ```
//!
//! `OUT_DIR/scry.1` (roff, for `man`), `OUT_DIR/scry.bash`, `OUT_DIR/_scry`
//! (zsh) and `OUT_DIR/scry.fish`. `scripts/package.sh` runs it before
//! building the Debian package; nothing generated is committed. An example
//! rather than a part of the binary, so `scry` itself carries neither
//! generator.

// The command line is the binary's own module, compiled here a second time.
#[allow(dead_code)]
#[path = "../src/cli.rs"]
mod cli;
// cli.rs parses -T with it.
#[allow(dead_code)]
#[path = "../src/timing.rs"]
mod timing;

use clap::CommandFactory;
use clap_complete::Shell;
use std::path::PathBuf;

/// Where scry finds its data (crates/scry/src/datadir.rs), in roff.
const FILES: &str = r#".SH FILES
scry reads nmap's data files: \fBnmap\-os\-db\fR (\fB\-O\fR, the OS guess,
\fB\-\-os\-match\fR), \fBnmap\-services\fR (port names, top ports, names in
\fB\-p\fR) and \fBnmap\-payloads\fR (UDP payloads). Each is taken from the
first of these directories that holds it:
.IP \(bu 2
\fB\-\-datadir\fR \fIDIR\fR, then \fB$SCRY_DATADIR\fR;
.IP \(bu 2
\fB$XDG_DATA_HOME/scry\fR (default \fI~/.local/share/scry\fR), then \fBscry\fR
under each of \fB$XDG_DATA_DIRS\fR (default \fI/usr/local/share/scry\fR,
\fI/usr/share/scry\fR);
.IP \(bu 2
nmap's install: \fI/usr/share/nmap\fR, \fI/usr/local/share/nmap\fR, or the
colon\-separated list in \fB$SCRY_NMAP_DIRS\fR when it is set.
.PP
Debian's \fBnmap\-common\fR package installs the three files without nmap
itself. Without nmap\-services, scry scans ports given by number and names
them "unknown"; without nmap\-os\-db there is no OS detection; without
nmap\-payloads UDP probes carry scry's built\-in payloads.
\fBscry \-\-version\fR lists the files found and the directories searched;
\fB\-d\fR prints the same when a scan starts. scry ships no fingerprints of
its own; \fI/usr/share/scry\fR holds a README.
"#;

fn main() -> std::io::Result<()> {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: scry-assets OUT_DIR");
        std::process::exit(2);
    };
    std::fs::create_dir_all(&out)?;
    let command = cli::Args::command();
    let man = clap_mangen::Man::new(command.clone());
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    man.render_extra_section(&mut page)?;
    page.extend_from_slice(FILES.as_bytes());
    man.render_version_section(&mut page)?;
    std::fs::write(out.join("scry.1"), page)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut command.clone(), "scry", &out)?;
    }
    Ok(())
}
