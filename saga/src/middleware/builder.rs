//! [`MiddlewareBuilder`]: stacks layers, outermost first.

use tower_layer::{Identity, Layer, Stack};

/// Stacks [`Layer`]s around a step, like tower's `ServiceBuilder`: **the first layer added is the
/// outermost**, the one a call passes through first.
///
/// ```
/// use std::time::Duration;
/// use saga::middleware::{
///     BulkheadLayer, CircuitBreakerLayer, MiddlewareBuilder, RetryLayer, TimeoutLayer,
/// };
/// use saga::{step_fn, StepContext, StepError};
///
/// let ship = step_fn(|_: StepContext, n: u32| async move { Ok::<_, StepError>(n) });
/// let breaker = CircuitBreakerLayer::default();
/// // retry( breaker( bulkhead( timeout( ship ) ) ) ):
/// let ship = MiddlewareBuilder::new()
///     .layer(RetryLayer::default())
///     .layer(breaker.clone())
///     .layer(BulkheadLayer::default())
///     .layer(TimeoutLayer::new(Duration::from_secs(2)))
///     .service(ship);
/// # let _ = ship;
/// ```
///
/// With `tower_layer::Stack::new(inner, outer)` directly, note the argument order: the *second*
/// argument is the outer layer.
#[derive(Debug, Clone)]
#[must_use]
pub struct MiddlewareBuilder<L> {
    layer: L,
}

impl Default for MiddlewareBuilder<Identity> {
    fn default() -> Self {
        Self::new()
    }
}

impl MiddlewareBuilder<Identity> {
    /// An empty stack.
    pub const fn new() -> Self {
        Self {
            layer: Identity::new(),
        }
    }
}

impl<L> MiddlewareBuilder<L> {
    /// Adds `layer` *inside* the layers added so far.
    pub fn layer<T>(self, layer: T) -> MiddlewareBuilder<Stack<T, L>> {
        MiddlewareBuilder {
            layer: Stack::new(layer, self.layer),
        }
    }

    /// Wraps `service` (a step, a compensation) in every layer.
    pub fn service<S>(&self, service: S) -> L::Service
    where
        L: Layer<S>,
    {
        self.layer.layer(service)
    }

    /// The stacked layer.
    pub fn into_inner(self) -> L {
        self.layer
    }
}

impl<S, L: Layer<S>> Layer<S> for MiddlewareBuilder<L> {
    type Service = L::Service;

    fn layer(&self, inner: S) -> Self::Service {
        self.layer.layer(inner)
    }
}
