//! The (mock) payment gateway the Payment service authorizes through, behind its bulkhead.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::watch;

/// The (mock) payment gateway: every authorization takes `delay`; it records its peak concurrency.
#[derive(Debug)]
pub struct Gateway {
    delay_ms: AtomicU64,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    calls: AtomicU64,
    /// While `true`, authorizations wait (tests use it to hold a saga mid-step).
    paused: watch::Sender<bool>,
}

impl Gateway {
    pub(super) fn new() -> Self {
        Self {
            delay_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            calls: AtomicU64::new(0),
            paused: watch::Sender::new(false),
        }
    }

    /// Makes every authorization take `delay`.
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(
            u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Holds (`true`) or lets go (`false`) every authorization.
    #[allow(dead_code)] // used by tests/cloudmart_http.rs
    pub fn set_paused(&self, paused: bool) {
        self.paused.send_replace(paused);
    }

    /// Resolves once at least `n` authorizations are in flight.
    #[allow(dead_code)] // used by tests/cloudmart_http.rs
    pub async fn wait_in_flight(&self, n: usize) {
        let mut rx = self.paused.subscribe();
        while self.in_flight.load(Ordering::SeqCst) < n {
            // in_flight changes are announced by touching the watch channel.
            let _ = rx.changed().await;
        }
    }

    /// Authorizations made.
    #[must_use]
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// The most authorizations ever in flight at once.
    #[must_use]
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    pub(super) async fn authorize(&self) -> Result<(), std::io::Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        self.paused.send_modify(|_| {});
        let mut rx = self.paused.subscribe();
        let _ = rx.wait_for(|p| !*p).await;
        let delay = self.delay_ms.load(Ordering::Relaxed);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.paused.send_modify(|_| {});
        Ok(())
    }
}
