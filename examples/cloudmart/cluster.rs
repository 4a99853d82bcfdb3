//! `--cluster`: every role as a child process of this one, on fresh names (a random run id), and the
//! scenarios driven through the gateway's HTTP API ([`ClusterWorld`](crate::cloudmart::cluster_world)).
//!
//! No child outlives the cluster: the children share one process group that [`Cluster::stop`] (and
//! `Drop`) kills; each child is also killed when its handle drops, and exits by itself when its stdin
//! (a pipe from this process) closes, which covers this process being killed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::cloudmart::error::AppError;
use crate::cloudmart::roles::Role;
use crate::cloudmart::transports::TransportSpec;

/// A running cluster.
#[derive(Debug)]
pub struct Cluster {
    exe: PathBuf,
    transport: String,
    run_id: String,
    log: String,
    db: Option<String>,
    children: BTreeMap<Role, Child>,
    addrs: BTreeMap<Role, SocketAddr>,
    group: Option<i32>,
}

impl Cluster {
    /// Starts every role under run id `run_id` (`[a-z0-9]`), the orchestrator's log at `log`, the
    /// services' databases on the server `db` (or SQLite files in the run directory).
    ///
    /// # Errors
    /// A child could not start or did not report its address.
    pub async fn start(
        spec: &TransportSpec,
        transport: &str,
        run_id: &str,
        log: &str,
        db: Option<&str>,
    ) -> Result<Self, AppError> {
        if *spec == TransportSpec::InProc {
            return Err(AppError::Usage(
                "--cluster needs a broker: --transport seed, amqp://… or redis://…".into(),
            ));
        }
        let mut cluster = Self {
            exe: std::env::current_exe()?,
            transport: transport.to_owned(),
            run_id: run_id.to_owned(),
            log: log.to_owned(),
            db: db.map(str::to_owned),
            children: BTreeMap::new(),
            addrs: BTreeMap::new(),
            group: None,
        };
        for role in Role::ALL {
            cluster.spawn(role, "127.0.0.1:0").await?;
        }
        Ok(cluster)
    }

    /// The gateway's address.
    ///
    /// # Errors
    /// The gateway is not running.
    pub fn gateway(&self) -> Result<SocketAddr, AppError> {
        self.addrs
            .get(&Role::Gateway)
            .copied()
            .ok_or_else(|| AppError::Usage("the gateway is not running".into()))
    }

    async fn spawn(&mut self, role: Role, listen: &str) -> Result<SocketAddr, AppError> {
        let mut cmd = Command::new(&self.exe);
        cmd.args(["--role", role.as_str(), "--transport", &self.transport])
            .args([
                "--run-id",
                &self.run_id,
                "--listen",
                listen,
                "--log",
                &self.log,
            ])
            .arg("--parent-pipe")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .process_group(self.group.unwrap_or(0));
        if let Some(db) = &self.db {
            cmd.args(["--db", db]);
        }
        if role == Role::Gateway {
            for (peer, addr) in &self.addrs {
                cmd.args(["--peer", &format!("{}={addr}", peer.as_str())]);
            }
        }
        let mut child = cmd.spawn()?;
        if self.group.is_none() {
            self.group = child.id().and_then(|id| i32::try_from(id).ok());
        }
        let stdout = child.stdout.take().ok_or_else(|| io("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            match lines.next_line().await? {
                Some(line) => {
                    if let Some(addr) = line.strip_prefix("LISTENING ") {
                        break addr
                            .trim()
                            .parse::<SocketAddr>()
                            .map_err(|e| io(&format!("{}: bad address: {e}", role.as_str())))?;
                    }
                    eprintln!("[{}] {line}", role.as_str());
                }
                None => {
                    let status = child.wait().await?;
                    return Err(io(&format!(
                        "{} exited before listening: {status}",
                        role.as_str()
                    )));
                }
            }
        };
        // Keep forwarding what the child prints.
        let name = role.as_str();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("[{name}] {line}");
            }
        });
        self.children.insert(role, child);
        self.addrs.insert(role, addr);
        Ok(addr)
    }

    /// Kills `role` with SIGKILL (no cleanup, like a crash) and waits for it to be gone.
    ///
    /// # Errors
    /// Waiting failed.
    pub async fn kill(&mut self, role: Role) -> Result<(), AppError> {
        if let Some(mut child) = self.children.remove(&role) {
            child.start_kill()?;
            child.wait().await?;
        }
        Ok(())
    }

    /// Starts `role` again on its previous address.
    ///
    /// # Errors
    /// As [`Cluster::start`].
    pub async fn restart(&mut self, role: Role) -> Result<(), AppError> {
        let listen = self
            .addrs
            .get(&role)
            .map_or_else(|| "127.0.0.1:0".to_owned(), ToString::to_string);
        self.spawn(role, &listen).await.map(drop)
    }

    /// Stops every child: SIGKILL to the process group, then waits for each.
    pub async fn stop(mut self) {
        self.kill_group();
        for (_, mut child) in std::mem::take(&mut self.children) {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    fn kill_group(&mut self) {
        if let Some(group) = self.group.take() {
            // SAFETY: kill(2) with a negative pid signals that process group; it touches no memory.
            unsafe {
                libc::kill(-group, libc::SIGKILL);
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.kill_group();
    }
}

fn io(message: &str) -> AppError {
    AppError::Http(std::io::Error::other(message.to_owned()))
}
