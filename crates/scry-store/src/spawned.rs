//! [`SpawnedWriter`]: any backend's writer on a thread of its own, so the
//! scan's hot path only pushes onto a channel.

use crate::error::{Result, StoreError};
use crate::history::ObservationWriter;
use crate::model::*;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime};

/// How many observations the channel holds before `send` waits.
const CHANNEL: usize = 40_000;

enum Message {
    Observation(Observation),
    Finish(ScanStatus, ScanStats, SystemTime),
}

/// A writer on its own thread. Sending blocks only when the writer is far
/// behind (the channel holds 40,000 observations, four default batches),
/// which bounds memory without slowing a scan the disk keeps up with.
pub struct SpawnedWriter {
    tx: Option<SyncSender<Message>>,
    handle: Option<JoinHandle<Result<()>>>,
}

impl SpawnedWriter {
    /// Starts `writer`'s thread. When no observation comes for the writer's
    /// batch interval, the thread commits what is buffered (stamping the
    /// scan's heartbeat).
    ///
    /// # Panics
    /// When the operating system cannot start a thread.
    pub fn start(writer: Box<dyn ObservationWriter>) -> SpawnedWriter {
        let (tx, rx) = mpsc::sync_channel::<Message>(CHANNEL);
        let handle = std::thread::Builder::new()
            .name("scry-history".into())
            .spawn(move || run(writer, rx))
            .expect("spawning the history writer thread");
        SpawnedWriter { tx: Some(tx), handle: Some(handle) }
    }

    /// Queues an observation.
    ///
    /// # Errors
    /// [`StoreError::WriterGone`] when the thread stopped on an error;
    /// [`SpawnedWriter::finish`] returns that error.
    pub fn send(&self, observation: Observation) -> Result<()> {
        let tx = self.tx.as_ref().expect("sender present until finish");
        tx.send(Message::Observation(observation))
            .map_err(|_| StoreError::WriterGone("its thread stopped; finish() has the error".into()))
    }

    /// Commits everything queued, records the scan's end and joins the thread.
    pub fn finish(mut self, status: ScanStatus, stats: ScanStats, ended: SystemTime) -> Result<()> {
        let tx = self.tx.take().expect("sender present until finish");
        let _ = tx.send(Message::Finish(status, stats, ended));
        drop(tx);
        self.join()
    }

    fn join(&mut self) -> Result<()> {
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(StoreError::WriterGone("its thread panicked".into())),
            None => Ok(()),
        }
    }
}

impl Drop for SpawnedWriter {
    /// Commits what was queued and leaves the scan `running`.
    fn drop(&mut self) {
        self.tx.take();
        let _ = self.join();
    }
}

fn run(mut writer: Box<dyn ObservationWriter>, rx: mpsc::Receiver<Message>) -> Result<()> {
    let interval = writer.batch_interval();
    let mut last_idle_flush = Instant::now();
    loop {
        match rx.recv_timeout(interval.saturating_sub(last_idle_flush.elapsed())) {
            Ok(Message::Observation(o)) => writer.push(o)?,
            Ok(Message::Finish(status, stats, ended)) => return writer.finish(status, &stats, ended),
            // Idle: commit what is buffered and stamp the heartbeat.
            Err(RecvTimeoutError::Timeout) => {
                writer.flush()?;
                last_idle_flush = Instant::now();
            }
            Err(RecvTimeoutError::Disconnected) => return writer.flush(),
        }
    }
}
