//! The participant process: the test re-executes its own binary to run only the ignored
//! `child_participant` test, which serves the saga's steps until it is killed or its parent is gone.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use saga::participant::{InMemoryIdempotencyStore, Participant, ParticipantConfig};
use saga::StepError;

use super::backend::Backend;
use super::ledger::Ledger;

/// Tells the child test what to serve: `<redis|amqp> <transport url> <prefix> <ledger url>`,
/// separated by spaces. Absent: the child test returns at once.
pub const ENV: &str = "SAGA_PARTICIPANT_KILL_CHILD";

/// The saga's steps, served by the child: `step<i>` with commands `do` and `undo`.
pub const STEPS: u32 = 3;

/// A participant process, SIGKILLed when dropped (never left behind).
pub struct Child(std::process::Child);

impl Child {
    /// Starts the test binary again as a participant process for `spec` (see [`ENV`]). Its stdin
    /// is a pipe from this process: when this process dies, the child reads end of file and exits.
    pub fn spawn(spec: &str) -> Self {
        let exe = std::env::current_exe().expect("current_exe");
        let child = Command::new(exe)
            .args(["--exact", "child_participant", "--ignored", "--nocapture"])
            .env(ENV, spec)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("the participant process starts");
        Self(child)
    }

    /// Whether the process is still running (it exits early only if it failed to start serving).
    pub fn is_running(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }

    /// SIGKILL, and waits until it is gone.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The child side: serves the steps of `spec` until killed or until stdin closes (the parent died).
pub fn serve(spec: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let parts: Vec<&str> = spec.split(' ').collect();
        let [kind, url, prefix, ledger_url] = parts[..] else {
            panic!("{ENV} must be `<kind> <url> <prefix> <ledger url>`: {spec}");
        };
        let backend = Backend::connect(kind, url, prefix)
            .await
            .expect("the child connects to the transport");
        let ledger = Ledger::connect(ledger_url, prefix)
            .await
            .expect("the child connects to the ledger");
        let _participants = participants(&backend, &ledger).await;
        let mut stdin = tokio::io::stdin();
        let mut sink = tokio::io::sink();
        let _ = tokio::io::copy(&mut stdin, &mut sink).await;
    });
    // The parent is gone: leave at once, without waiting for the participants' tasks.
    std::process::exit(0);
}

/// The step participants: each command counts itself begun in the ledger, works 1 ms, then refuses
/// (if asked to) or applies its effect through the ledger's deduplication. A fresh in-memory inbox per
/// process: deduplication across processes is the ledger's.
async fn participants(backend: &Backend, ledger: &Ledger) -> Vec<Participant> {
    let config = ParticipantConfig::default().with_claim_lease(Duration::from_secs(5));
    let mut out = Vec::new();
    for i in 0..STEPS {
        let (l1, l2) = (ledger.clone(), ledger.clone());
        let p = Participant::builder(format!("step{i}"), backend.transport())
            .with_store(Arc::new(InMemoryIdempotencyStore::new()))
            .with_config(config.clone())
            .command("do", move |ctx, refuse: bool| {
                let ledger = l1.clone();
                async move {
                    ledger.begin().await?;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    if refuse {
                        return Err(StepError::permanent("refused"));
                    }
                    ledger.apply(ctx.idempotency_key()).await
                }
            })
            .command("undo", move |ctx, (): ()| {
                let ledger = l2.clone();
                async move {
                    ledger.begin().await?;
                    ledger.apply(ctx.idempotency_key()).await
                }
            })
            .spawn()
            .await
            .expect("participant");
        out.push(p);
    }
    out
}
