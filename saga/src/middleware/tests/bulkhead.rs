//! The bulkhead's limit, queue and timeout, and its independence from other bulkheads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tower_layer::Layer;

use super::support::{ctx, Scripted};
use crate::middleware::{BulkheadConfig, BulkheadLayer, MiddlewareError};
use crate::step::{Step, StepError};

fn bulkhead(max_concurrent: usize, max_waiting: usize, wait: Duration) -> BulkheadLayer {
    BulkheadLayer::new(
        BulkheadConfig::default()
            .with_name("payment-gateway")
            .with_max_concurrent(max_concurrent)
            .with_max_waiting(max_waiting)
            .with_wait_timeout(wait),
    )
}

/// Starts a call that holds a slot of `b` until the returned sender is dropped or used.
async fn hold(b: &BulkheadLayer) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (release, released) = oneshot::channel::<()>();
    let (entered, entry) = oneshot::channel();
    let b = b.clone();
    let task = tokio::spawn(async move {
        let _ = b
            .call(|| async move {
                let _ = entered.send(());
                let _ = released.await;
                Ok::<_, StepError>(())
            })
            .await;
    });
    entry.await.expect("the holder entered");
    (release, task)
}

async fn call_counted(
    b: &BulkheadLayer,
    in_flight: &AtomicUsize,
    max_seen: &AtomicUsize,
) -> Result<(), MiddlewareError<StepError>> {
    b.call(|| async {
        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        max_seen.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(5)).await;
        in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn never_exceeds_its_limit_under_1000_concurrent_callers() {
    let b = bulkhead(10, 1_000, Duration::from_secs(3_600));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max_seen = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..1_000)
        .map(|_| {
            let (b, in_flight, max_seen) =
                (b.clone(), Arc::clone(&in_flight), Arc::clone(&max_seen));
            tokio::spawn(async move { call_counted(&b, &in_flight, &max_seen).await })
        })
        .collect();
    for task in tasks {
        task.await
            .expect("no panic")
            .expect("every caller got a slot");
    }
    assert_eq!(max_seen.load(Ordering::SeqCst), 10);
    assert_eq!((b.in_flight(), b.waiting()), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn never_exceeds_its_limit_on_many_threads() {
    let b = bulkhead(8, 1_000, Duration::from_secs(3_600));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max_seen = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..1_000)
        .map(|_| {
            let (b, in_flight, max_seen) =
                (b.clone(), Arc::clone(&in_flight), Arc::clone(&max_seen));
            tokio::spawn(async move {
                b.call(|| async {
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    max_seen.fetch_max(now, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    Ok::<_, StepError>(())
                })
                .await
            })
        })
        .collect();
    for task in tasks {
        task.await
            .expect("no panic")
            .expect("every caller got a slot");
    }
    assert!(max_seen.load(Ordering::SeqCst) <= 8);
}

#[tokio::test(start_paused = true)]
async fn rejects_after_its_wait_timeout() {
    let b = bulkhead(1, 10, Duration::from_millis(100));
    let (release, holder) = hold(&b).await;
    let step = Scripted::default();
    let result = b.call(|| async { step.next() }).await;
    match result {
        Err(MiddlewareError::BulkheadFull {
            name,
            max_concurrent,
            waited,
        }) => {
            assert_eq!((&*name, max_concurrent), ("payment-gateway", 1));
            assert!(waited >= Duration::from_millis(100));
        }
        other => panic!("expected BulkheadFull, got {other:?}"),
    }
    assert_eq!(step.calls(), 0);
    let _ = release.send(());
    holder.await.expect("holder finished");
    b.call(|| async { step.next() })
        .await
        .expect("a free slot again");
}

#[tokio::test(start_paused = true)]
async fn rejects_at_once_when_the_queue_is_full() {
    let b = bulkhead(1, 0, Duration::from_secs(60));
    let (_release, _holder) = hold(&b).await;
    let started = tokio::time::Instant::now();
    let result = b.call(|| async { Ok::<_, StepError>(()) }).await;
    assert!(matches!(
        result,
        Err(MiddlewareError::BulkheadFull {
            waited: Duration::ZERO,
            ..
        })
    ));
    assert_eq!(started.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn clones_share_one_limit() {
    let b = bulkhead(1, 0, Duration::ZERO);
    let reserve = b.layer(Scripted::default());
    let charge = b.clone().layer(Scripted::default());
    let (_release, _holder) = hold(&reserve.bulkhead().clone()).await;
    let error = charge
        .execute(&ctx(), &mut 0)
        .await
        .expect_err("the shared slot is taken");
    assert!(error.is_transient());
    assert!(error.to_string().contains("bulkhead"));
}

#[tokio::test(start_paused = true)]
async fn a_slow_participant_does_not_starve_another() {
    let payment = bulkhead(1, 0, Duration::ZERO);
    let carrier = bulkhead(1, 0, Duration::ZERO);
    let (_release, _holder) = hold(&payment).await;
    assert!(payment
        .call(|| async { Ok::<_, StepError>(()) })
        .await
        .is_err());
    carrier
        .call(|| async { Ok::<_, StepError>(()) })
        .await
        .expect("the carrier's bulkhead is independent");
}
