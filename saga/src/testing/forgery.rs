//! Forged and replayed replies, against any transport: an orchestrator's [`ReplyRouter`] issues
//! requests; a responder answers each one with the genuine reply, but first publishes forgeries to the
//! same reply channel (a random correlation id; the right correlation id with the wrong saga, step,
//! direction or attempt, or the wrong saga and step) and afterwards replays the
//! genuine reply twice. The router must hand every request its genuine reply and accept nothing else,
//! exactly once per request.
//!
//! ```
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use saga::testing::forgery::ForgedReplies;
//! let report = ForgedReplies::new(700).run(Arc::new(saga::InProcTransport::new()), "doc").await;
//! assert_eq!(report.forged_accepted, 0);
//! assert!(report.forged >= 700);
//! # });
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;

use crate::id::{Direction, SagaId};
use crate::participant::{ReplyRouter, RouterConfig};
use crate::transport::{
    Headers, Message, MessageId, MessageKind, ReplyStatus, Transport, TransportExt,
};

/// Forgeries published before each genuine reply, and replays after it.
const FORGED_BEFORE: u64 = 6;
const REPLAYS_AFTER: u64 = 2;
const GENUINE: &[u8] = b"genuine";
const FORGED: &[u8] = b"forged";

/// What the run counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ForgeryReport {
    /// Requests issued (each answered once, genuinely).
    pub requests: u64,
    /// Forged and replayed replies published.
    pub forged: u64,
    /// Forged or replayed replies the router accepted: must be 0.
    pub forged_accepted: u64,
    /// Requests that got their genuine reply.
    pub genuine_accepted: u64,
    /// Wall time.
    pub duration: Duration,
}

/// The scenario; see the [module docs](self).
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct ForgedReplies {
    forged: u64,
    concurrency: usize,
    timeout: Duration,
}

impl ForgedReplies {
    /// At least `forged` forged or replayed replies (8 per request).
    pub fn new(forged: u64) -> Self {
        Self {
            forged,
            concurrency: 16,
            timeout: Duration::from_secs(30),
        }
    }

    /// Requests in flight at once.
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Runs it on `transport`, naming every topic under `prefix`; deletes the groups it made.
    ///
    /// # Panics
    /// When the transport fails (subscribe, publish) or a request gets no reply in time.
    pub async fn run(&self, transport: Arc<dyn Transport>, prefix: &str) -> ForgeryReport {
        let started = Instant::now();
        let per_request = FORGED_BEFORE + REPLAYS_AFTER;
        let requests = self.forged.div_ceil(per_request).max(1);
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let owner = format!("{prefix}-forgery-{}", &unique[..8]);
        let topic = format!("{prefix}.forgery.{}.commands", &unique[..8]);
        let router = ReplyRouter::start(
            Arc::clone(&transport),
            RouterConfig::default().with_owner_id(owner),
        )
        .await
        .expect("reply router");
        let mut commands = transport
            .subscribe_durable(&topic, &topic)
            .await
            .expect("command subscription");
        let forged = Arc::new(AtomicU64::new(0));
        let responder = {
            let (transport, forged) = (Arc::clone(&transport), Arc::clone(&forged));
            tokio::spawn(async move {
                let mut answered = 0;
                while answered < requests {
                    let Some(Ok(delivery)) = commands.next().await else {
                        break;
                    };
                    answer(&*transport, delivery.message(), &forged).await;
                    delivery.ack().await.expect("ack the command");
                    answered += 1;
                }
            })
        };
        let timeout = self.timeout;
        let results: Vec<bool> = futures::stream::iter(0..requests)
            .map(|n| {
                let (router, topic) = (router.clone(), topic.clone());
                async move {
                    let reply = router
                        .request(&topic, command(n), timeout)
                        .await
                        .expect("every request gets a reply");
                    reply.payload.as_ref() == GENUINE
                }
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        responder
            .await
            .expect("the responder answered every request");
        let genuine = results.iter().filter(|ok| **ok).count() as u64;
        // Every forgery and replay was published; wait until the router has routed them all.
        let published = requests * (per_request + 1);
        let deadline = Instant::now() + self.timeout;
        while routed(&router) < published && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(routed(&router) >= published, "the router saw every reply");
        let stats = router.stats();
        router.shutdown().await.expect("delete the reply channel");
        transport
            .delete_group(&topic, &topic)
            .await
            .expect("delete the command group");
        ForgeryReport {
            requests,
            forged: forged.load(Ordering::Relaxed),
            forged_accepted: (requests - genuine) + stats.accepted.saturating_sub(requests),
            genuine_accepted: genuine,
            duration: started.elapsed(),
        }
    }
}

/// Replies the router has routed (accepted, kept, dropped or dead-lettered).
fn routed(router: &ReplyRouter) -> u64 {
    let s = router.stats();
    s.accepted + s.dropped + s.early + s.dead_lettered
}

fn command(n: u64) -> Message {
    let mut h = Headers::new(MessageKind::Command);
    h.name = Some(Arc::from("forgery.command"));
    h.saga_id = Some(SagaId::new());
    h.step = Some(u32::try_from(n % 7).unwrap_or(0) + 1);
    h.direction = Some(Direction::Forward);
    h.attempt = Some(1);
    Message::with_headers(h, &b"command"[..])
}

/// The genuine reply to `request`.
fn reply(request: &Headers, payload: &'static [u8]) -> Message {
    let mut h = Headers::new(MessageKind::Reply);
    h.name.clone_from(&request.name);
    h.saga_id = request.saga_id;
    h.step = request.step;
    h.direction = request.direction;
    h.attempt = request.attempt;
    h.correlation_id = Some(request.message_id);
    h.status = Some(ReplyStatus::Ok);
    Message::with_headers(h, payload)
}

/// The forgeries of a reply to `request`, each wrong in one way.
fn forgeries(request: &Headers) -> Vec<Message> {
    let forge = |f: &dyn Fn(&mut Headers)| {
        let mut m = reply(request, FORGED);
        f(&mut m.headers);
        m
    };
    vec![
        forge(&|h| h.correlation_id = Some(MessageId::new())),
        forge(&|h| h.saga_id = Some(SagaId::new())),
        forge(&|h| h.step = h.step.map(|s| s + 100)),
        forge(&|h| h.attempt = h.attempt.map(|a| a + 1)),
        forge(&|h| h.direction = Some(Direction::Compensate)),
        forge(&|h| {
            h.saga_id = Some(SagaId::new());
            h.step = h.step.map(|s| s + 1);
        }),
    ]
}

async fn answer(transport: &dyn Transport, request: &Message, forged: &AtomicU64) {
    let h = &request.headers;
    let Some(reply_to) = h.reply_to.clone() else {
        return;
    };
    let genuine = reply(h, GENUINE);
    let mut out = forgeries(h);
    debug_assert_eq!(out.len() as u64, FORGED_BEFORE);
    out.push(genuine.clone());
    for _ in 0..REPLAYS_AFTER {
        out.push(genuine.clone());
    }
    for (i, m) in out.into_iter().enumerate() {
        transport
            .publish(&reply_to, m)
            .await
            .expect("publish a reply");
        if i as u64 != FORGED_BEFORE {
            forged.fetch_add(1, Ordering::Relaxed);
        }
    }
}
