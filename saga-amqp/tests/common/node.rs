//! A RabbitMQ node of a test's own (never the shared broker): its own node name, AMQP and distribution
//! ports, database and log directories in a temp dir; started with `rabbitmq-server -detached`, stopped
//! with `rabbitmqctl -n <node> stop` (or only its application, `stop_app` / `start_app`), and stopped
//! and removed on drop, also when the test fails.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Node {
    pub name: String,
    pub port: u16,
    dist_port: u16,
    dir: PathBuf,
    watched: std::sync::atomic::AtomicBool,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

impl Node {
    /// Prepares (does not start) a node; `None` if `rabbitmq-server` is not installed.
    pub fn new() -> Option<Self> {
        let found = Command::new("sh")
            .args(["-c", "command -v rabbitmq-server && command -v rabbitmqctl"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return None;
        }
        let id = &uuid::Uuid::new_v4().simple().to_string()[..10];
        let dir = std::env::temp_dir().join(format!("saga-amqp-node-{id}"));
        for sub in ["mnesia", "log"] {
            std::fs::create_dir_all(dir.join(sub)).expect("node directories");
        }
        let port = free_port();
        let mut dist_port = free_port();
        while dist_port == port {
            dist_port = free_port();
        }
        std::fs::write(dir.join("enabled_plugins"), "[].\n").expect("plugins file");
        std::fs::write(
            dir.join("rabbitmq.conf"),
            format!("listeners.tcp.local = 127.0.0.1:{port}\n"),
        )
        .expect("config file");
        // rabbitmq-server drops root for the rabbitmq user: let it write there.
        let _ = Command::new("chown")
            .args(["-R", "rabbitmq:rabbitmq"])
            .arg(&dir)
            .stderr(Stdio::null())
            .status();
        Some(Self {
            name: format!("saga-test-{id}@localhost"),
            port,
            dist_port,
            dir,
            watched: std::sync::atomic::AtomicBool::new(false),
        })
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("RABBITMQ_NODENAME", &self.name)
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", self.dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", self.dir.join("log"))
            .env(
                "RABBITMQ_ENABLED_PLUGINS_FILE",
                self.dir.join("enabled_plugins"),
            )
            .env("RABBITMQ_CONFIG_FILE", self.dir.join("rabbitmq.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    }

    /// A shell that stops the node and removes its directory once this test process is gone, even if
    /// it was killed (no `Drop` runs then).
    fn watchdog(&self) {
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; rabbitmqctl -n {node} stop; rm -rf '{dir}'",
            pid = std::process::id(),
            node = self.name,
            dir = self.dir.display(),
        );
        let _ = self
            .command("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .spawn();
    }

    /// Starts the node and waits (up to 90 s) until it accepts AMQP connections.
    pub fn start(&self) -> Result<(), String> {
        if !self
            .watched
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            self.watchdog();
        }
        let status = self
            .command("rabbitmq-server")
            .arg("-detached")
            .status()
            .map_err(|e| format!("rabbitmq-server: {e}"))?;
        if !status.success() {
            return Err(format!("rabbitmq-server -detached exited with {status}"));
        }
        let deadline = Instant::now() + Duration::from_secs(90);
        while !listening(self.port) {
            if Instant::now() > deadline {
                return Err(format!(
                    "node {} did not open port {}",
                    self.name, self.port
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// Stops the node (`rabbitmqctl stop`) and waits until its port is closed and its Erlang node gone.
    pub fn stop(&self) {
        let _ = self
            .command("rabbitmqctl")
            .args(["-n", &self.name, "stop"])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while (listening(self.port) || self.registered()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the RabbitMQ application on the node (`rabbitmqctl -n <node> stop_app`: the Erlang node
    /// stays up, every connection is closed, the listener goes away) and waits until its port is
    /// closed.
    pub fn stop_app(&self) -> Result<(), String> {
        self.ctl("stop_app")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while listening(self.port) {
            if Instant::now() > deadline {
                return Err(format!("port {} still open after stop_app", self.port));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Starts the application again (`rabbitmqctl -n <node> start_app`, which returns once it runs)
    /// and waits until the port accepts connections.
    pub fn start_app(&self) -> Result<(), String> {
        self.ctl("start_app")?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while !listening(self.port) {
            if Instant::now() > deadline {
                return Err(format!("port {} closed after start_app", self.port));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    fn ctl(&self, action: &str) -> Result<(), String> {
        let status = self
            .command("rabbitmqctl")
            .args(["-n", &self.name, action])
            .status()
            .map_err(|e| format!("rabbitmqctl {action}: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!(
                "rabbitmqctl -n {} {action} exited with {status}",
                self.name
            ))
        }
    }

    /// Whether the node accepts AMQP connections on its port.
    pub fn is_listening(&self) -> bool {
        listening(self.port)
    }

    /// Whether epmd still lists the node.
    fn registered(&self) -> bool {
        let short = self.name.split('@').next().unwrap_or_default().to_owned();
        Command::new("epmd")
            .arg("-names")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("name {short} ")))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
