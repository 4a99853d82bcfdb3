//! `--transport`: which broker each style runs over, and the per-run name prefix that keeps one run's
//! queues and streams apart from every other's.

use std::sync::Arc;

use saga::transport::{InProcTransport, Transport};
use saga_amqp::{AmqpConfig, AmqpTransport};
use saga_redis::{RedisTransport, RedisTransportConfig};

use crate::cloudmart::error::AppError;
use crate::cloudmart::logs::redact;
use crate::cloudmart::model::Style;

/// The local RabbitMQ of the seeds' deployment.
pub const SEED_AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
/// The local Redis of the seeds' deployment.
pub const SEED_REDIS: &str = "redis://127.0.0.1:6379";

/// What `--transport` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportSpec {
    /// One process, an in-process transport per engine.
    InProc,
    /// Both styles over one broker URL (`amqp://…` or `redis://…`).
    Url(String),
    /// The seeds' pairing: orchestration over the local RabbitMQ, choreography over the local Redis.
    Seed,
}

impl TransportSpec {
    /// Parses `inproc`, `seed`, `amqp://…`/`amqps://…` or `redis://…`/`rediss://…`.
    ///
    /// # Errors
    /// [`AppError::Usage`] for anything else.
    pub fn parse(s: &str) -> Result<Self, AppError> {
        match s.split("://").next().unwrap_or_default() {
            "inproc" => Ok(Self::InProc),
            "seed" => Ok(Self::Seed),
            "amqp" | "amqps" | "redis" | "rediss" if s.contains("://") => {
                Ok(Self::Url(s.to_owned()))
            }
            _ => Err(AppError::Usage(format!(
                "unknown --transport {:?}: expected inproc, seed, amqp://… or redis://…",
                redact(s)
            ))),
        }
    }

    /// The broker URL `style` runs over (`None` in-process).
    #[must_use]
    pub fn url(&self, style: Style) -> Option<&str> {
        match (self, style) {
            (Self::InProc, _) => None,
            (Self::Url(url), _) => Some(url),
            (Self::Seed, Style::Orchestration) => Some(SEED_AMQP),
            (Self::Seed, Style::Choreography) => Some(SEED_REDIS),
        }
    }

    /// How to show it (no credentials).
    #[must_use]
    pub fn display(&self) -> String {
        match self {
            Self::InProc => "inproc".into(),
            Self::Url(url) => redact(url),
            Self::Seed => format!(
                "seed (orchestration over {}, choreography over {SEED_REDIS})",
                redact(SEED_AMQP)
            ),
        }
    }
}

/// A connected broker transport, kept concrete for its cleanup.
#[derive(Debug, Clone)]
pub enum Broker {
    /// In-process.
    InProc(Arc<InProcTransport>),
    /// RabbitMQ.
    Amqp(AmqpTransport),
    /// Redis Streams.
    Redis(RedisTransport),
}

impl Broker {
    /// Connects `url` (or an in-process transport for `None`) with every name under `prefix`
    /// (`[a-z0-9]`, the run id).
    ///
    /// # Errors
    /// [`AppError::Usage`] for a bad URL, [`AppError::Transport`] if the broker cannot be reached.
    pub async fn connect(url: Option<&str>, prefix: &str) -> Result<Self, AppError> {
        let Some(url) = url else {
            return Ok(Self::InProc(Arc::new(InProcTransport::new())));
        };
        let failed = |e: &dyn std::fmt::Display| {
            AppError::Usage(format!("cannot connect to {}: {e}", redact(url)))
        };
        if url.starts_with("amqp") {
            let config = AmqpConfig::default().with_prefix(prefix);
            AmqpTransport::connect(url, config)
                .await
                .map(Self::Amqp)
                .map_err(|e| failed(&e))
        } else {
            let config = RedisTransportConfig::new(url).with_key_prefix(prefix);
            RedisTransport::connect(config)
                .await
                .map(Self::Redis)
                .map_err(|e| failed(&e))
        }
    }

    /// The transport.
    #[must_use]
    pub fn transport(&self) -> Arc<dyn Transport> {
        match self {
            Self::InProc(t) => Arc::clone(t) as Arc<dyn Transport>,
            Self::Amqp(t) => Arc::new(t.clone()),
            Self::Redis(t) => Arc::new(t.clone()),
        }
    }

    /// Deletes what this run left on the broker: the queues and exchanges this transport declared
    /// (AMQP), every stream of the prefix (Redis). Reports, does not fail on, an error.
    pub async fn delete_run(&self) {
        let result = match self {
            Self::InProc(_) => Ok(()),
            Self::Amqp(t) => t.delete_declared().await.map_err(|e| e.to_string()),
            Self::Redis(t) => t.delete_all().await.map(drop).map_err(|e| e.to_string()),
        };
        if let Err(e) = result {
            eprintln!("cleanup of the run's queues/streams: {e}");
        }
    }

    /// Closes the connections.
    pub async fn close(&self) {
        match self {
            Self::InProc(_) => {}
            Self::Amqp(t) => t.close().await,
            Self::Redis(t) => t.close(),
        }
    }
}

/// The brokers of both styles.
#[derive(Debug, Clone)]
pub struct Brokers {
    /// Orchestration's commands and replies.
    pub orchestration: Broker,
    /// Choreography's events.
    pub choreography: Broker,
}

impl Brokers {
    /// Connects both styles' brokers under `prefix`.
    ///
    /// # Errors
    /// As [`Broker::connect`].
    pub async fn connect(spec: &TransportSpec, prefix: &str) -> Result<Self, AppError> {
        let orchestration = Broker::connect(spec.url(Style::Orchestration), prefix).await?;
        let choreography = match spec {
            // One broker for both: one connection, one topology to delete.
            TransportSpec::Url(_) => orchestration.clone(),
            _ => Broker::connect(spec.url(Style::Choreography), prefix).await?,
        };
        Ok(Self {
            orchestration,
            choreography,
        })
    }
}
