//! A private `redis-server` on a free loopback port, for tests that kill and restart their server.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` child process with its data in `dir`, killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    dir: PathBuf,
    appendonly: bool,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn spawn(port: u16, dir: &Path, appendonly: bool) -> std::io::Result<Child> {
    Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--appendonly", if appendonly { "yes" } else { "no" }])
        // `always`: what was acknowledged before a kill is on disk, so a test never has to sleep past
        // the one-second fsync of `everysec` before killing.
        .args(["--appendfsync", "always", "--daemonize", "no"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
}

fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "redis-server did not start on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Server {
    /// Starts a server keeping its data in `dir` (with the append-only file if `appendonly`), or
    /// `None` after the skip line when `redis-server` cannot run here.
    pub fn start(dir: &Path, appendonly: bool) -> Option<Self> {
        let port = free_port();
        let child = match spawn(port, dir, appendonly) {
            Ok(child) => child,
            Err(e) => {
                return super::unreachable("redis://127.0.0.1 (redis-server not runnable)", &e)
            }
        };
        wait_listening(port);
        Some(Self {
            child,
            port,
            dir: dir.to_owned(),
            appendonly,
        })
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: no shutdown, no final fsync).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port and data directory.
    pub fn restart(&mut self) {
        self.child = spawn(self.port, &self.dir, self.appendonly).expect("redis-server restarts");
        wait_listening(self.port);
    }
}
