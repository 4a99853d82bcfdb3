//! A TCP proxy to the test broker whose connections can be cut at once, like a crashed process or a
//! network partition (no AMQP close, no TCP shutdown handshake from the client side).
#![allow(dead_code)]

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A running proxy; dropping it cuts every connection too.
pub struct Proxy {
    pub port: u16,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards every connection to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let registry = Arc::clone(&tasks);
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                registry.lock().push(task);
            }
        });
        Self {
            port,
            tasks,
            accept,
        }
    }

    /// Drops every forwarded connection at once (new ones are still accepted).
    pub fn cut(&self) {
        for task in self.tasks.lock().drain(..) {
            task.abort();
        }
    }

    /// `url` (an AMQP URL to the broker) rewritten to go through this proxy.
    pub fn url(&self, url: &str) -> String {
        let mut parsed = url::Url::parse(url).expect("amqp url");
        let _ = parsed.set_port(Some(self.port));
        let _ = parsed.set_host(Some("127.0.0.1"));
        parsed.to_string()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// `host:port` of an AMQP URL.
pub fn upstream(url: &str) -> String {
    let parsed = url::Url::parse(url).expect("amqp url");
    format!(
        "{}:{}",
        parsed.host_str().unwrap_or("127.0.0.1"),
        parsed.port().unwrap_or(5672)
    )
}
