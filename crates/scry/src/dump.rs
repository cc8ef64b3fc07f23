//! `--pcap FILE`: every frame scry sends and receives, in a pcap file.
//!
//! libpcap's file handle stays on one writer thread; the sender and the
//! receiver hand it copies of their frames through a bounded channel. When
//! the disk cannot keep up, the channel fills and the scan slows down rather
//! than memory growing or frames going missing from the file.

use anyhow::Context;
use scry_capture::PcapWriter;
use std::fs::File;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Batches in flight to the writer thread before senders wait.
const QUEUE: usize = 256;

/// Frames of one length, back to back, stamped with one time.
struct Batch {
    at: Duration,
    frame_len: usize,
    wire_len: u32,
    bytes: Vec<u8>,
}

/// The writer thread and the way to feed it.
pub struct PcapDump {
    tx: SyncSender<Batch>,
    thread: JoinHandle<anyhow::Result<()>>,
}

/// What the sender and receiver threads hold to add frames to the file.
#[derive(Clone)]
pub struct DumpTap {
    tx: SyncSender<Batch>,
}

fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// The file of a [`PcapDump`], created before the process gives up its
/// permissions, with no thread yet (a thread would not survive a fork).
pub struct PcapFile {
    file: File,
    shown: String,
}

impl PcapFile {
    /// Creates `path`, truncating it.
    ///
    /// # Errors
    /// When the file cannot be created.
    pub fn create(path: &Path) -> anyhow::Result<PcapFile> {
        let file = File::create(path).with_context(|| format!("--pcap {}", path.display()))?;
        Ok(PcapFile { file, shown: path.display().to_string() })
    }

    /// Starts the writer thread.
    ///
    /// # Errors
    /// When libpcap cannot write the file.
    pub fn start(self) -> anyhow::Result<PcapDump> {
        PcapDump::start(self)
    }
}

impl PcapDump {
    fn start(PcapFile { file, shown }: PcapFile) -> anyhow::Result<PcapDump> {
        let (tx, rx) = mpsc::sync_channel::<Batch>(QUEUE);
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = std::thread::spawn(move || -> anyhow::Result<()> {
            let writer = PcapWriter::from_file(file, &shown).with_context(|| format!("--pcap {shown}"));
            match writer {
                Ok(writer) => {
                    let _ = ready_tx.send(Ok(()));
                    write_all(writer, &rx)
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    Ok(())
                }
            }
        });
        ready_rx.recv().context("pcap writer thread")??;
        Ok(PcapDump { tx, thread })
    }

    /// A handle for a thread that sends or receives.
    pub fn tap(&self) -> DumpTap {
        DumpTap { tx: self.tx.clone() }
    }

    /// Writes out everything handed over and closes the file. Call after
    /// every [`DumpTap`] is dropped.
    ///
    /// # Errors
    /// When writing the file failed.
    pub fn finish(self) -> anyhow::Result<()> {
        drop(self.tx);
        self.thread.join().map_err(|_| anyhow::anyhow!("pcap writer thread panicked"))?
    }
}

fn write_all(mut writer: PcapWriter, rx: &Receiver<Batch>) -> anyhow::Result<()> {
    for batch in rx {
        for frame in batch.bytes.chunks(batch.frame_len.max(1)) {
            writer.write_captured(batch.at, frame, batch.wire_len.max(frame.len() as u32));
        }
    }
    writer.flush()?;
    Ok(())
}

impl DumpTap {
    /// Frames just sent: `frames` holds them back to back, `frame_len` each.
    pub fn sent(&self, frames: &[u8], frame_len: usize) {
        if frames.is_empty() {
            return;
        }
        let batch = Batch { at: now(), frame_len, wire_len: 0, bytes: frames.to_vec() };
        let _ = self.tx.send(batch);
    }

    /// A frame received at `at` (since the Unix epoch), cut to `data` from `wire_len` bytes.
    pub fn received(&self, at: Duration, data: &[u8], wire_len: u32) {
        let batch = Batch { at, frame_len: data.len(), wire_len, bytes: data.to_vec() };
        let _ = self.tx.send(batch);
    }
}
