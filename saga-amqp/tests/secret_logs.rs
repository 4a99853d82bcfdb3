//! No credential reaches a log line: every field of every `tracing` event and span (this crate's and
//! lapin's, at every level) is recorded while a wrong password is refused by the broker and while a
//! connection is cut and re-established. Its own test binary, with a global subscriber (lapin logs from
//! its I/O tasks on other threads).

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::proxy::{self, Proxy};
use saga::testing::CapturedLogs;
use saga::transport::{Message, MessageKind};
use saga::Transport;
use saga_amqp::AmqpTransport;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_never_reach_the_logs() {
    let recorder = CapturedLogs::default();
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

        recorder.assert_free_of(&[
            "p%40ss",
            "p@ss",
            "w/rd",
            "guest:guest",
            "password: \"guest\"",
        ]);
        let all = recorder.text();
        assert!(
            all.contains("guest:***@"),
            "the reconnect is logged with the URL redacted"
        );
    })
    .await;
}
