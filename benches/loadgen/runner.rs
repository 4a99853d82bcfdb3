//! The shared driver of the load generator: N sagas, C in flight, latency percentiles.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use saga::{
    compensation_fn, step_fn, Executor, SagaDefinition, SagaLog, SagaState, StepContext, StepError,
};

/// Command-line arguments (see DESIGN §6).
#[derive(Debug, Clone)]
pub struct Args {
    pub log: String,
    pub transport: String,
    pub sagas: usize,
    pub concurrency: usize,
    pub steps: usize,
    /// 1-based step that fails permanently, if any.
    pub fail_at: Option<usize>,
    /// The log's default natural batching of concurrent writes (SQL and Redis logs); `--batching off`
    /// turns it off.
    pub batching: bool,
    /// SQL logs: ping pooled connections idle this long before use (`--ping-after-idle-ms`; 0 pings
    /// on every acquire, sqlx's default); `None` keeps the log's default.
    pub ping_after_idle_ms: Option<u64>,
    /// SQL logs: writer lanes of the natural batching (`--writers`); `None` keeps the default.
    pub writers: Option<usize>,
    /// Alternating rounds of baseline and library (SQL and Redis logs); each side reports the median.
    pub rounds: usize,
    /// Also measure recovery: this many sagas in flight are abandoned mid-saga and `recover()`ed.
    pub recover: Option<usize>,
    /// Scaling instead of library against baseline: the library's rate while the log already holds
    /// each of these numbers of finished sagas (`--preload 1000,100000,1000000`).
    pub preload: Vec<usize>,
}

impl Args {
    pub fn parse() -> Result<Self, String> {
        let mut a = Self {
            log: "memory".into(),
            transport: "inproc".into(),
            sagas: 200_000,
            concurrency: 256,
            steps: 3,
            fail_at: None,
            batching: true,
            rounds: 2,
            ping_after_idle_ms: None,
            recover: None,
            preload: Vec::new(),
            writers: None,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
            let num = |v: String| v.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
            match flag.as_str() {
                "--log" => a.log = value()?,
                "--transport" => a.transport = value()?,
                "--sagas" => a.sagas = num(value()?)?,
                "--concurrency" => a.concurrency = num(value()?)?.max(1),
                "--steps" => a.steps = num(value()?)?.max(1),
                "--fail-at" => a.fail_at = Some(num(value()?)?),
                "--batching" => {
                    a.batching = match value()?.as_str() {
                        "on" => true,
                        "off" => false,
                        other => return Err(format!("--batching on|off, not {other:?}")),
                    }
                }
                "--writers" => a.writers = Some(num(value()?)?.max(1)),
                "--rounds" => a.rounds = num(value()?)?.max(1),
                "--ping-after-idle-ms" => a.ping_after_idle_ms = Some(num(value()?)? as u64),
                "--recover" => a.recover = Some(num(value()?)?.max(1)),
                "--preload" => {
                    a.preload = value()?
                        .split(',')
                        .map(|n| {
                            n.trim()
                                .parse::<usize>()
                                .map_err(|e| format!("--preload: {e}"))
                        })
                        .collect::<Result<_, _>>()?;
                }
                // cargo bench passes --bench to harness = false targets.
                "--bench" => {}
                other => return Err(format!("unknown argument {other}")),
            }
        }
        if a.fail_at.is_some_and(|k| k == 0 || k > a.steps) {
            return Err("--fail-at must be within 1..=steps".into());
        }
        Ok(a)
    }
}

impl Args {
    /// The warm-up of a run: the same settings, a tenth of the sagas (at least one).
    pub fn warm_up(&self) -> Self {
        Self {
            sagas: (self.sagas / 10).max(1),
            ..self.clone()
        }
    }
}

/// Throughput and latency of one run.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub sagas_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Stats {
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "sagas_per_sec": self.sagas_per_sec.round(),
            "p50_ms": (self.p50_ms * 1000.0).round() / 1000.0,
            "p99_ms": (self.p99_ms * 1000.0).round() / 1000.0,
        })
    }
}

/// The median of several runs, each figure on its own (for an even count, the better of the two
/// middle ones: two rounds give the best of each, as the runs before `--rounds` did).
pub fn median(runs: &[Stats]) -> Option<Stats> {
    let mid = |mut v: Vec<f64>, higher_is_better: bool| {
        v.sort_by(f64::total_cmp);
        if !higher_is_better {
            v.reverse();
        }
        v.get(v.len() / 2).copied()
    };
    Some(Stats {
        sagas_per_sec: mid(runs.iter().map(|r| r.sagas_per_sec).collect(), true)?,
        p50_ms: mid(runs.iter().map(|r| r.p50_ms).collect(), false)?,
        p99_ms: mid(runs.iter().map(|r| r.p99_ms).collect(), false)?,
    })
}

/// Runs `one(i)` for i in 0..n with `concurrency` workers, timing each call.
pub async fn drive<F, Fut>(n: usize, concurrency: usize, one: F) -> Stats
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let one = Arc::new(one);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let one = Arc::clone(&one);
        let next = Arc::clone(&next);
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(n / concurrency + 1);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return lat;
                }
                let t = Instant::now();
                one(i).await;
                lat.push(t.elapsed());
            }
        }));
    }
    let mut all: Vec<Duration> = Vec::with_capacity(n);
    for w in workers {
        all.extend(w.await.expect("worker"));
    }
    let elapsed = start.elapsed();
    all.sort_unstable();
    let pct = |p: f64| {
        let idx = ((all.len() as f64 * p).ceil() as usize).clamp(1, all.len().max(1)) - 1;
        all.get(idx).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Stats {
        sagas_per_sec: n as f64 / elapsed.as_secs_f64(),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

/// The benchmark saga: `steps` no-op compensatable steps over `()`, step `fail_at` refusing.
pub fn definition(steps: usize, fail_at: Option<usize>) -> SagaDefinition<()> {
    definition_with(steps, fail_at, None)
}

/// Where a "crashing" run parks its sagas: step `step` (1-based) counts its arrivals and never returns.
#[derive(Clone)]
pub struct Hang {
    pub step: usize,
    pub arrived: Arc<AtomicUsize>,
    pub all_arrived: Arc<tokio::sync::Notify>,
    pub expected: usize,
}

pub fn definition_with(
    steps: usize,
    fail_at: Option<usize>,
    hang: Option<Hang>,
) -> SagaDefinition<()> {
    let mut b = SagaDefinition::<()>::builder("loadgen", 1);
    for i in 1..=steps {
        let fails = fail_at == Some(i);
        let hang = hang.clone().filter(|h| h.step == i);
        b = b.compensatable(
            format!("step-{i}"),
            step_fn(move |_: StepContext, d: ()| {
                let hang = hang.clone();
                async move {
                    if let Some(h) = hang {
                        if h.arrived.fetch_add(1, Ordering::SeqCst) + 1 == h.expected {
                            h.all_arrived.notify_one();
                        }
                        std::future::pending::<()>().await;
                    }
                    if fails {
                        Err(StepError::permanent("loadgen failure"))
                    } else {
                        Ok(d)
                    }
                }
            }),
            compensation_fn(|_: StepContext, _: ()| async { Ok::<_, StepError>(()) }),
        );
    }
    b.build().expect("valid loadgen definition")
}

/// Runs the library over `log` and checks every saga ended as expected.
pub async fn run_library(args: &Args, log: Arc<dyn SagaLog>) -> Stats {
    let exec = Executor::new(definition(args.steps, args.fail_at), log);
    let want = if args.fail_at.is_some() {
        SagaState::Compensated
    } else {
        SagaState::Completed
    };
    drive(args.sagas, args.concurrency, move |_| {
        let exec = exec.clone();
        async move {
            let outcome = exec.run(()).await.expect("saga runs");
            assert_eq!(outcome.state, want, "saga ended as expected");
        }
    })
    .await
}

/// Milliseconds since the Unix epoch, the clock the raw baselines stamp their rows with (as the
/// library's logs do).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
