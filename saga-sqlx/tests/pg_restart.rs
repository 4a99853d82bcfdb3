//! A PostgreSQL crash in the middle of 1,000 sagas (10,000 with `SAGA_LONG_FAULTS=1`, or
//! `SAGA_RESTART_SAGAS=n`): the executor's log is a `PostgresSagaLog` on a server this test starts
//! itself (`initdb` + `pg_ctl` on a free loopback port, see `common/pg_server.rs`), so the shared
//! server and the other tests never notice. Every saga holds at its last step until all of them are
//! there; the server is then crashed (`pg_ctl stop -m immediate`), the held steps return while it is
//! down (their log writes fail and are retried), and it is started again. Every saga must reach its
//! terminal state, in memory and in the recovered log, with every effect applied once.
#![cfg(feature = "postgres")]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::pg_server::PgServer;
use futures::StreamExt as _;
use saga::testing::{fault_scale, Gate, Journal};
use saga::{
    async_trait, Executor, ExecutorConfig, RetryPolicy, SagaDefinition, SagaLog, SagaState, Step,
    StepContext, StepError, StepSpec,
};
use saga_sqlx::{PostgresSagaLog, SqlLogConfig};
use serde::{Deserialize, Serialize};

/// Saga data: whether the last step refuses (the saga then compensates).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Job {
    refuse: bool,
}

/// The last step: journaled, held at the gate, then refuses or succeeds as the data says; counts its
/// returns so the test can await them.
struct Ship {
    journal: Journal,
    gate: Gate,
    returned: Arc<(AtomicUsize, tokio::sync::Notify)>,
}

#[async_trait]
impl Step<Job> for Ship {
    async fn execute(&self, ctx: &StepContext, data: &mut Job) -> Result<(), StepError> {
        let recording = self.journal.record(ctx);
        self.gate.pass().await;
        let result = if data.refuse {
            Err(StepError::permanent("carrier refused"))
        } else {
            Ok(())
        };
        recording.finish(&result);
        self.returned.0.fetch_add(1, Ordering::SeqCst);
        self.returned.1.notify_waiters();
        result
    }
}

fn definition(journal: &Journal, ship: Ship) -> SagaDefinition<Job> {
    SagaDefinition::<Job>::builder("pg-restart", 1)
        .step(StepSpec::compensatable(
            "reserve",
            journal.step(),
            journal.undo(),
        ))
        .step(StepSpec::compensatable(
            "charge",
            journal.step(),
            journal.undo(),
        ))
        .step(StepSpec::pivot("ship", ship))
        .build()
        .expect("valid definition")
}

/// Resolves once `counter` reached `n`.
async fn reached(counter: &(AtomicUsize, tokio::sync::Notify), n: usize) {
    loop {
        let signal = counter.1.notified();
        tokio::pin!(signal);
        signal.as_mut().enable();
        if counter.0.load(Ordering::SeqCst) >= n {
            return;
        }
        signal.await;
    }
}

fn config() -> SqlLogConfig {
    SqlLogConfig::default()
        .with_max_connections(16)
        .with_acquire_timeout(Duration::from_secs(2))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sagas_in_flight_survive_a_postgres_crash_and_restart() {
    let server = match tokio::task::block_in_place(|| {
        let server = PgServer::init()?;
        server.start().map(|()| server)
    }) {
        Ok(server) => server,
        Err(e) => {
            common::unreachable::<()>("postgres (own instance)", "postgres://127.0.0.1", &e);
            return;
        }
    };
    let began = Instant::now();
    let log = PostgresSagaLog::connect(&server.url(), config())
        .await
        .expect("connect to the test's own server");
    let n = usize::try_from(fault_scale("SAGA_RESTART_SAGAS", 1000, 10_000)).expect("fits");
    let journal = Journal::new();
    let gate = Gate::new();
    let returned = Arc::new((AtomicUsize::new(0), tokio::sync::Notify::new()));
    let ship = Ship {
        journal: journal.clone(),
        gate: gate.clone(),
        returned: Arc::clone(&returned),
    };
    // Log writes are retried through the outage (every 250 ms at most, for minutes).
    let executor = Executor::with_config(
        definition(&journal, ship),
        Arc::new(log.clone()),
        ExecutorConfig::default().with_log_retry(
            RetryPolicy::default()
                .with_max_attempts(1000)
                .with_initial_delay(Duration::from_millis(20))
                .with_max_delay(Duration::from_millis(250)),
        ),
    );
    let handles: Vec<_> = futures::stream::iter(0..n)
        .map(|i| {
            executor.start(Job {
                refuse: i % 10 == 0,
            })
        })
        .buffered(64)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(|h| h.expect("start"))
        .collect();
    // Every saga is provably in flight: each has its last step held at the gate.
    tokio::time::timeout(Duration::from_secs(120), async {
        for _ in 0..n {
            gate.entered().await;
        }
    })
    .await
    .expect("every saga reaches its last step");
    let appends_before = log.stats().appends;
    let crashed = Instant::now();
    tokio::task::block_in_place(|| server.crash()).expect("pg_ctl stop -m immediate");
    assert!(!server.is_listening(), "the server did not stop");
    // The held steps return while the server is down: their log writes fail and are retried.
    gate.open();
    tokio::time::timeout(Duration::from_secs(60), reached(&returned, n))
        .await
        .expect("the held steps return");
    assert_eq!(
        log.stats().appends,
        appends_before,
        "a write landed on a stopped server"
    );
    tokio::task::block_in_place(|| server.start()).expect("the server starts again");
    let outage = crashed.elapsed();
    let (mut completed, mut compensated) = (0, 0);
    let mut ids = Vec::with_capacity(n);
    for handle in handles {
        let outcome = tokio::time::timeout(Duration::from_secs(240), handle.outcome())
            .await
            .expect("every saga finishes after the restart")
            .expect("saga runs");
        match (outcome.state, outcome.data.refuse) {
            (SagaState::Completed, false) => completed += 1,
            (SagaState::Compensated, true) => compensated += 1,
            other => panic!("saga {} ended {other:?}: {:?}", outcome.id, outcome.failure),
        }
        ids.push((outcome.id, outcome.state));
    }
    journal.assert_each_effect_once();
    journal.assert_compensated_in_reverse();
    // 3 effects per completed saga, reserve + charge and their undos per compensated one.
    assert_eq!(journal.effects().len(), 3 * completed + 4 * compensated);
    // None lost: a fresh connection reads every saga back, terminal, from the recovered server.
    let fresh = PostgresSagaLog::connect(&server.url(), config())
        .await
        .expect("reconnect");
    let mut lost = 0;
    for (id, state) in &ids {
        let snapshot = fresh.load(*id).await.expect("load");
        if snapshot.map(|s| s.instance.state) != Some(*state) {
            lost += 1;
        }
    }
    println!(
        "postgres restart: {n} sagas, {n} in flight at the crash ({appends_before} appends before), \
         {:.1} s down, {completed} completed, {compensated} compensated, {lost} lost, 0 doubled, \
         {:.1} s",
        outage.as_secs_f64(),
        began.elapsed().as_secs_f64()
    );
    assert_eq!(lost, 0, "sagas missing or not terminal in the log");
    assert_eq!(completed + compensated, n);
}
