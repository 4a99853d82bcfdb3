//! The switch that simulates a crash: "kill the process after the N-th effect".
//!
//! Each service commits its effect to its database before it reports it here, so a restarted process
//! continues from exactly what was committed. Once the switch tripped, the services of the process do
//! nothing more and commit nothing more ([`CrashSwitch::gate`], also called by every commit).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::watch;

/// The exit code of a simulated `kill -9` (128 + SIGKILL), used by `--crash-after`.
pub const CRASH_EXIT_CODE: i32 = 137;

/// How a crash is simulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashMode {
    /// `std::process::exit(137)` without any cleanup, like `kill -9`.
    Exit,
    /// Freeze every service (nothing more happens, nothing more is committed); the scenario then drops
    /// the frozen engine and restarts from the databases. Used by the in-process run and the tests.
    Freeze,
}

/// Counts forward effects and crashes after the N-th.
#[derive(Debug)]
pub struct CrashSwitch {
    after: Option<u64>,
    mode: CrashMode,
    effects: AtomicU64,
    crashed: watch::Sender<bool>,
}

impl CrashSwitch {
    /// A switch that never trips.
    #[must_use]
    pub fn never() -> Arc<Self> {
        Self::new(None, CrashMode::Freeze)
    }

    /// Trips after `after` effects (never if `None`).
    #[must_use]
    pub fn new(after: Option<u64>, mode: CrashMode) -> Arc<Self> {
        Arc::new(Self {
            after,
            mode,
            effects: AtomicU64::new(0),
            crashed: watch::Sender::new(false),
        })
    }

    /// Called by a service before it does anything: a crashed process does nothing.
    pub async fn gate(&self) {
        if *self.crashed.borrow() {
            std::future::pending::<()>().await;
        }
    }

    /// Called by a service after a forward effect was committed, before it answers.
    pub async fn effect_done(&self, what: &str) {
        self.gate().await;
        let n = self.effects.fetch_add(1, Ordering::SeqCst) + 1;
        if self.after != Some(n) {
            return;
        }
        match self.mode {
            CrashMode::Exit => {
                use std::io::Write;
                eprintln!("CRASH: stopping the process after effect #{n} ({what}), like kill -9");
                let _ = std::io::stdout().flush();
                std::process::exit(CRASH_EXIT_CODE);
            }
            CrashMode::Freeze => {
                eprintln!("  !! simulated crash after effect #{n} ({what})");
                self.crashed.send_replace(true);
                std::future::pending::<()>().await;
            }
        }
    }

    /// Resolves once the switch tripped (in [`CrashMode::Freeze`]).
    pub async fn crashed(&self) {
        let mut rx = self.crashed.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }
}
