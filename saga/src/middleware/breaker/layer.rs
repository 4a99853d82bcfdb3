//! [`CircuitBreakerLayer`]: the shared breaker, its closure API and its [`Layer`] impl.

use std::future::Future;
use std::sync::Arc;

use tokio::time::Instant;
use tower_layer::Layer;

use super::core::{Core, Permit, Transition};
use super::{CircuitBreaker, CircuitBreakerConfig, CircuitState};
use crate::middleware::{Classify, MiddlewareError};

/// A circuit breaker. Clones share one state, so the breaker around a carrier can be cloned into every
/// step and participant that calls the carrier.
///
/// Wrap a step with [`Layer::layer`] (or a [`MiddlewareBuilder`](crate::middleware::MiddlewareBuilder)),
/// or any async call with [`call`](Self::call):
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use saga::middleware::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitState, MiddlewareError};
/// let breaker = CircuitBreakerLayer::new(CircuitBreakerConfig::default().with_consecutive_failures(1));
/// let failed: Result<(), _> = breaker
///     .call(|| async { Err(std::io::Error::other("carrier down")) })
///     .await;
/// assert!(matches!(failed, Err(MiddlewareError::Inner(_))));
/// assert_eq!(breaker.state(), CircuitState::Open);
/// let rejected = breaker.call(|| async { Ok::<_, std::io::Error>(()) }).await;
/// assert!(matches!(rejected, Err(MiddlewareError::CircuitOpen { .. })));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CircuitBreakerLayer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    core: Core,
    base: Instant,
}

impl Shared {
    fn now(&self) -> u64 {
        let elapsed = Instant::now().saturating_duration_since(self.base);
        u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
    }

    fn report(&self, transition: Option<Transition>) {
        let Some(Transition { from, to }) = transition else {
            return;
        };
        let name = self.core.config().name();
        if to == CircuitState::Open {
            tracing::warn!(breaker = name, %from, %to, "circuit breaker opened");
        } else {
            tracing::info!(breaker = name, %from, %to, "circuit breaker state changed");
        }
    }
}

/// Reports the outcome of an admitted call; a call dropped before it finished (an outer timeout, a
/// cancelled task) counts as a failure.
struct CallGuard<'a> {
    shared: &'a Shared,
    permit: Option<Permit>,
}

impl CallGuard<'_> {
    fn finish(mut self, failed: bool) {
        if let Some(permit) = self.permit.take() {
            let shared = self.shared;
            shared.report(shared.core.record(permit, failed, || shared.now()));
        }
    }
}

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            let shared = self.shared;
            shared.report(shared.core.record(permit, true, || shared.now()));
        }
    }
}

impl Default for CircuitBreakerLayer {
    fn default() -> Self {
        Self::new(CircuitBreakerConfig::default())
    }
}

impl CircuitBreakerLayer {
    /// A closed breaker with this configuration.
    #[must_use]
    pub fn new(config: CircuitBreakerConfig) -> Self {
        Self {
            shared: Arc::new(Shared {
                core: Core::new(config),
                base: Instant::now(),
            }),
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &CircuitBreakerConfig {
        self.shared.core.config()
    }

    /// The state a call made now would find. An open breaker whose open duration has elapsed reports
    /// [`CircuitState::HalfOpen`]; the transition itself (and its `tracing` event) happens on the next
    /// call.
    #[must_use]
    pub fn state(&self) -> CircuitState {
        self.shared.core.state(self.shared.now())
    }

    /// Runs `f` through the breaker.
    ///
    /// An open breaker returns [`MiddlewareError::CircuitOpen`] without calling `f`. Otherwise `f`'s
    /// result is returned (its error as [`MiddlewareError::Inner`]) and counted: a transient error
    /// (per [`Classify`]) is a failure, success and permanent errors are successes.
    ///
    /// # Errors
    /// [`MiddlewareError::CircuitOpen`] or `f`'s error.
    pub async fn call<F, Fut, T, E>(&self, f: F) -> Result<T, MiddlewareError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Classify,
    {
        let guard = self.admit()?;
        let result = f().await;
        guard.finish(result.as_ref().err().is_some_and(Classify::is_transient));
        result.map_err(MiddlewareError::Inner)
    }

    fn admit<E>(&self) -> Result<CallGuard<'_>, MiddlewareError<E>> {
        let shared = &*self.shared;
        match shared.core.acquire(|| shared.now()) {
            Ok((permit, transition)) => {
                shared.report(transition);
                Ok(CallGuard {
                    shared,
                    permit: Some(permit),
                })
            }
            Err(retry_after) => Err(MiddlewareError::CircuitOpen {
                name: shared.core.config().name_arc(),
                retry_after,
            }),
        }
    }
}

impl<S> Layer<S> for CircuitBreakerLayer {
    type Service = CircuitBreaker<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreaker::new(inner, self.clone())
    }
}
