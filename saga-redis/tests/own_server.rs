//! Against a `redis-server` this test starts itself on a free port (never the shared one): a server
//! that requires a password with special characters, and a server restart that the log survives
//! (reconnecting, and loading its scripts again into the empty script cache).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use saga::log::{Append, ClaimRequest, ClaimTarget, NewSaga};
use saga::{LogEvent, SagaId, SagaLog, SagaState};
use saga_redis::{redis, Error, RedisLogConfig, RedisSagaLog};

const PASSWORD: &str = "p@ss:w/rd#%!";
const ENCODED: &str = "p%40ss%3Aw%2Frd%23%25%21";

/// A private `redis-server`, killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Starts a server on `port`, or `None` (after the skip line) when `redis-server` is not installed.
fn start(port: u16, password: Option<&str>) -> Option<Server> {
    let mut cmd = Command::new("redis-server");
    cmd.args([
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
    ])
    .args(["--appendonly", "no", "--daemonize", "no", "--dir", "/tmp"])
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    if let Some(p) = password {
        cmd.args(["--requirepass", p]);
    }
    let child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return common::unreachable("redis://127.0.0.1 (redis-server not runnable)", &e),
    };
    let server = Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "redis-server did not start on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(server)
}

fn url(server: &Server, password: Option<&str>) -> String {
    match password {
        Some(p) => format!("redis://:{p}@127.0.0.1:{}", server.port),
        None => format!("redis://127.0.0.1:{}", server.port),
    }
}

fn new_saga() -> NewSaga {
    NewSaga::new(
        SagaId::new(),
        "own",
        1,
        Bytes::from_static(b"{}"),
        "a",
        Duration::from_secs(60),
    )
}

#[tokio::test]
async fn a_password_protected_server() {
    let Some(server) = start(free_port(), Some(PASSWORD)) else {
        return;
    };
    let log = RedisSagaLog::connect(&url(&server, Some(ENCODED)), RedisLogConfig::default())
        .await
        .expect("the right password connects");
    let debug = format!("{log:?}");
    assert!(
        !debug.contains(ENCODED) && !debug.contains("p@ss"),
        "{debug}"
    );
    assert!(debug.contains(":***@127.0.0.1"), "{debug}");
    let saga = new_saga();
    let id = saga.id;
    log.create(saga).await.expect("create");
    assert!(log.load(id).await.expect("load").is_some());

    let wrong = url(&server, Some("wr%40ng%21pass"));
    let err = RedisSagaLog::connect(&wrong, RedisLogConfig::default().with_connect_retries(0))
        .await
        .expect_err("a wrong password is refused");
    let shown = format!("{err} {err:?}");
    assert!(matches!(err, Error::Connect { .. }), "{shown}");
    assert!(
        !shown.contains("wr%40ng") && !shown.contains("wr@ng"),
        "{shown}"
    );
    let none = RedisSagaLog::connect(
        &url(&server, None),
        RedisLogConfig::default().with_connect_retries(0),
    )
    .await
    .expect_err("no password is refused");
    assert!(matches!(none, Error::Connect { .. }), "{none:?}");
}

/// Retries `op` while it fails with a transient error (the server is coming back).
async fn until_ok<T, F: std::future::Future<Output = Result<T, saga::LogError>>>(
    mut op: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match op().await {
            Ok(v) => return v,
            Err(e) if e.is_transient() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("after the restart: {e:?}"),
        }
    }
}

#[tokio::test]
async fn the_log_survives_a_server_restart() {
    let port = free_port();
    let Some(server) = start(port, None) else {
        return;
    };
    let config = RedisLogConfig::default().with_response_timeout(Duration::from_secs(1));
    let log = RedisSagaLog::connect(&url(&server, None), config)
        .await
        .expect("connect");
    let before = new_saga();
    log.create(before).await.expect("create before the restart");
    // Stop the server (dropping its data and script cache) and start a new one on the same port.
    let mut raw = redis::Client::open(url(&server, None))
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("raw connection");
    let _ = redis::cmd("SHUTDOWN")
        .arg("NOSAVE")
        .query_async::<()>(&mut raw)
        .await;
    drop(server);
    let Some(_server) = start(port, None) else {
        return;
    };
    let saga = new_saga();
    let id = saga.id;
    let lease = until_ok(|| log.create(saga.clone())).await;
    let claim = ClaimRequest::new("own", 1, "a", Duration::from_secs(60), ClaimTarget::One(id));
    let claimed = until_ok(|| log.claim(claim.clone())).await;
    assert_eq!(
        claimed.claimed.len(),
        1,
        "own lease reclaimed after the restart"
    );
    let events = [LogEvent::Completed];
    let append = Append::new(id, 1, lease, SagaState::Completed, &events, Duration::ZERO);
    assert_eq!(until_ok(|| log.append(append.clone())).await, 2);
    let snap = log.load(id).await.expect("load").expect("exists");
    assert_eq!(snap.instance.state, SagaState::Completed);
}
