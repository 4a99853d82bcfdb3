//! Lending a borrowed transport as an owned `Arc<dyn Transport>` for the length of a check, so a check
//! that receives `&dyn Transport` can still hand the transport to a task or wrap it (in a
//! [`DisconnectingTransport`](crate::testing::DisconnectingTransport)).

use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{mpsc, oneshot};

use crate::transport::{
    Capabilities, Message, SubscribeOptions, Subscription, Transport, TransportError,
};

/// A call made on the lent handle, answered by the borrowed transport.
enum Call {
    Publish(String, Message, oneshot::Sender<Result<(), TransportError>>),
    Subscribe(
        String,
        String,
        SubscribeOptions,
        oneshot::Sender<Result<Box<dyn Subscription>, TransportError>>,
    ),
    DeleteGroup(String, String, oneshot::Sender<Result<(), TransportError>>),
}

/// The owned handle: forwards every call to the borrowed transport; once the loan ends, every call
/// fails with [`TransportError::Closed`]. Subscriptions come from the borrowed transport itself, so
/// they outlive the loan like any subscription outlives its handle.
struct Lent {
    calls: mpsc::UnboundedSender<Call>,
    capabilities: Capabilities,
}

impl Lent {
    async fn call<T>(
        &self,
        call: impl FnOnce(oneshot::Sender<Result<T, TransportError>>) -> Call,
    ) -> Result<T, TransportError> {
        let (answer, answered) = oneshot::channel();
        self.calls
            .send(call(answer))
            .map_err(|_| TransportError::Closed)?;
        answered.await.unwrap_or(Err(TransportError::Closed))
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl Transport for Lent {
    async fn publish(&self, topic: &str, message: Message) -> Result<(), TransportError> {
        self.call(|a| Call::Publish(topic.to_owned(), message, a))
            .await
    }

    async fn subscribe(
        &self,
        topic: &str,
        group: &str,
        options: SubscribeOptions,
    ) -> Result<Box<dyn Subscription>, TransportError> {
        self.call(|a| Call::Subscribe(topic.to_owned(), group.to_owned(), options, a))
            .await
    }

    async fn delete_group(&self, topic: &str, group: &str) -> Result<(), TransportError> {
        self.call(|a| Call::DeleteGroup(topic.to_owned(), group.to_owned(), a))
            .await
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }
}

/// Answers one call; a caller that gave up is no error.
async fn answer(t: &dyn Transport, call: Call) {
    match call {
        Call::Publish(topic, message, a) => drop(a.send(t.publish(&topic, message).await)),
        Call::Subscribe(topic, group, options, a) => {
            drop(a.send(t.subscribe(&topic, &group, options).await));
        }
        Call::DeleteGroup(topic, group, a) => drop(a.send(t.delete_group(&topic, &group).await)),
    }
}

/// Runs `body` with `t` lent as an `Arc<dyn Transport>`; calls on it are answered (concurrently) by
/// `t` until `body` is done.
pub(super) async fn lend<R>(
    t: &dyn Transport,
    body: impl AsyncFnOnce(Arc<dyn Transport>) -> R,
) -> R {
    let (calls, mut incoming) = mpsc::unbounded_channel();
    let lent = Arc::new(Lent {
        calls,
        capabilities: t.capabilities(),
    });
    let serve = async {
        let mut running = FuturesUnordered::new();
        loop {
            tokio::select! {
                call = incoming.recv() => match call {
                    Some(call) => running.push(answer(t, call)),
                    None => break,
                },
                Some(()) = running.next(), if !running.is_empty() => {}
            }
        }
        while running.next().await.is_some() {}
    };
    let body = body(lent);
    tokio::pin!(serve, body);
    tokio::select! {
        result = &mut body => result,
        // Every handle is gone: nothing more to answer.
        () = &mut serve => body.await,
    }
}
