//! The model-based test of the executor: random sequences of [`Op`]s (start, replies, duplicates,
//! crashes, restarts, lease expiry, clock advance, cancel, operator retry and resolve) run against the
//! real [`Executor`](crate::Executor) over an [`InMemoryLog`](crate::InMemoryLog), and a reference
//! model of what the executor does is stepped alongside. After every op the test waits until the real
//! system is where the model says it stops (every saga's records and state in the log, every step call
//! waiting for its reply), compares what every call returned with the model's answer, and checks the
//! invariants of the saga contract against the log and against what each step call finds in it. The
//! steps' calls are recorded in a [`Journal`](super::Journal) (the report's step calls and
//! re-executions). The figures and the full list of ops and checks are in `docs/reliability.md`.
//!
//! The saga has four steps: two compensatable, a pivot and a retriable one (2 attempts each, 2 per
//! compensation, zero backoff). Every step call waits in a mailbox until an op replies to it, which is
//! how replies arrive in any order, across sagas and across executors. A participant's inbox is
//! emulated: once a call of an idempotency key succeeded or refused, later calls of that key get the
//! same answer. Time is tokio's paused clock: lease expiry follows it (the in-memory log's leases do).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap()
//! #     .block_on(async {
//! use saga::testing::model::{run_case, Op, Reply};
//! let ops = [
//!     Op::Start { slot: 0 },
//!     Op::Reply { slot: 0, pick: 0, reply: Reply::Ok },
//!     Op::Cancel { slot: 0 },
//!     Op::Reply { slot: 0, pick: 0, reply: Reply::Ok },
//! ];
//! let report = run_case(&ops).await;
//! assert!(report.failures.is_empty(), "{:?}", report.failures);
//! # });
//! ```

mod case;
mod check;
mod drain;
mod mailbox;
mod reference;
mod report;
mod watch;
mod world;

pub use case::run_case;
pub use report::ModelReport;

use crate::testing::CrashPoint;

/// How many sagas a case works with: ops name one by its slot (modulo this).
pub const SLOTS: u8 = 3;

/// What a participant answers to a step call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reply {
    /// Done: the effect took place.
    Ok,
    /// Failed transiently: the executor may try again.
    Transient,
    /// Refused permanently: no effect.
    Refuse,
}

/// One operation of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Starts saga `slot` on the current executor; a second start of it is a duplicate request.
    Start {
        /// The saga.
        slot: u8,
    },
    /// Replies to one of the calls waiting for saga `slot` (`pick` chooses among the executors' calls).
    Reply {
        /// The saga.
        slot: u8,
        /// Which of its waiting calls (modulo their number), oldest executor first.
        pick: u8,
        /// The answer.
        reply: Reply,
    },
    /// The current executor's process crashes at its next log write, before or after it lands.
    Crash {
        /// Where.
        point: CrashPoint,
    },
    /// The current executor's process dies now (if it still lives); a new one with the same owner id
    /// starts over the same log and `recover()`s.
    Restart,
    /// Every lease expires (the clock moves one lease TTL on) and an executor with a new owner id
    /// `recover()`s: the old one lives on, paused past its leases.
    ExpireLease,
    /// An executor with a new owner id starts and `recover()`s, taking over only the sagas whose
    /// lease expired; the old one lives on and keeps the others.
    Takeover,
    /// The clock moves on by `secs` seconds.
    AdvanceClock {
        /// How far.
        secs: u8,
    },
    /// `cancel` of saga `slot` on the current executor.
    Cancel {
        /// The saga.
        slot: u8,
    },
    /// Operator `retry` of saga `slot`.
    Retry {
        /// The saga.
        slot: u8,
    },
    /// Operator `resolve` of saga `slot`.
    Resolve {
        /// The saga.
        slot: u8,
    },
    /// `recover()` on the current, live executor: every saga it drives is delivered to it again.
    Recover,
}

impl Op {
    /// The op's name in the report's per-op counts.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Start { .. } => "start",
            Self::Reply {
                reply: Reply::Ok, ..
            } => "reply_ok",
            Self::Reply {
                reply: Reply::Transient,
                ..
            } => "reply_transient",
            Self::Reply {
                reply: Reply::Refuse,
                ..
            } => "reply_refuse",
            Self::Crash { .. } => "crash",
            Self::Restart => "restart",
            Self::ExpireLease => "expire_lease",
            Self::Takeover => "takeover",
            Self::AdvanceClock { .. } => "advance_clock",
            Self::Cancel { .. } => "cancel",
            Self::Retry { .. } => "retry",
            Self::Resolve { .. } => "resolve",
            Self::Recover => "recover",
        }
    }
}
