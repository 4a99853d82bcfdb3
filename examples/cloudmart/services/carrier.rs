//! The (mock) carrier the Shipping service books through, behind its circuit breaker.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

use saga::middleware::Classify;

/// How the (mock) carrier behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum CarrierMode {
    /// Books every shipment.
    Up = 0,
    /// Its system is down: every call fails (a transient error, counted by the breaker).
    Down = 1,
    /// It answers, but refuses the address (a business "no", not counted by the breaker).
    Rejects = 2,
}

/// Why the carrier failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CarrierError {
    /// System outage.
    #[error("carrier system is down")]
    Down,
    /// Address refused.
    #[error("carrier refused the delivery address")]
    Rejected,
}

impl Classify for CarrierError {
    fn is_transient(&self) -> bool {
        matches!(self, Self::Down)
    }
}

/// The (mock) carrier; counts its calls.
#[derive(Debug, Default)]
pub struct Carrier {
    mode: AtomicU8,
    delay_ms: AtomicU64,
    calls: AtomicU64,
}

impl Carrier {
    /// Sets the behaviour.
    pub fn set_mode(&self, mode: CarrierMode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// Makes every call take `delay`.
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(
            u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Calls that reached the carrier.
    #[must_use]
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    pub(super) async fn book(&self, order_id: &str) -> Result<String, CarrierError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let delay = self.delay_ms.load(Ordering::Relaxed);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        match self.mode.load(Ordering::SeqCst) {
            1 => Err(CarrierError::Down),
            2 => Err(CarrierError::Rejected),
            _ => Ok(format!("TRK-{order_id}-{n:04}")),
        }
    }
}
