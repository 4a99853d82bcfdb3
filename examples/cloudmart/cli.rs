//! Command-line flags.

use clap::Parser;

use crate::cloudmart::error::AppError;
use crate::cloudmart::model::Style;

/// CloudMart: the saga example system (orchestration and choreography of an online bookstore).
#[derive(Debug, Parser)]
#[command(name = "cloudmart")]
pub struct Cli {
    /// Saga log: sqlite://PATH (default: a fresh file in the temp dir), postgres://… (feature
    /// `postgres`), mysql://… (feature `mysql`), or memory.
    #[arg(long, value_name = "URL")]
    pub log: Option<String>,
    /// Transport: inproc (amqp:// and redis:// are not available yet).
    #[arg(long, value_name = "URL", default_value = "inproc")]
    pub transport: String,
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
    /// Run one service per process over a real broker.
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

/// Accepts `inproc`; explains why the broker transports cannot be used yet.
///
/// # Errors
/// [`AppError::Usage`] for anything but `inproc`.
pub fn check_transport(url: &str) -> Result<(), AppError> {
    let scheme = url.split("://").next().unwrap_or_default();
    match scheme {
        "inproc" => Ok(()),
        "amqp" | "amqps" => Err(AppError::Usage(
            "the amqp transport is not available yet (saga-amqp has not landed); use --transport inproc"
                .into(),
        )),
        "redis" | "rediss" => Err(AppError::Usage(
            "the redis transport is not available yet (saga-redis has not landed); use --transport inproc"
                .into(),
        )),
        _ => Err(AppError::Usage(format!(
            "unknown --transport {:?}: expected inproc, amqp://… or redis://…",
            crate::cloudmart::logs::redact(url)
        ))),
    }
}
