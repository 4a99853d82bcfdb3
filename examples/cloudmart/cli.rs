//! Command-line flags.

use clap::Parser;

use crate::cloudmart::error::AppError;
use crate::cloudmart::http::gateway::Peers;
use crate::cloudmart::model::Style;

/// CloudMart: the saga example system (orchestration and choreography of an online bookstore).
#[derive(Debug, Parser)]
#[command(name = "cloudmart")]
pub struct Cli {
    /// Saga log: sqlite://PATH (default: a fresh file in the temp dir), postgres://… (feature
    /// `postgres`), mysql://… (feature `mysql`), or memory.
    #[arg(long, value_name = "URL")]
    pub log: Option<String>,
    /// Where the services keep their state: each service in its own schema on a PostgreSQL server
    /// (postgres://…) or its own database on MariaDB/MySQL (mysql://…), created if missing. Default:
    /// a SQLite database per service (in memory in-process, files in the run directory with --cluster
    /// or --role, files beside the log for the crash scenario). With --scenario crash the server's
    /// names are fixed (cm_crash_<style>_<service>), so a rerun after --crash-after resumes.
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// Transport: inproc (one process), seed (orchestration over the local RabbitMQ, choreography
    /// over the local Redis), or one broker for both styles: amqp://… or redis://…. The brokers need
    /// --cluster or --role.
    #[arg(long, value_name = "URL", default_value = "inproc")]
    pub transport: String,
    /// Start every role as a child process and run the scenarios through the gateway's HTTP API.
    #[arg(long)]
    pub cluster: bool,
    /// With --role: the run id that names the run's queues, streams and tables (`[a-z0-9]`); every
    /// process of one deployment uses the same.
    #[arg(long, value_name = "ID", default_value = "cloudmart")]
    pub run_id: String,
    /// With --role: where to serve the role's HTTP API (port 0 picks one; printed on stdout).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: String,
    /// With --role gateway: where a role listens, as ROLE=ADDR (repeat for each role).
    #[arg(long, value_name = "ROLE=ADDR")]
    pub peer: Vec<String>,
    /// With --cluster, the crash scenario: the role to kill with SIGKILL mid-saga and restart
    /// (default: orchestrator in orchestration, shipping in choreography).
    #[arg(long, value_name = "ROLE")]
    pub kill: Option<String>,
    /// With --role: exit when stdin closes (set by --cluster for its children).
    #[arg(long, hide = true)]
    pub parent_pipe: bool,
    /// Serve the CloudMart HTTP API on ADDR (e.g. 127.0.0.1:8080) instead of running the scenarios.
    #[arg(long, value_name = "ADDR")]
    pub serve: Option<String>,
    /// Print a machine-readable JSON summary instead of the report.
    #[arg(long)]
    pub json: bool,
    /// Run one scenario: success, multi-item, out-of-stock, payment-failure, shipping-failure,
    /// concurrent, carrier-outage, slow-gateway, crash.
    #[arg(long, value_name = "NAME")]
    pub scenario: Option<String>,
    /// orchestration, choreography or both.
    #[arg(long, value_name = "STYLE", default_value = "both")]
    pub style: String,
    /// Crash scenario: exit the process (code 137, no cleanup) after N service effects; rerun with the
    /// same --log to resume.
    #[arg(long, value_name = "N")]
    pub crash_after: Option<u64>,
    /// Run one role per process over a broker: order, inventory, payment, shipping, orchestrator or
    /// gateway.
    #[arg(long, value_name = "NAME")]
    pub role: Option<String>,
    /// Print the order saga as a Mermaid diagram and exit.
    #[arg(long)]
    pub mermaid: bool,
}

impl Cli {
    /// The styles to run.
    ///
    /// # Errors
    /// [`AppError::Usage`] for an unknown style.
    pub fn styles(&self) -> Result<Vec<Style>, AppError> {
        match self.style.as_str() {
            "both" => Ok(vec![Style::Orchestration, Style::Choreography]),
            "orchestration" => Ok(vec![Style::Orchestration]),
            "choreography" => Ok(vec![Style::Choreography]),
            other => Err(AppError::Usage(format!(
                "unknown --style {other:?}: expected orchestration, choreography or both"
            ))),
        }
    }
}

/// Parses `--peer ROLE=ADDR` flags.
///
/// # Errors
/// [`AppError::Usage`] for a malformed one.
pub fn peers(flags: &[String]) -> Result<Peers, AppError> {
    flags
        .iter()
        .map(|f| {
            let (role, addr) = f
                .split_once('=')
                .ok_or_else(|| AppError::Usage(format!("--peer {f:?}: expected ROLE=ADDR")))?;
            let addr = addr
                .parse()
                .map_err(|e| AppError::Usage(format!("--peer {f:?}: {e}")))?;
            Ok((role.to_owned(), addr))
        })
        .collect()
}
