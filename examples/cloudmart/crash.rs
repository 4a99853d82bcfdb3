//! Crash and resume: the process stops mid-saga; a restart with the same log finishes every order from
//! what was recorded, and nothing is charged twice.
//!
//! Services commit each effect to their own database before they answer. With `--crash-after N` the
//! process really exits (code 137) after the N-th effect and a rerun with the same `--log` resumes
//! from the services' databases; without it the crash is simulated in-process: the services freeze
//! (nothing more is committed), the engine is dropped, and new services on the same SQLite files take
//! over (the executor reclaims its sagas through its stable owner id).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use saga::SagaId;
use serde_json::json;

use crate::cloudmart::crash_switch::{CrashMode, CrashSwitch};
use crate::cloudmart::db::DbSpec;
use crate::cloudmart::engine::Engine;
use crate::cloudmart::error::AppError;
use crate::cloudmart::history::OrderReport;
use crate::cloudmart::model::{OrderRequest, Style};
use crate::cloudmart::scenarios::{finish, Check, Env, Scenario, ScenarioResult};
use crate::cloudmart::seed;
use crate::cloudmart::services::{Service, Services};

/// Crash scenario options.
#[derive(Debug, Clone, Default)]
pub struct CrashOptions {
    /// Effects before the crash (default 3: create, reserve, and the charge of the first order).
    pub after: Option<u64>,
    /// With a base path, the crash is a real process exit and a rerun resumes from the services'
    /// SQLite files beside it (`<base>.cloudmart-<style>-<service>.db`), or from their fixed schemas
    /// on the `--db` server.
    pub state_base: Option<PathBuf>,
}

/// Where the services of `style` keep their state beside `base`, and the world's name.
fn state_of(base: &Path, style: Style) -> (DbSpec, String) {
    let dir = base.parent().map_or_else(PathBuf::new, Path::to_path_buf);
    let file = base
        .file_name()
        .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
    (
        DbSpec::Dir(dir),
        format!("{file}.cloudmart-{}", style.as_str()),
    )
}

/// Whether a crashed run of `style` left its state beside `base`.
#[must_use]
pub fn state_exists(base: &Path, style: Style) -> bool {
    match state_of(base, style) {
        (DbSpec::Dir(dir), name) => dir
            .join(format!("{name}-{}.db", Service::Order.as_str()))
            .exists(),
        _ => false,
    }
}

/// The orders of the crash scenario (their saga ids come from the Order service, [`saga_ids`]).
fn plan(style: Style) -> Result<Vec<OrderRequest>, AppError> {
    let tag = match style {
        Style::Orchestration => "o",
        Style::Choreography => "c",
    };
    let items: [(&str, &[(&str, u32)]); 2] = [
        ("customer-001", &[("book-123", 1)]),
        ("customer-002", &[("book-789", 2)]),
    ];
    items
        .iter()
        .enumerate()
        .map(|(n, (customer, items))| {
            let id = format!("order-{tag}-crash-{:03}", n + 1);
            seed::order(&id, customer, items)
                .ok_or_else(|| AppError::Usage(format!("{id}: unknown book")))
        })
        .collect()
}

/// The saga ids of the plan: those the Order service recorded (a previous process started them),
/// new ones for the orders it does not know. Also returns whether any was known.
async fn saga_ids(
    services: &Services,
    plan: &[OrderRequest],
) -> Result<(Vec<(SagaId, OrderRequest)>, bool), AppError> {
    let mut known = false;
    let mut orders = Vec::new();
    for request in plan {
        let recorded = services.order.order(&request.order_id).await?;
        let id = recorded
            .and_then(|o| o.saga_id)
            .and_then(|s| s.parse::<SagaId>().ok());
        known |= id.is_some();
        orders.push((id.unwrap_or_else(SagaId::new), request.clone()));
    }
    Ok((orders, known))
}

/// Runs the crash scenario in `style`.
///
/// # Errors
/// Log, transport or database failures.
pub async fn run(style: Style, env: &Env) -> Result<ScenarioResult, AppError> {
    // In-process the services' files live in a temp dir of this run; with a base (or a --db server)
    // they outlive the process, so a rerun resumes.
    let temp = tempfile::tempdir()?;
    let ((spec, name), mode) = match (&env.db, &env.crash.state_base) {
        (DbSpec::Server(_), Some(_)) => (
            (env.db.clone(), format!("cm_crash_{}", style.as_str())),
            CrashMode::Exit,
        ),
        (_, Some(base)) => (state_of(base, style), CrashMode::Exit),
        (_, None) => (
            (
                DbSpec::Dir(temp.path().to_owned()),
                style.as_str().to_owned(),
            ),
            CrashMode::Freeze,
        ),
    };
    // In-process, the crash always happens (after 3 effects unless told otherwise); with a base path
    // (a real process exit) only when --crash-after asks for it (a rerun that resumes does not crash again).
    let after = match &env.crash.state_base {
        Some(_) => env.crash.after,
        None => Some(env.crash.after.unwrap_or(3)),
    };
    let owner = format!("cloudmart-crash-{}", style.as_str());
    let mut checks = Vec::new();
    let plan = plan(style)?;

    let crash = CrashSwitch::new(after, mode);
    let services = Services::open_with(&spec, &name, &env.config, Arc::clone(&crash)).await?;
    let (first, known) = saga_ids(&services, &plan).await?;
    let resumed_from = if known {
        services.close().await;
        "a previous process"
    } else {
        let engine = Engine::start(style, &services, Arc::clone(&env.log), &owner).await?;
        let crashed = tokio::select! {
            r = place_all(&engine, &services, &first) => { r?; false }
            () = crash.crashed() => true,
        };
        engine.abort();
        drop(services);
        if let Some(after) = after {
            checks.push(Check {
                name: format!("the process stopped after effect #{after}"),
                ok: crashed,
                detail: if crashed {
                    "crashed mid-saga".into()
                } else {
                    "every order finished before the crash point".into()
                },
            });
        }
        if crashed {
            "the crashed run"
        } else {
            "a run that did not crash"
        }
    };

    // The restart: new services on the same databases, a new engine, the same log and owner id.
    let services = Services::open(&spec, &name, &env.config).await?;
    let (plan, _) = saga_ids(&services, &plan).await?;
    let engine = Engine::start(style, &services, Arc::clone(&env.log), &owner).await?;
    let resumed = engine.resume().await?;
    let orders = place_all(&engine, &services, &plan).await?;
    engine.shutdown().await;

    checks.push(Check {
        name: format!("resumed from {resumed_from}"),
        ok: true,
        detail: format!("{resumed} order(s) were in flight and finished after the restart"),
    });
    let payments = services.payment.payments().await?;
    let once = plan.iter().all(|(_, r)| {
        payments
            .get(&r.order_id)
            .is_some_and(|p| p.charges == 1 && p.amount == r.total())
    });
    let wallets = services.payment.wallets().await?;
    let expected_wallets: BTreeMap<String, u64> = seed::CUSTOMERS
        .iter()
        .map(|c| {
            let spent: u64 = plan
                .iter()
                .filter(|(_, r)| r.customer_id == c.id)
                .map(|(_, r)| r.total())
                .sum();
            (c.id.to_owned(), c.wallet - spent)
        })
        .collect();
    checks.push(Check {
        name: "no double charge: one charge per order, wallets debited once".into(),
        ok: once && wallets == expected_wallets,
        detail: format!("wallets {wallets:?}, expected {expected_wallets:?}"),
    });
    let mut facts = BTreeMap::new();
    facts.insert("resumed".into(), json!(resumed));
    let result = finish(
        Scenario::Crash,
        style,
        format!("{} COMPLETED", plan.len()),
        orders,
        &services.snapshot().await?,
        checks,
        facts,
    );
    // A run that finished leaves nothing to resume.
    services.destroy().await;
    Ok(result)
}

/// Places every planned order that is not known yet and reports all of them, in order.
async fn place_all(
    engine: &Engine,
    services: &Services,
    plan: &[(SagaId, OrderRequest)],
) -> Result<Vec<OrderReport>, AppError> {
    let mut reports = Vec::new();
    for (id, request) in plan {
        let report = match engine.existing(services, *id, &request.order_id).await? {
            Some(r) => r,
            None => engine.place(*id, request.clone()).await?,
        };
        reports.push(report);
    }
    Ok(reports)
}
