//! The Redis Streams transport target (`--transport redis://…`): every step is a remote command to a
//! participant over [`RedisTransport`] (`ReplyRouter` + `RemoteStep`), with the log of `--log`
//! (memory or redis). The raw redis-rs baseline sends the same messages with the same commands and no
//! saga logic: per step `XADD` (+ `XLEN`, as the bounded publish pipelines it) of the command, a
//! participant loop reading it with `XREADGROUP … BLOCK` that `XADD`s the reply and then `XACK`s the
//! command, and a reply loop reading the reply with `XREADGROUP` that `XACK`s it and wakes the saga.

use std::sync::Arc;

use saga::participant::{Participant, ParticipantConfig, ReplyRouter, RouterConfig};
use saga::transport::Transport;
use saga::{Executor, SagaDefinition, SagaLog, SagaState, StepError};
use saga_redis::redis;
use saga_redis::{RedisTransport, RedisTransportConfig};

use crate::runner::{drive, Args, Stats};
use crate::streams_raw;

fn prefix() -> String {
    format!("lg{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

/// Runs the library and the baseline; returns (library, baseline).
pub async fn run(args: &Args, log: Arc<dyn SagaLog>) -> Result<(Stats, Stats), String> {
    let url = args.transport.as_str();
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let conn = client
        .get_connection_manager()
        .await
        .map_err(|e| e.to_string())?;
    let warm = args.warm_up();
    let lib_prefix = prefix();
    let config = RedisTransportConfig::new(url).with_key_prefix(&lib_prefix);
    let t = RedisTransport::connect(config)
        .await
        .map_err(|e| e.to_string())?;
    let raw_prefix = prefix();
    // LOADGEN_ONLY=library|baseline runs one contender (for profiling); the ratio is then 1.
    let only = std::env::var("LOADGEN_ONLY").ok();
    if let Some(only) = only
        .as_deref()
        .filter(|o| ["library", "baseline"].contains(o))
    {
        let stats = if only == "library" {
            library(args, &t, log).await
        } else {
            streams_raw::baseline(args, &client, conn.clone(), &raw_prefix).await
        };
        t.close();
        t.delete_all().await.map_err(|e| e.to_string())?;
        crate::redis_log::delete_under(conn, &raw_prefix).await?;
        return Ok((stats, stats));
    }
    let _ = library(&warm, &t, Arc::clone(&log)).await;
    let _ = streams_raw::baseline(&warm, &client, conn.clone(), &raw_prefix).await;
    // Two rounds, alternating, best of each: other work on a shared machine skews neither alone.
    let mut base = streams_raw::baseline(args, &client, conn.clone(), &raw_prefix).await;
    let mut lib = library(args, &t, Arc::clone(&log)).await;
    let again = streams_raw::baseline(args, &client, conn.clone(), &raw_prefix).await;
    if again.sagas_per_sec > base.sagas_per_sec {
        base = again;
    }
    let again = library(args, &t, log).await;
    if again.sagas_per_sec > lib.sagas_per_sec {
        lib = again;
    }
    t.close();
    t.delete_all().await.map_err(|e| e.to_string())?;
    crate::redis_log::delete_under(conn, &raw_prefix).await?;
    Ok((lib, base))
}

async fn library(args: &Args, t: &RedisTransport, log: Arc<dyn SagaLog>) -> Stats {
    let transport: Arc<dyn Transport> = Arc::new(t.clone());
    let mut b = Participant::builder("lg", Arc::clone(&transport))
        .with_config(ParticipantConfig::default().with_concurrency(args.concurrency.max(64)));
    for i in 1..=args.steps {
        let fails = args.fail_at == Some(i);
        b = b
            .command(format!("step-{i}"), move |_ctx, (): ()| async move {
                if fails {
                    Err(StepError::permanent("loadgen failure"))
                } else {
                    Ok(())
                }
            })
            .command(format!("undo-{i}"), |_ctx, (): ()| async {
                Ok::<_, StepError>(())
            });
    }
    let participant = b.spawn().await.expect("participant");
    let router = ReplyRouter::start(transport, RouterConfig::default())
        .await
        .expect("router");
    let mut def = SagaDefinition::<()>::builder("loadgen", 1);
    for i in 1..=args.steps {
        def = def.compensatable(
            format!("step-{i}"),
            router.step(
                "lg",
                format!("step-{i}"),
                |(): &()| (),
                |(): &mut (), (): ()| {},
            ),
            router.compensation("lg", format!("undo-{i}"), |(): &()| ()),
        );
    }
    let exec = Executor::new(def.build().expect("definition"), log);
    let want = if args.fail_at.is_some() {
        SagaState::Compensated
    } else {
        SagaState::Completed
    };
    let stats = drive(args.sagas, args.concurrency, move |_| {
        let exec = exec.clone();
        async move {
            let outcome = exec.run(()).await.expect("saga runs");
            assert_eq!(outcome.state, want, "saga ended as expected");
        }
    })
    .await;
    participant.shutdown().await;
    let _ = router.shutdown().await;
    stats
}
