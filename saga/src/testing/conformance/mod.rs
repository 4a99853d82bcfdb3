//! Shared conformance suites: every [`SagaLog`](crate::SagaLog), every transport and every
//! [`IdempotencyStore`](crate::participant::IdempotencyStore) implementation runs the same checks, so the
//! in-memory backends and the real ones are held to one contract.

pub mod log;
pub mod store;
pub mod transport;

/// Runs a conformance check on a tokio runtime of its own (used by the `*_conformance_tests!` macros,
/// which generate plain `#[test]` functions): a multi-threaded one on the real clock, or, with `paused`,
/// a current-thread one on tokio's paused clock (saga's `test-util` feature).
///
/// # Panics
/// If the runtime cannot be built, if `paused` is asked for without the `test-util` feature, or if the
/// check panics.
#[doc(hidden)]
pub fn block_on<F: std::future::Future<Output = ()>>(paused: bool, check: F) {
    let mut builder = if paused {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(2);
        builder
    };
    builder.enable_all();
    #[cfg(feature = "test-util")]
    builder.start_paused(paused);
    #[cfg(not(feature = "test-util"))]
    assert!(!paused, "the paused clock needs saga's `test-util` feature");
    builder
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

/// The body of every generated conformance test: on a runtime of its own ([`block_on`]), makes the
/// subject (`None`: skipped), runs `check` on it, then `cleanup` ([`with_cleanup`]).
#[doc(hidden)]
pub fn run_check<S, M, MF, C, CF>(paused: bool, make: M, check: impl AsyncFnOnce(&S), cleanup: C)
where
    M: FnOnce() -> MF,
    MF: std::future::Future<Output = Option<S>>,
    C: FnOnce(S) -> CF,
    CF: std::future::Future<Output = ()>,
{
    block_on(paused, async move {
        if let Some(subject) = make().await {
            with_cleanup(subject, check, cleanup).await;
        }
    });
}

/// Generates one `#[test]` per check; see [`log_conformance_tests!`](crate::log_conformance_tests) and
/// [`transport_conformance_tests!`](crate::transport_conformance_tests). Without options, each check is
/// called with the subject alone, on the real clock; with an options expression (evaluated once per
/// test), with the subject and the options, on the clock the options ask for (`paused_clock()`).
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_tests {
    ($suite:ident, $make:expr, $cleanup:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                $crate::testing::conformance::run_check(
                    false,
                    $make,
                    async |subject| $crate::testing::conformance::$suite::$check(&**subject).await,
                    $cleanup,
                );
            }
        )*
    };
    ($suite:ident, $make:expr, $cleanup:expr, $options:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                let options = $options;
                $crate::testing::conformance::run_check(
                    options.paused_clock(),
                    $make,
                    async |subject| {
                        $crate::testing::conformance::$suite::$check(&**subject, &options).await
                    },
                    $cleanup,
                );
            }
        )*
    };
}
