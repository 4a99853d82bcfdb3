//! No credential reaches a log line: every field of every `tracing` event and span (this crate's and
//! lapin's, at every level) is recorded while a wrong password is refused by the broker and while a
//! connection is cut and re-established. Its own test binary, with a global subscriber (lapin logs from
//! its I/O tasks on other threads).

mod common;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::proxy::{self, Proxy};
use parking_lot::Mutex;
use saga::transport::{Message, MessageKind};
use saga::Transport;
use saga_amqp::AmqpTransport;

/// Everything logged, as text.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

struct Visit<'a>(&'a mut String);

impl tracing::field::Visit for Visit<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut line = String::new();
        attrs.record(&mut Visit(&mut line));
        self.0.lock().push(line);
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut line = String::new();
        values.record(&mut Visit(&mut line));
        self.0.lock().push(line);
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = String::new();
        event.record(&mut Visit(&mut line));
        self.0.lock().push(line);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_never_reach_the_logs() {
    let recorder = Recorder::default();
    tracing::subscriber::set_global_default(recorder.clone()).expect("the only subscriber");
    let Some(t) = common::transport(common::config()).await else {
        return;
    };
    common::with_cleanup(t, |t| async move {
        let mut wrong = url::Url::parse(&common::amqp_url()).expect("url");
        let _ = wrong.set_password(Some("p%40ss%3Aw%2Frd"));
        let refused = AmqpTransport::connect(wrong.as_str(), t.config().clone()).await;
        assert!(refused.is_err(), "a wrong password is refused");

        let proxy = Proxy::start(proxy::upstream(&common::amqp_url())).await;
        let flaky = AmqpTransport::connect(&proxy.url(&common::amqp_url()), t.config().clone())
            .await
            .expect("through the proxy");
        let _sub = flaky
            .subscribe("logs", "g", Default::default())
            .await
            .expect("sub");
        proxy.cut();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let m = Message::new(MessageKind::Event, Bytes::from_static(b"x"));
            if flaky.publish("logs", m).await.is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "never reconnected");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        common::cleanup(&flaky).await;

        let lines = recorder.0.lock().clone();
        let all = lines.join("\n");
        for secret in [
            "p%40ss",
            "p@ss",
            "w/rd",
            "guest:guest",
            "password: \"guest\"",
        ] {
            assert!(!all.contains(secret), "{secret:?} logged:\n{all}");
        }
        assert!(
            all.contains("guest:***@"),
            "the reconnect is logged with the URL redacted"
        );
    })
    .await;
}
