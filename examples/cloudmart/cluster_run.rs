//! `--cluster`: each scenario and style on a fresh cluster (its own run id, so its own queues,
//! streams, log and service databases), run through the gateway, then the cluster stopped and what it left
//! on the brokers deleted.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use saga::participant::ReplyRouter;
use saga::SagaId;
use serde_json::json;

use crate::cloudmart::choreography::Choreography;
use crate::cloudmart::cluster::Cluster;
use crate::cloudmart::cluster_world::ClusterWorld;
use crate::cloudmart::db::DbSpec;
use crate::cloudmart::error::AppError;
use crate::cloudmart::model::{OrderRequest, Style};
use crate::cloudmart::orchestration::{self, router_config};
use crate::cloudmart::roles::{orchestrator_owner, service_world, Role};
use crate::cloudmart::scenarios::{self, finish, Check, Scenario, ScenarioResult};
use crate::cloudmart::seed;
use crate::cloudmart::services::{Service, Services, ServicesConfig};
use crate::cloudmart::transports::{Brokers, TransportSpec};
use crate::cloudmart::world::World;

/// A fresh run id: `cm` and 10 hex digits.
#[must_use]
pub fn run_id() -> String {
    format!("cm{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

/// Where a run keeps its log and the services' state.
#[must_use]
pub fn run_dir(run_id: &str) -> PathBuf {
    std::env::temp_dir().join(format!("cloudmart-{run_id}"))
}

/// Runs `scenario` in `style` on a cluster of its own.
///
/// # Errors
/// The cluster could not start, or a request failed.
pub async fn run(
    spec: &TransportSpec,
    transport: &str,
    db: Option<&str>,
    scenario: Scenario,
    style: Style,
    victim: Option<Role>,
) -> Result<ScenarioResult, AppError> {
    let run_id = run_id();
    let dir = run_dir(&run_id);
    std::fs::create_dir_all(&dir)?;
    let log = format!("sqlite://{}", dir.join("saga-log.db").display());
    let result = match Cluster::start(spec, transport, &run_id, &log, db).await {
        Ok(mut cluster) => {
            let result = drive(&mut cluster, scenario, style, victim).await;
            cluster.stop().await;
            result
        }
        Err(e) => Err(e),
    };
    delete_run(spec, &run_id).await;
    if let Some(url) = db {
        drop_databases(url, &run_id).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Drops the schemas (or databases) the service processes of run `run_id` kept on the server `url`.
async fn drop_databases(url: &str, run_id: &str) {
    let spec = DbSpec::Server(url.to_owned());
    let config = ServicesConfig::default();
    for service in Service::ALL {
        match Services::open_one(service, &spec, &service_world(run_id), &config).await {
            Ok(services) => services.destroy().await,
            Err(e) => eprintln!("cleanup: the {} database: {e}", service.as_str()),
        }
    }
}

async fn drive(
    cluster: &mut Cluster,
    scenario: Scenario,
    style: Style,
    victim: Option<Role>,
) -> Result<ScenarioResult, AppError> {
    let world = ClusterWorld {
        gateway: cluster.gateway()?,
        style,
    };
    if scenario == Scenario::Crash {
        let victim = victim.unwrap_or_else(|| default_victim(style));
        return crash(cluster, &world, style, victim).await;
    }
    scenarios::run_in(scenario, style, &world).await
}

/// The role a crash kills unless `--kill` says otherwise: the orchestrator (it resumes from the saga
/// log), or in choreography the Shipping service (it resumes from its state and the redelivered
/// events).
const fn default_victim(style: Style) -> Role {
    match style {
        Style::Orchestration => Role::Orchestrator,
        Style::Choreography => Role::Service(Service::Shipping),
    }
}

/// The crash scenario over processes: two orders start, `role` is killed with SIGKILL while the
/// payment gateway holds them, restarted, and both orders finish, each charged once.
async fn crash(
    cluster: &mut Cluster,
    world: &ClusterWorld,
    style: Style,
    role: Role,
) -> Result<ScenarioResult, AppError> {
    let tag = &style.as_str()[..1];
    let plan: Vec<OrderRequest> = [
        ("customer-001", "book-123", 1),
        ("customer-002", "book-789", 2),
    ]
    .iter()
    .enumerate()
    .filter_map(|(n, (c, b, q))| {
        seed::order(&format!("order-{tag}-crash-{:03}", n + 1), c, &[(b, *q)])
    })
    .collect();
    world.set_gateway_delay(Duration::from_millis(300)).await?;
    let placing: Vec<_> = plan
        .iter()
        .map(|r| {
            let (world, r) = (*world, r.clone());
            tokio::spawn(async move { world.place(SagaId::new(), r).await })
        })
        .collect();
    // Mid-saga: both orders reached the payment gateway.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while world.metrics().await?.gateway_calls < 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cluster.kill(role).await?;
    cluster.restart(role).await?;
    world.set_gateway_delay(Duration::ZERO).await?;
    let mut orders = Vec::new();
    for p in placing {
        let report = p
            .await
            .map_err(|e| AppError::Http(std::io::Error::other(e.to_string())))??;
        orders.push(report);
    }
    let snapshot = world.snapshot().await?;
    let once = plan.iter().all(|r| {
        snapshot
            .payments
            .get(&r.order_id)
            .is_some_and(|p| p.charges == 1 && p.amount == r.total())
    });
    let checks = vec![
        Check {
            name: format!(
                "{} killed with SIGKILL mid-saga and restarted",
                role.as_str()
            ),
            ok: true,
            detail: "both orders were at the payment gateway".into(),
        },
        Check {
            name: "no double charge: one charge per order".into(),
            ok: once,
            detail: format!("wallets {:?}", snapshot.wallets),
        },
    ];
    let mut facts = BTreeMap::new();
    facts.insert("killed".into(), json!(role.as_str()));
    Ok(finish(
        Scenario::Crash,
        style,
        format!("{} COMPLETED", plan.len()),
        orders,
        &snapshot,
        checks,
        facts,
    ))
}

/// Deletes the queues, exchanges and streams of run `run_id`: declares the run's topology again (the
/// participants of both styles and the orchestrator's reply channel) and deletes what was declared.
pub async fn delete_run(spec: &TransportSpec, run_id: &str) {
    let Ok(brokers) = Brokers::connect(spec, run_id).await else {
        eprintln!("cleanup: cannot reach the brokers of run {run_id}");
        return;
    };
    let Ok(services) = Services::memory(&ServicesConfig::default()).await else {
        eprintln!("cleanup: cannot open in-memory services for run {run_id}");
        return;
    };
    let commands = brokers.orchestration.transport();
    if let Ok(router) =
        ReplyRouter::start(commands.clone(), router_config(&orchestrator_owner(run_id))).await
    {
        let _ = router.shutdown().await;
    }
    if let Ok(ps) = orchestration::participants(&services, &commands).await {
        for p in ps {
            p.abort();
        }
    }
    if let Ok(c) = Choreography::start(&services, brokers.choreography.transport()).await {
        c.abort();
    }
    brokers.orchestration.delete_run().await;
    brokers.orchestration.close().await;
    if *spec == TransportSpec::Seed {
        brokers.choreography.delete_run().await;
        brokers.choreography.close().await;
    }
}
