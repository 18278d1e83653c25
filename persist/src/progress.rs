//! Progress of a save or a load: bytes done of bytes in all. A callback hears of it every
//! [`TICK`] (and once at the end); a terminal shows a progress bar on stderr once the
//! operation has taken [`BAR_AFTER`].

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Told `(done, total)` bytes; returns false to cancel the operation.
pub type ProgressCallback = Arc<dyn Fn(u64, u64) -> bool + Send + Sync>;

/// How often the callback and the bar hear of progress.
pub const TICK: Duration = Duration::from_millis(200);

/// How long an operation runs before a terminal shows its bar.
pub const BAR_AFTER: Duration = Duration::from_secs(2);

/// Counts the bytes of one operation.
pub struct Progress {
    what: &'static str,
    done: AtomicU64,
    total: AtomicU64,
    cancelled: AtomicBool,
    callback: Option<ProgressCallback>,
    bar: bool,
    started: Instant,
    /// Whether the bar was drawn (it then ends with a new line).
    drawn: AtomicBool,
}

impl Progress {
    /// Progress of `what` (`save`, `load`), told to `callback`, and drawn as a bar if `bar`
    /// and stderr is a terminal.
    pub fn new(what: &'static str, callback: Option<ProgressCallback>, bar: bool) -> Arc<Progress> {
        Arc::new(Progress {
            what,
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
            cancelled: AtomicBool::new(false),
            callback,
            bar: bar && std::io::stderr().is_terminal(),
            started: Instant::now(),
            drawn: AtomicBool::new(false),
        })
    }

    /// Sets the bytes in all.
    pub fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
    }

    /// Counts `bytes` more done.
    pub fn add(&self, bytes: u64) {
        self.done.fetch_add(bytes, Ordering::Relaxed);
    }

    /// `(done, total)` now.
    pub fn get(&self) -> (u64, u64) {
        (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        )
    }

    /// Fails with `Cancelled` once the callback asked to stop.
    pub fn check(&self) -> crate::Result<()> {
        if self.cancelled.load(Ordering::Relaxed) {
            Err(crate::Error::Cancelled(self.what))
        } else {
            Ok(())
        }
    }

    /// Tells the callback and the bar, now.
    pub fn report(&self) {
        let (done, total) = self.get();
        if let Some(callback) = &self.callback {
            if !callback(done, total) {
                self.cancelled.store(true, Ordering::Relaxed);
            }
        }
        if self.bar && self.started.elapsed() >= BAR_AFTER {
            self.drawn.store(true, Ordering::Relaxed);
            let _ = write!(std::io::stderr(), "\r{}", self.bar_line(done, total));
        }
    }

    /// The bar as drawn: `save [#####.....]  50%  512.0 / 1024.0 MiB  400 MiB/s`.
    fn bar_line(&self, done: u64, total: u64) -> String {
        const WIDTH: usize = 30;
        let share = if total == 0 {
            1.0
        } else {
            done as f64 / total as f64
        };
        let filled = ((share * WIDTH as f64) as usize).min(WIDTH);
        let mib = |bytes: u64| bytes as f64 / (1 << 20) as f64;
        let rate = mib(done) / self.started.elapsed().as_secs_f64().max(1e-3);
        format!(
            "{} [{}{}] {:3.0}%  {:.1} / {:.1} MiB  {:.0} MiB/s ",
            self.what,
            "#".repeat(filled),
            ".".repeat(WIDTH - filled),
            share * 100.0,
            mib(done),
            mib(total),
            rate
        )
    }

    /// Tells the callback of the start (`0` done), then every [`TICK`] until
    /// [`Progress::finish`] makes the last report.
    pub(crate) fn ticker(self: &Arc<Progress>) -> tokio::task::JoinHandle<()> {
        self.report();
        let progress = Arc::clone(self);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(TICK);
            interval.tick().await;
            loop {
                interval.tick().await;
                progress.report();
            }
        })
    }

    /// The final report, ending the bar's line if it was drawn.
    pub(crate) fn finish(&self, ticker: tokio::task::JoinHandle<()>) {
        ticker.abort();
        self.report();
        if self.drawn.load(Ordering::Relaxed) {
            let _ = writeln!(std::io::stderr());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callback_hears_done_and_total_and_can_cancel() {
        let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = Arc::clone(&heard);
        let progress = Progress::new(
            "save",
            Some(Arc::new(move |done, total| {
                sink.lock().unwrap().push((done, total));
                done < 10
            })),
            false,
        );
        progress.set_total(20);
        progress.add(5);
        progress.report();
        assert!(progress.check().is_ok());
        progress.add(5);
        progress.report();
        assert_eq!(*heard.lock().unwrap(), vec![(5, 20), (10, 20)]);
        assert!(matches!(
            progress.check(),
            Err(crate::Error::Cancelled("save"))
        ));
        let line = progress.bar_line(10, 20);
        assert!(
            line.contains(" 50%") && line.contains("0.0 / 0.0 MiB"),
            "{line}"
        );
    }
}
