//! Where the services keep their state across a crash, and the switch that simulates one.
//!
//! Each service persists a snapshot of its state after every effect (write to a temporary file, then
//! rename), so a restarted process continues from exactly what it had applied. Most scenarios do not
//! need that and use [`Durable::disabled`]; the crash scenario uses a file (`--crash-after`, a real
//! process exit) or memory (the in-process run, which "restarts" by building new services from the
//! sealed snapshot).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::watch;

/// The exit code of a simulated `kill -9` (128 + SIGKILL), used by `--crash-after`.
pub const CRASH_EXIT_CODE: i32 = 137;

/// A state store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The state file could not be read or written.
    #[error("cannot access state file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The state file does not hold what this version of CloudMart wrote.
    #[error("corrupt state ({what}): {source}")]
    Corrupt {
        /// Which part.
        what: String,
        /// The cause.
        source: serde_json::Error,
    },
}

/// Snapshots of service state, by service name.
#[derive(Debug)]
pub struct Durable {
    inner: Option<Mutex<Inner>>,
}

#[derive(Debug)]
struct Inner {
    path: Option<PathBuf>,
    doc: Map<String, Value>,
    /// After a simulated crash nothing more reaches the "disk".
    sealed: bool,
}

impl Durable {
    /// Keeps nothing (the default for scenarios that do not crash).
    #[must_use]
    pub fn disabled() -> Arc<Self> {
        Arc::new(Self { inner: None })
    }

    /// Keeps snapshots in memory; [`reopen`](Self::reopen) plays the restarted process.
    #[must_use]
    pub fn memory() -> Arc<Self> {
        Self::with(None, Map::new())
    }

    /// Keeps snapshots in `path`, loading what a previous run left there.
    ///
    /// # Errors
    /// The file exists but cannot be read or parsed.
    pub fn file(path: &Path) -> Result<Arc<Self>, StoreError> {
        let doc = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt {
                what: path.display().to_string(),
                source,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(source) => {
                return Err(StoreError::Io {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        Ok(Self::with(Some(path.to_owned()), doc))
    }

    fn with(path: Option<PathBuf>, doc: Map<String, Value>) -> Arc<Self> {
        Arc::new(Self {
            inner: Some(Mutex::new(Inner {
                path,
                doc,
                sealed: false,
            })),
        })
    }

    /// What a restarted process finds: the same snapshots, writable again.
    #[must_use]
    pub fn reopen(&self) -> Arc<Self> {
        match &self.inner {
            None => Self::disabled(),
            Some(inner) => {
                let inner = inner.lock();
                Self::with(inner.path.clone(), inner.doc.clone())
            }
        }
    }

    /// The snapshot stored under `key`.
    ///
    /// # Errors
    /// The snapshot does not decode as `T`.
    pub fn load<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        let Some(inner) = &self.inner else {
            return Ok(None);
        };
        let value = inner.lock().doc.get(key).cloned();
        value
            .map(|v| {
                serde_json::from_value(v).map_err(|source| StoreError::Corrupt {
                    what: key.to_owned(),
                    source,
                })
            })
            .transpose()
    }

    /// Stores `value` under `key` (and writes the file, if any). Call it while holding the lock of the
    /// state it snapshots, so snapshots of one service are written in order.
    ///
    /// # Errors
    /// `value` does not serialize, or the file cannot be written.
    pub fn save<T: Serialize>(&self, key: &str, value: &T) -> Result<(), StoreError> {
        let Some(inner) = &self.inner else {
            return Ok(());
        };
        let value = serde_json::to_value(value).map_err(|source| StoreError::Corrupt {
            what: key.to_owned(),
            source,
        })?;
        let mut inner = inner.lock();
        if inner.sealed {
            return Ok(());
        }
        inner.doc.insert(key.to_owned(), value);
        if let Some(path) = &inner.path {
            let bytes =
                serde_json::to_vec_pretty(&inner.doc).map_err(|source| StoreError::Corrupt {
                    what: key.to_owned(),
                    source,
                })?;
            let tmp = path.with_extension("tmp");
            let io = |source| StoreError::Io {
                path: path.clone(),
                source,
            };
            std::fs::write(&tmp, bytes).map_err(io)?;
            std::fs::rename(&tmp, path).map_err(io)?;
        }
        Ok(())
    }

    /// Simulates the death of the process: later saves are lost.
    pub fn seal(&self) {
        if let Some(inner) = &self.inner {
            inner.lock().sealed = true;
        }
    }

    /// Deletes the file (after a run that finished), so the next run starts afresh.
    pub fn remove_file(&self) {
        if let Some(inner) = &self.inner {
            if let Some(path) = &inner.lock().path {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// How a crash is simulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashMode {
    /// `std::process::exit(137)` without any cleanup, like `kill -9`.
    Exit,
    /// Freeze every service (nothing more happens, nothing more is persisted); the scenario then drops
    /// the frozen runtime and restarts from the snapshots. Used by the in-process run and the tests.
    Freeze,
}

/// Counts forward effects and crashes after the N-th.
#[derive(Debug)]
pub struct CrashSwitch {
    after: Option<u64>,
    mode: CrashMode,
    effects: AtomicU64,
    durable: Arc<Durable>,
    crashed: watch::Sender<bool>,
}

impl CrashSwitch {
    /// A switch that never trips.
    #[must_use]
    pub fn never() -> Arc<Self> {
        Self::new(None, CrashMode::Freeze, Durable::disabled())
    }

    /// Trips after `after` effects (never if `None`).
    #[must_use]
    pub fn new(after: Option<u64>, mode: CrashMode, durable: Arc<Durable>) -> Arc<Self> {
        Arc::new(Self {
            after,
            mode,
            effects: AtomicU64::new(0),
            durable,
            crashed: watch::Sender::new(false),
        })
    }

    /// Called by a service before it does anything: a crashed process does nothing.
    pub async fn gate(&self) {
        if *self.crashed.borrow() {
            std::future::pending::<()>().await;
        }
    }

    /// Called by a service after a forward effect was persisted, before it answers.
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
                self.durable.seal();
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
