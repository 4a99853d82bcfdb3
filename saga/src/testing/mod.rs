//! Test helpers: fault-injecting logs and transports (lost connections included), the shared
//! conformance suites that every backend runs, the fault scenarios every durable log runs (the
//! `crash_matrix`, the `survivor` scenario, `lease_race`, `forgery`), the `model`-based test of the
//! executor (random ops against a reference model) and a kit for testing sagas:
//! `Journal` makes scripted steps (`ScriptedStep`: succeed, fail transiently `n` times, refuse,
//! hang, wait at a `Gate`) and records every call with its idempotency key and attempt.
#![cfg_attr(
    feature = "test-util",
    doc = r#"
A saga tested in ten lines with [`Journal`] and its [`ScriptedStep`]s:

```
# use std::sync::Arc;
use saga::testing::Journal;
use saga::{Executor, InMemoryLog, SagaDefinition, SagaState};
# tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap()
#     .block_on(async { test().await.unwrap() });
# async fn test() -> Result<(), Box<dyn std::error::Error>> {

let journal = Journal::new();
let order = SagaDefinition::<u32>::builder("order", 1)
    .compensatable("reserve", journal.step(), journal.undo())
    .compensatable("charge", journal.step().fail_transiently(1), journal.undo())
    .pivot("ship", journal.step().refuse("no carrier"))
    .build()?;
let outcome = Executor::new(order, Arc::new(InMemoryLog::new())).run(0).await?;
assert_eq!(outcome.state, SagaState::Compensated);
let calls = ["reserve", "charge", "charge", "ship", "undo charge", "undo reserve"];
assert_eq!(journal.summary(), calls);
journal.assert_compensated_in_reverse();
journal.assert_each_effect_once();
# Ok(()) }
```

To race a cancel against a step, make it [`gated`](ScriptedStep::gated): the test awaits
[`Gate::entered`], cancels, then [releases](Gate::release) the step."#
)]

mod captured_logs;
pub mod conformance;
mod crash_log;
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod crash_matrix;
mod disconnecting;
pub mod faulty_transport;
pub mod forgery;
pub mod fuzz;
#[cfg(feature = "test-util")]
mod kit;
pub mod lease_race;
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod model;
mod scale;
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod survivor;

pub use captured_logs::CapturedLogs;
pub use crash_log::{CrashPoint, CrashingLog};
pub use disconnecting::{ConnectionStats, DisconnectingTransport, Outage};
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub use kit::{Call, CallOutcome, Gate, Journal, Recording, ScriptedStep};
pub use scale::fault_scale;
