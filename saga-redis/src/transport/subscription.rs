//! [`RedisSubscription`]: one consumer of a group, cancel safe.

use std::collections::VecDeque;

use async_trait::async_trait;
use futures::future::BoxFuture;
use futures::FutureExt as _;
use saga::transport::{Delivery, Subscription, TransportError};

use super::reader::{Polled, Reader};

/// The reader is either idle, or busy with a poll that outlives any one `next` call: a `next` future
/// dropped half-way leaves the poll in the slot, and the following `next` resumes it, so entries a
/// read has taken from Redis are never dropped on the floor.
enum Slot {
    Idle(Box<Reader>),
    Busy(BoxFuture<'static, (Box<Reader>, Polled)>),
    Done,
}

/// A consumer of one group of one topic (see [`RedisTransport`](crate::RedisTransport)).
pub(crate) struct RedisSubscription {
    ready: VecDeque<Delivery>,
    slot: Slot,
}

impl RedisSubscription {
    pub(crate) fn new(reader: Reader) -> Self {
        Self {
            ready: VecDeque::new(),
            slot: Slot::Idle(Box::new(reader)),
        }
    }
}

#[async_trait]
impl Subscription for RedisSubscription {
    async fn next(&mut self) -> Option<Result<Delivery, TransportError>> {
        loop {
            if let Some(delivery) = self.ready.pop_front() {
                return Some(Ok(delivery));
            }
            let poll = match std::mem::replace(&mut self.slot, Slot::Done) {
                Slot::Idle(reader) => reader.poll().boxed(),
                Slot::Busy(poll) => poll,
                Slot::Done => return None,
            };
            self.slot = Slot::Busy(poll);
            let Slot::Busy(poll) = &mut self.slot else {
                return None;
            };
            let (reader, polled) = poll.await;
            self.slot = Slot::Idle(reader);
            match polled {
                Polled::Batch(batch) => self.ready.extend(batch),
                Polled::Failed(e) => return Some(Err(e)),
                Polled::Closed => {
                    self.slot = Slot::Done;
                    return None;
                }
            }
        }
    }
}
