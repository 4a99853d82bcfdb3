//! Shared conformance suites: every [`SagaLog`](crate::SagaLog), every transport and every
//! [`IdempotencyStore`](crate::participant::IdempotencyStore) implementation runs the same checks, so the
//! in-memory backends and the real ones are held to one contract.

pub mod log;
pub mod store;
pub mod transport;

/// Runs a conformance check on a multi-threaded tokio runtime of its own (used by the
/// `*_conformance_tests!` macros, which generate plain `#[test]` functions).
///
/// # Panics
/// If the runtime cannot be built, or the check panics.
#[doc(hidden)]
pub fn block_on<F: std::future::Future<Output = ()>>(check: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime for the conformance check")
        .block_on(check);
}

/// Runs `check`, then `cleanup` even if the check panicked (the panic is resumed afterwards), so a
/// failing check still drops what it created on a shared server.
#[doc(hidden)]
pub async fn with_cleanup<S, C, CF>(subject: S, check: impl AsyncFnOnce(&S), cleanup: C)
where
    C: FnOnce(S) -> CF,
    CF: std::future::Future<Output = ()>,
{
    use futures::FutureExt as _;
    let outcome = std::panic::AssertUnwindSafe(check(&subject))
        .catch_unwind()
        .await;
    cleanup(subject).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Generates one `#[test]` per check; see [`log_conformance_tests!`](crate::log_conformance_tests).
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_tests {
    ($suite:ident, $make:expr, $cleanup:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                $crate::testing::conformance::block_on(async {
                    let make = $make;
                    if let Some(subject) = make().await {
                        $crate::testing::conformance::with_cleanup(
                            subject,
                            async |subject| $crate::testing::conformance::$suite::$check(&**subject).await,
                            $cleanup,
                        )
                        .await;
                    }
                });
            }
        )*
    };
}
