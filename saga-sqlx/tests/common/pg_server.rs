//! A PostgreSQL instance of a test's own (never the shared server): `initdb` into a temp dir, `pg_ctl
//! start` on a free loopback port with its socket in that dir, `pg_ctl stop -m immediate` (a crash:
//! no checkpoint, recovery from the WAL at the next start). Run as the `postgres` OS user when the
//! test runs as root (initdb refuses root). Stopped and removed on drop, and by a watchdog shell if
//! the test process dies without dropping it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A private PostgreSQL data directory and the port its server listens on.
pub struct PgServer {
    pub port: u16,
    bin: PathBuf,
    dir: PathBuf,
    as_postgres: bool,
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding `initdb`, else the directory of an
/// `initdb` on the `PATH`.
fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    if let Some((_, bin)) = found.pop() {
        return Some(bin);
    }
    let out = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !out.status.success() || !path.is_absolute() {
        return None;
    }
    path.parent().map(Path::to_owned)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl PgServer {
    /// Initialises (does not start) a cluster in a fresh temp dir; `Err` with the reason if PostgreSQL's
    /// server tools are not installed or `initdb` fails.
    pub fn init() -> Result<Self, String> {
        let bin = bin_dir().ok_or("initdb not found (PostgreSQL server not installed)")?;
        let id = &uuid::Uuid::new_v4().simple().to_string()[..10];
        let dir = std::env::temp_dir().join(format!("saga-pg-{id}"));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let server = Self {
            port: super::free_port(),
            bin,
            dir,
            as_postgres: is_root(),
        };
        if server.as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&server.dir)
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !status.success() {
                return Err(format!("chown postgres {}: {status}", server.dir.display()));
            }
        }
        server.watchdog();
        server.run(
            "initdb",
            &[
                "-D",
                &server.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        )?;
        Ok(server)
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    /// `bin/<program> args…`, as the `postgres` user when we are root.
    fn command(&self, program: &str, args: &[&str]) -> Command {
        let program = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let out = self
            .command(program, args)
            .output()
            .map_err(|e| format!("{program}: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        Err(format!(
            "{program} {args:?} exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }

    /// Starts the server and waits until it accepts connections (`pg_ctl -w`).
    pub fn start(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
    }

    /// Crashes the server: `pg_ctl stop -m immediate` (every backend killed, no checkpoint), and
    /// waits until it is gone.
    pub fn crash(&self) -> Result<(), String> {
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        )
    }

    /// Whether something accepts TCP connections on the server's port.
    pub fn is_listening(&self) -> bool {
        std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
    }

    /// A shell that stops the server and removes its directory once this test process is gone, even
    /// if it was killed (no `Drop` runs then).
    fn watchdog(&self) {
        let stop = format!(
            "{}{} -D '{}' -m immediate stop",
            if self.as_postgres {
                "runuser -u postgres -- "
            } else {
                ""
            },
            self.bin.join("pg_ctl").display(),
            self.data()
        );
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop}; rm -rf '{dir}'",
            pid = std::process::id(),
            dir = self.dir.display(),
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self.crash();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
