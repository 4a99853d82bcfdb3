//! `--role NAME`: one CloudMart service (or the orchestrator, or the gateway) per process, over the
//! brokers of `--transport`. The process prints `LISTENING <addr>` on stdout once it is subscribed and
//! serves its part of the HTTP API until Ctrl-C, SIGTERM, or (with `--parent-pipe`) until its parent
//! goes away.

use std::sync::Arc;

use tokio::io::AsyncReadExt;

use crate::cloudmart::choreography::Choreography;
use crate::cloudmart::cluster_run::run_dir;
use crate::cloudmart::db::DbSpec;
use crate::cloudmart::error::AppError;
use crate::cloudmart::http::{self, admin, gateway, AppState};
use crate::cloudmart::logs;
use crate::cloudmart::orchestration::{self, Orchestrator};
use crate::cloudmart::services::{Service, Services, ServicesConfig};
use crate::cloudmart::transports::{Brokers, TransportSpec};

/// A process of the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// One of the four services.
    Service(Service),
    /// The executor of the orchestrated saga.
    Orchestrator,
    /// The HTTP API in front of the others.
    Gateway,
}

impl Role {
    /// Every role, in start order (the gateway last: it needs the others' addresses).
    pub const ALL: [Self; 6] = [
        Self::Service(Service::Order),
        Self::Service(Service::Inventory),
        Self::Service(Service::Payment),
        Self::Service(Service::Shipping),
        Self::Orchestrator,
        Self::Gateway,
    ];

    /// The role's name on the command line.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Service(s) => s.as_str(),
            Self::Orchestrator => "orchestrator",
            Self::Gateway => "gateway",
        }
    }

    /// Parses a role name.
    ///
    /// # Errors
    /// [`AppError::Usage`] listing the roles.
    pub fn parse(name: &str) -> Result<Self, AppError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == name)
            .ok_or_else(|| {
                AppError::Usage(format!(
                    "unknown --role {name:?}: expected order, inventory, payment, shipping, \
                     orchestrator or gateway"
                ))
            })
    }
}

/// What a role process needs.
#[derive(Debug, Clone)]
pub struct RoleArgs {
    /// Which role.
    pub role: Role,
    /// The brokers.
    pub transport: TransportSpec,
    /// Names every queue, stream, table and file of the run.
    pub run_id: String,
    /// Where to listen.
    pub listen: String,
    /// The orchestrator's saga log URL.
    pub log: String,
    /// A service's database server (`--db`), or `None` for a SQLite file in the run directory.
    pub db: Option<String>,
    /// The gateway's peers (`role=addr`).
    pub peers: gateway::Peers,
    /// Exit when stdin closes (the cluster's children).
    pub parent_pipe: bool,
}

/// The owner id of the run's orchestrator (its executor and its durable reply channel).
#[must_use]
pub fn orchestrator_owner(run_id: &str) -> String {
    format!("cloudmart-{run_id}")
}

/// The world name of run `run_id`'s service databases on a `--db` server (`<name>_<service>`).
#[must_use]
pub fn service_world(run_id: &str) -> String {
    format!("cm_{run_id}")
}

/// Runs the role until told to stop.
///
/// # Errors
/// Bad flags, unreachable brokers or log, a port that cannot be bound.
pub async fn run(args: RoleArgs) -> Result<i32, AppError> {
    if args.transport == TransportSpec::InProc && args.role != Role::Gateway {
        return Err(AppError::Usage(
            "--role needs a broker: --transport seed, amqp://… or redis://…".into(),
        ));
    }
    // Participants run until the process ends.
    let mut participants = Vec::new();
    let router = match args.role {
        Role::Gateway => gateway::router(args.peers.clone()),
        Role::Service(service) => {
            let brokers = Brokers::connect(&args.transport, &args.run_id).await?;
            let (spec, name) = match &args.db {
                Some(url) => (DbSpec::Server(url.clone()), service_world(&args.run_id)),
                None => {
                    let dir = run_dir(&args.run_id);
                    std::fs::create_dir_all(&dir)?;
                    (DbSpec::Dir(dir), "state".to_owned())
                }
            };
            // Only this service's database is used; the other three stay empty in memory.
            let config = ServicesConfig::across_processes();
            let services = Services::open_one(service, &spec, &name, &config).await?;
            let commands = brokers.orchestration.transport();
            let participant = orchestration::participant(service, &services, &commands).await?;
            let events = brokers.choreography.transport();
            let choreography = Choreography::start_with(&services, events, &[service]).await?;
            participants.push(participant);
            let state = AppState::new(services, &[service], None, Some(choreography));
            http::service_routes(&[service])
                .merge(admin::routes())
                .with_state(state)
        }
        Role::Orchestrator => {
            let brokers = Brokers::connect(&args.transport, &args.run_id).await?;
            let log = logs::open(&args.log, &format!("cm_{}_", args.run_id)).await?;
            let owner = orchestrator_owner(&args.run_id);
            let orchestrator =
                Orchestrator::start_alone(brokers.orchestration.transport(), log.log, &owner)
                    .await?;
            let services = Services::memory(&ServicesConfig::default()).await?;
            let state = AppState::new(services, &[], Some(orchestrator), None);
            let recovering = Arc::clone(&state);
            tokio::spawn(async move {
                if let Err(e) = recovering.recover().await {
                    eprintln!("orchestrator: recovery failed: {e}");
                }
            });
            http::saga_routes().with_state(state)
        }
    };
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    let local = listener.local_addr()?;
    println!("LISTENING {local}");
    let server = http::spawn_server(listener, router);
    stopped(args.parent_pipe).await;
    server.abort();
    for p in participants {
        p.abort();
    }
    Ok(0)
}

/// Resolves on Ctrl-C, SIGTERM, or the end of stdin if `parent_pipe`.
async fn stopped(parent_pipe: bool) {
    let parent_gone = async {
        if parent_pipe {
            let mut stdin = tokio::io::stdin();
            let mut buf = [0u8; 64];
            while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
        } else {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = parent_gone => {}
        () = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
