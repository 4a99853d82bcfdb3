//! Connection loss: a subscription reports it, comes back by itself and loses nothing; deliveries of
//! the lost connection cannot be acked as if nothing happened.

use std::collections::HashSet;

use super::lend::lend;
use super::support::{
    ack, assert_quiet, next_item, number, numbered, publish, recv, recv_numbers, subscribe,
};
use super::TransportConformance;
use crate::testing::DisconnectingTransport;
use crate::transport::{Subscription, Transport, TransportError};

/// The transport under test, behind a [`DisconnectingTransport`], through an outage and a second
/// loss: the subscription yields one connection error per loss and then keeps yielding deliveries;
/// a publish during the outage fails transiently; the ack of a delivery received before the loss fails
/// and the message is delivered again; nothing is lost; the subscription ends only once the
/// transport is closed. What this proves about the transport under test is that a consumer that goes
/// away with unsettled deliveries (a dead connection) gets them back on its new subscription; the
/// adapters' own tests cut the real connection.
pub async fn survives_a_connection_loss(t: &dyn Transport, options: &TransportConformance) {
    let topic = options.name("connection-loss");
    lend(t, async |inner| {
        let link = DisconnectingTransport::new(inner);
        let mut sub = subscribe(&link, &topic, "g").await;
        publish(&link, &topic, numbered(1)).await;
        publish(&link, &topic, numbered(2)).await;
        let held = recv(&mut *sub, options, "connection loss: before").await;

        let outage = link.outage();
        expect_loss(&mut *sub, options, "an outage").await;
        match link.publish(&topic, numbered(3)).await {
            Err(e) if e.is_transient() => {}
            other => panic!("connection loss: a publish during the outage returned {other:?}"),
        }
        assert!(
            held.ack().await.is_err(),
            "connection loss: the ack of a delivery of the lost connection succeeded"
        );
        drop(outage);
        publish(&link, &topic, numbered(3)).await;
        let got = recv_numbers(&mut *sub, options, 3, "connection loss: after the outage").await;
        assert_eq!(
            got,
            HashSet::from([1, 2, 3]),
            "connection loss: messages lost"
        );
        assert_quiet(&mut *sub, options, "connection loss: extra delivery").await;

        link.disconnect();
        expect_loss(&mut *sub, options, "a second loss").await;
        publish(&link, &topic, numbered(4)).await;
        let d = recv(&mut *sub, options, "connection loss: after the second loss").await;
        assert_eq!(number(&d), 4, "connection loss: another message");
        ack(d).await;

        link.close();
        if let Some(item) = next_item(&mut *sub, options, "connection loss: close").await {
            panic!("connection loss: the subscription went on after the close: {item:?}");
        }
    })
    .await;
}

/// The subscription's next item is the report of a lost connection.
async fn expect_loss(sub: &mut dyn Subscription, options: &TransportConformance, what: &str) {
    match next_item(sub, options, "connection loss").await {
        Some(Err(TransportError::Connection { .. })) => {}
        other => panic!("connection loss: after {what} the subscription yielded {other:?}"),
    }
}
