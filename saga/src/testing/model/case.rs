//! One case: its ops applied to the model and to the real system in step, checked after each.

use std::time::Duration;

use super::check::{self, History};
use super::reference::{CallAt, Model, TTL_MS};
use super::world::{RealTask, World, PATIENCE};
use super::{ModelReport, Op, SLOTS};
use crate::id::SagaId;

/// Runs one case: `ops`, then a drain (replies `Ok` to every call, restarts a dead executor, retries
/// stuck sagas, expires leases) until every saga started is terminal. Call it on a tokio runtime
/// with a paused clock (`start_paused(true)`, current-thread).
pub async fn run_case(ops: &[Op]) -> ModelReport {
    let mut ids: Vec<SagaId> = (0..SLOTS).map(|_| SagaId::new()).collect();
    ids.sort();
    let mut case = Case {
        model: Model::new((0..usize::from(SLOTS)).collect()),
        world: World::new(ids),
        history: History::default(),
        report: ModelReport {
            cases: 1,
            ..ModelReport::default()
        },
    };
    for op in ops {
        if !case.step(*op, "").await {
            break;
        }
    }
    if case.report.failures.is_empty() {
        case.drain().await;
    }
    case.finish();
    if !case.report.failures.is_empty() {
        case.report.failures = vec![format!("{:?} in case {ops:?}", case.report.failures)];
    }
    case.report
}

pub(super) struct Case {
    pub(super) model: Model,
    pub(super) world: World,
    pub(super) history: History,
    pub(super) report: ModelReport,
}

impl Case {
    /// Applies `op` to both sides, waits for the model's state, checks; `false` once something failed.
    pub(super) async fn step(&mut self, op: Op, prefix: &str) -> bool {
        self.report.count(&format!("{prefix}{}", op.name()));
        if let Err(e) = self.apply(op).await {
            self.report.failures.push(format!("{op:?}: {e}"));
            return false;
        }
        if let Err(e) = self.transition(op).await {
            self.report.failures.push(e);
            return false;
        }
        // A crash that fired: the process is gone, with its tasks and its calls.
        let crashed: Vec<usize> = (0..self.model.incs.len())
            .filter(|&i| !self.model.incs[i].alive && !self.world.procs[i].killed)
            .collect();
        for inc in crashed {
            self.report.crashes += 1;
            self.model.kill(inc);
            let killed = self.world.kill(inc, &self.model).await;
            if let Err(e) = killed.and(self.transition(op).await) {
                self.report.failures.push(e);
                return false;
            }
        }
        true
    }

    /// Settles, joins the tasks the model says finished, and checks the invariants.
    async fn transition(&mut self, op: Op) -> Result<(), String> {
        self.report.transitions += 1;
        self.world
            .settle(&self.model)
            .await
            .map_err(|e| format!("after {op:?}: {e}"))?;
        for index in 0..self.model.tasks.len() {
            let task = &self.model.tasks[index];
            let finished = task.live == 0 && !task.killed;
            if !finished {
                continue;
            }
            if let Some(got) = self.world.join(index, false).await {
                check::task_result(&format!("after {op:?}, task {index}"), task, got)?;
            }
        }
        let failures = self.history.check(&self.world).await;
        if failures.is_empty() {
            Ok(())
        } else {
            Err(format!("after {op:?}: {failures:?}"))
        }
    }

    async fn apply(&mut self, op: Op) -> Result<(), String> {
        let slot = |s: u8| usize::from(s % SLOTS);
        let p = self.model.primary;
        match op {
            Op::Start { slot: s } => {
                let want = self.model.start(slot(s));
                self.report.answered(format!("start {want:?}"));
                let id = self.world.ids[slot(s)];
                let got = self.world.procs[p].exec.start_with_id(id, 0).await;
                check::same_answer("start", want, &got)?;
                if let Ok(handle) = got {
                    self.world
                        .put_task(self.model.tasks.len() - 1, RealTask::Start(handle));
                }
            }
            Op::Reply {
                slot: s,
                pick,
                reply,
            } => {
                let calls: Vec<CallAt> = self
                    .model
                    .pending()
                    .into_iter()
                    .filter(|c| c.slot == slot(s))
                    .collect();
                if let Some(&call) = calls.get(usize::from(pick) % calls.len().max(1)) {
                    let reply = self.model.answer(call, reply);
                    self.model.reply(call, reply);
                    let key = self.world.key(call);
                    if !self.world.mailbox.deliver(call.inc, key, reply) {
                        return Err(format!("no call of {key} to reply to"));
                    }
                }
            }
            Op::Crash { point } => {
                if self.model.incs[p].alive {
                    self.world.procs[p].log.crash_at_next_write(point);
                }
                self.model.crash(point);
            }
            Op::Restart => {
                if self.model.incs[p].alive {
                    self.model.kill(p);
                    self.world.kill(p, &self.model).await?;
                }
                let lineage = self.model.incs[p].lineage;
                self.recover_on_new(Some(lineage));
            }
            Op::ExpireLease => {
                self.advance(TTL_MS).await;
                self.recover_on_new(None);
            }
            Op::Takeover => self.recover_on_new(None),
            Op::AdvanceClock { secs } => self.advance(u64::from(secs) * 1000).await,
            Op::Cancel { slot: s } => {
                let want = self.model.cancel(slot(s));
                self.report.answered(format!("cancel {want:?}"));
                let exec = &self.world.procs[p].exec;
                let got = tokio::time::timeout(PATIENCE, exec.cancel(self.world.ids[slot(s)]))
                    .await
                    .map_err(|_| "cancel never returned".to_owned())?;
                check::same_answer("cancel", want, &got)?;
            }
            Op::Retry { slot: s } => {
                let task = self.model.retry(slot(s));
                let answer = self.model.tasks[task]
                    .early
                    .map_or("drives".to_owned(), |a| format!("{a:?}"));
                self.report.answered(format!("retry {answer}"));
                let exec = self.world.procs[p].exec.clone();
                let id = self.world.ids[slot(s)];
                let handle = tokio::spawn(async move { exec.retry(id).await });
                self.world.put_task(task, RealTask::Drive(handle));
            }
            Op::Resolve { slot: s } => {
                let want = self.model.resolve(slot(s));
                self.report.answered(format!("resolve {want:?}"));
                let exec = &self.world.procs[p].exec;
                let got =
                    tokio::time::timeout(PATIENCE, exec.resolve(self.world.ids[slot(s)], "model"))
                        .await
                        .map_err(|_| "resolve never returned".to_owned())?;
                check::same_answer("resolve", want, &got)?;
            }
            Op::Recover => self.recover(p),
        }
        Ok(())
    }

    async fn advance(&mut self, ms: u64) {
        self.model.now += ms;
        tokio::time::advance(Duration::from_millis(ms)).await;
    }

    /// A new process (of `lineage`, or a new owner id) recovers.
    fn recover_on_new(&mut self, lineage: Option<usize>) {
        let inc = self.model.spawn_inc(lineage);
        self.world.spawn_process(self.model.incs[inc].lineage);
        self.recover(inc);
    }

    fn recover(&mut self, inc: usize) {
        let task = self.model.recover(inc);
        let exec = self.world.procs[inc].exec.clone();
        let handle = tokio::spawn(async move { exec.recover().await });
        self.world.put_task(task, RealTask::Recover(handle));
    }
}
