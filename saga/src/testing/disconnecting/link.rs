//! The simulated connection a [`DisconnectingTransport`](super::DisconnectingTransport) shares with its
//! subscriptions and deliveries: which connection is current, whether it is down, and the deliveries
//! handed out on it and not yet settled.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use tokio::sync::watch;

use crate::transport::{Acker, Delivery, Message, TransportError};

/// What a subscription checks before each step.
#[derive(Debug, Clone, Copy)]
pub(super) struct Status {
    /// Which connection is current; a cut starts a new one.
    pub(super) generation: u64,
    /// An outage is on: nothing connects, nothing is published.
    pub(super) down: bool,
    pub(super) closed: bool,
}

#[derive(Default)]
struct State {
    generation: u64,
    outages: usize,
    closed: bool,
    next_id: u64,
    /// Unsettled deliveries of the current connection, by the id their acker holds.
    live: HashMap<u64, Delivery>,
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) disconnects: AtomicU64,
    pub(super) reconnects: AtomicU64,
    pub(super) cut_deliveries: AtomicU64,
    pub(super) stale_settlements: AtomicU64,
    pub(super) refused: AtomicU64,
}

pub(super) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

pub(super) struct Link {
    state: Mutex<State>,
    /// Wakes subscriptions on a cut or a close.
    wake: watch::Sender<()>,
    pub(super) counters: Counters,
}

impl Link {
    pub(super) fn new() -> Self {
        Self {
            state: Mutex::default(),
            wake: watch::Sender::new(()),
            counters: Counters::default(),
        }
    }

    pub(super) fn status(&self) -> Status {
        let s = self.state.lock();
        Status {
            generation: s.generation,
            down: s.outages > 0,
            closed: s.closed,
        }
    }

    /// A receiver woken by every cut and by the close.
    pub(super) fn watch(&self) -> watch::Receiver<()> {
        self.wake.subscribe()
    }

    /// `Ok` while connected; a transient error during an outage, `Closed` once closed.
    pub(super) fn check_up(&self) -> Result<(), TransportError> {
        let status = self.status();
        if status.closed {
            return Err(TransportError::Closed);
        }
        if status.down {
            bump(&self.counters.refused);
            return Err(TransportError::connection(
                "connection down (simulated outage)",
            ));
        }
        Ok(())
    }

    /// Drops the connection (and keeps it down until [`end_outage`](Self::end_outage) with `outage`):
    /// every delivery handed out on it is abandoned, so the inner transport delivers it again.
    pub(super) fn cut(&self, outage: bool) {
        let cut = {
            let mut s = self.state.lock();
            s.generation += 1;
            s.outages += usize::from(outage);
            std::mem::take(&mut s.live)
        };
        bump(&self.counters.disconnects);
        self.counters
            .cut_deliveries
            .fetch_add(cut.len() as u64, Ordering::Relaxed);
        drop(cut); // outside the lock: each drop abandons an inner delivery
        self.wake.send_replace(());
    }

    pub(super) fn end_outage(&self) {
        let mut s = self.state.lock();
        s.outages = s.outages.saturating_sub(1);
    }

    pub(super) fn close(&self) {
        self.state.lock().closed = true;
        self.wake.send_replace(());
    }

    /// Hands out `delivery`, received on connection `generation`, settled through this link; `None`
    /// (and the delivery abandoned) if that connection was cut meanwhile.
    pub(super) fn hand_out(
        self: &Arc<Self>,
        generation: u64,
        delivery: Delivery,
    ) -> Option<Delivery> {
        let (message, count) = (delivery.message().clone(), delivery.deliveries());
        let id = {
            let mut s = self.state.lock();
            if s.generation != generation {
                None
            } else {
                let id = s.next_id;
                s.next_id += 1;
                s.live.insert(id, delivery);
                Some(id)
            }
        }?;
        let acker = LinkAcker {
            link: Arc::clone(self),
            id,
        };
        Some(Delivery::new(message, count, Box::new(acker)))
    }

    /// The inner delivery behind acker `id`, unless a cut abandoned it.
    fn settle(&self, id: u64) -> Result<Delivery, TransportError> {
        let kept = self.state.lock().live.remove(&id);
        kept.ok_or_else(|| {
            bump(&self.counters.stale_settlements);
            TransportError::connection(
                "the connection this delivery came on was lost; it will be delivered again",
            )
        })
    }
}

/// Settles a handed-out delivery through the inner one, or reports that its connection is gone.
struct LinkAcker {
    link: Arc<Link>,
    id: u64,
}

#[async_trait]
impl Acker for LinkAcker {
    async fn ack(self: Box<Self>) -> Result<(), TransportError> {
        self.link.settle(self.id)?.ack().await
    }

    async fn requeue(
        self: Box<Self>,
        _message: Message,
        delay: Duration,
    ) -> Result<(), TransportError> {
        self.link.settle(self.id)?.requeue(delay).await
    }

    async fn dead_letter(
        self: Box<Self>,
        _message: Message,
        reason: &str,
    ) -> Result<(), TransportError> {
        self.link.settle(self.id)?.dead_letter(reason).await
    }

    /// Drops the inner delivery, which abandons it in turn: no runtime needed here.
    fn abandon(self: Box<Self>, _message: Message) {
        let kept = self.link.state.lock().live.remove(&self.id);
        drop(kept);
    }
}
