//! One (seed, path) of the crash matrix: an uninterrupted reference run, then a crash at every write.

use std::sync::Arc;

use parking_lot::Mutex;

use super::report::CrashReport;
use super::scripted::{definition, CrashPath, Ledger, Plan, SharedLedger};
use crate::executor::{Executor, ExecutorConfig};
use crate::id::{Direction, SagaId};
use crate::log::{SagaLog, SagaState};
use crate::testing::{CrashPoint, CrashingLog};

/// The "process" identity: the restarted executor reclaims its own sagas without waiting for leases.
const OWNER: &str = "crash-matrix";

/// What the contract says the case ends with.
struct Expected {
    state: SagaState,
    effects: Vec<(usize, Direction)>,
    compensations: Vec<usize>,
}

fn expected(steps: usize, path: CrashPath) -> Expected {
    match path {
        CrashPath::Success => Expected {
            state: SagaState::Completed,
            effects: (0..steps).map(|i| (i, Direction::Forward)).collect(),
            compensations: Vec::new(),
        },
        CrashPath::Fails(f) => {
            let compensations: Vec<usize> = (0..f).rev().collect();
            let effects = (0..f)
                .map(|i| (i, Direction::Forward))
                .chain(compensations.iter().map(|&i| (i, Direction::Compensate)))
                .collect();
            Expected {
                state: SagaState::Compensated,
                effects,
                compensations,
            }
        }
    }
}

fn executor(
    log: Arc<dyn SagaLog>,
    name: &str,
    plan: &Arc<Plan>,
    ledger: &SharedLedger,
) -> Executor<u64> {
    Executor::with_config(
        definition(name, plan, ledger),
        log,
        ExecutorConfig::default().with_owner_id(OWNER),
    )
}

fn case_name() -> String {
    format!("crash-matrix-{}", uuid::Uuid::new_v4().simple())
}

pub(super) async fn run_seed_path(
    log: &Arc<dyn SagaLog>,
    steps: usize,
    seed: u64,
    path: CrashPath,
    report: &mut CrashReport,
) {
    let plan = Arc::new(Plan::new(steps, seed, path));
    let want = expected(steps, path);

    // The reference run counts the writes to crash at.
    let counter = Arc::new(CrashingLog::new(
        Arc::new(Arc::clone(log)),
        0,
        CrashPoint::BeforeWrite,
    ));
    let ledger: SharedLedger = Arc::new(Mutex::new(Ledger::default()));
    let id = SagaId::new();
    let exec = executor(counter.clone(), &case_name(), &plan, &ledger);
    let state = match exec.run_with_id(id, 0).await {
        Ok(outcome) => Some(outcome.state),
        Err(e) => {
            report.fail(format!(
                "seed {seed} {path:?}: the uninterrupted run failed: {e}"
            ));
            None
        }
    };
    report.check(
        &format!("seed {seed} {path:?} uninterrupted"),
        state,
        &ledger.lock(),
        &want,
    );
    let writes = counter.writes();

    for k in 1..=writes {
        for point in [CrashPoint::BeforeWrite, CrashPoint::AfterWrite] {
            let what = format!("seed {seed} {path:?} crash at write {k}/{writes} {point:?}");
            crashed(log, &plan, k, point, &want, &what, report).await;
        }
    }
}

async fn crashed(
    log: &Arc<dyn SagaLog>,
    plan: &Arc<Plan>,
    k: u64,
    point: CrashPoint,
    want: &Expected,
    what: &str,
    report: &mut CrashReport,
) {
    let ledger: SharedLedger = Arc::new(Mutex::new(Ledger::default()));
    let name = case_name();
    let id = SagaId::new();
    let crashing = Arc::new(CrashingLog::new(Arc::new(Arc::clone(log)), k, point));
    let first = executor(crashing.clone(), &name, plan, &ledger);
    let result = first.run_with_id(id, 0).await;
    drop(first);
    if result.is_ok() || !crashing.crashed() {
        report.fail(format!("{what}: the run did not crash"));
        return;
    }
    report.crashes += 1;

    // The restarted process: same log, same participants (ledger), new executor.
    let second = executor(Arc::clone(log), &name, plan, &ledger);
    match second.recover().await {
        Ok(r) if r.failed.is_empty() && r.corrupt.is_empty() => {}
        Ok(r) => report.fail(format!("{what}: recovery reported {r:?}")),
        Err(e) => report.fail(format!("{what}: recovery failed: {e}")),
    }
    let state = match log.load(id).await {
        Ok(snapshot) => snapshot.map(|s| s.instance.state),
        Err(e) => {
            report.fail(format!("{what}: load failed: {e}"));
            return;
        }
    };
    let ledger = ledger.lock();
    if k == 1 && point == CrashPoint::BeforeWrite {
        // The saga was never created: nothing may have happened.
        report.runs += 1;
        if state.is_some() || !ledger.calls.is_empty() {
            report.unexpected += 1;
            report.fail(format!(
                "{what}: a saga that was never created did something"
            ));
        }
        return;
    }
    report.check(what, state, &ledger, want);
}

impl CrashReport {
    /// Checks one finished case against the contract and counts what is wrong.
    fn check(&mut self, what: &str, state: Option<SagaState>, ledger: &Ledger, want: &Expected) {
        self.runs += 1;
        if state != Some(want.state) {
            self.lost += 1;
            self.fail(format!(
                "{what}: state {state:?}, expected {:?}",
                want.state
            ));
        }
        for key in &want.effects {
            match ledger
                .effects
                .get(key)
                .map_or(0, std::collections::HashSet::len)
            {
                1 => {}
                0 => {
                    self.lost += 1;
                    self.fail(format!("{what}: effect {key:?} missing"));
                }
                n => {
                    self.doubled += 1;
                    self.fail(format!("{what}: effect {key:?} applied under {n} keys"));
                }
            }
        }
        let extra = ledger
            .effects
            .keys()
            .filter(|k| !want.effects.contains(k))
            .count();
        if extra > 0 {
            self.unexpected += 1;
            self.fail(format!("{what}: {extra} effects the path does not have"));
        }
        let first_comp = ledger
            .calls
            .iter()
            .position(|(_, d)| *d == Direction::Compensate);
        let forward_after = first_comp.is_some_and(|at| {
            ledger.calls[at..]
                .iter()
                .any(|(_, d)| *d == Direction::Forward)
        });
        if ledger.compensations != want.compensations || forward_after {
            self.out_of_order += 1;
            self.fail(format!(
                "{what}: compensations {:?} (expected {:?}), forward after compensation: {forward_after}",
                ledger.compensations, want.compensations
            ));
        }
        self.re_executions += ledger
            .successes
            .values()
            .map(|n| u64::from(n.saturating_sub(1)))
            .sum::<u64>();
    }
}
