//! Crash and resume: the process stops mid-saga; a restart with the same log finishes every order from
//! what was recorded, and nothing is charged twice.
//!
//! Services persist their state after each effect. With `--crash-after N` the process really exits
//! (code 137) after the N-th effect and a rerun with the same `--log` resumes; without it the crash is
//! simulated in-process: the services freeze, the runtime is dropped, and new services restored from
//! the snapshots take over (the executor reclaims its sagas through its stable owner id).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use saga::SagaId;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::cloudmart::engine::Engine;
use crate::cloudmart::error::AppError;
use crate::cloudmart::history::OrderReport;
use crate::cloudmart::model::{OrderRequest, Style};
use crate::cloudmart::scenarios::{finish, Check, Env, Scenario, ScenarioResult};
use crate::cloudmart::seed;
use crate::cloudmart::services::{Infra, Services};
use crate::cloudmart::store::{CrashMode, CrashSwitch, Durable};

/// Crash scenario options.
#[derive(Debug, Clone, Default)]
pub struct CrashOptions {
    /// Effects before the crash (default 3: create, reserve, and the charge of the first order).
    pub after: Option<u64>,
    /// With a state file, the crash is a real process exit and a rerun resumes from the file (one
    /// file per style: `<base>.<style>.json`).
    pub state_base: Option<PathBuf>,
}

/// The state file of `style` beside `base` (a SQLite log file, or a name in the temp dir).
#[must_use]
pub fn state_path(base: &Path, style: Style) -> PathBuf {
    PathBuf::from(format!(
        "{}.cloudmart-{}.json",
        base.display(),
        style.as_str()
    ))
}

/// The orders of the crash scenario, with their saga ids, persisted before anything runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Plan {
    orders: Vec<(SagaId, OrderRequest)>,
}

fn plan(style: Style) -> Result<Plan, AppError> {
    let tag = match style {
        Style::Orchestration => "o",
        Style::Choreography => "c",
    };
    let items: [(&str, &[(&str, u32)]); 2] = [
        ("customer-001", &[("book-123", 1)]),
        ("customer-002", &[("book-789", 2)]),
    ];
    let orders = items
        .iter()
        .enumerate()
        .map(|(n, (customer, items))| {
            let id = format!("order-{tag}-crash-{:03}", n + 1);
            seed::order(&id, customer, items)
                .map(|r| (SagaId::new(), r))
                .ok_or_else(|| AppError::Usage(format!("{id}: unknown book")))
        })
        .collect::<Result<_, _>>()?;
    Ok(Plan { orders })
}

/// Runs the crash scenario in `style`.
///
/// # Errors
/// Log, transport or state failures.
pub async fn run(style: Style, env: &Env) -> Result<ScenarioResult, AppError> {
    let (durable, mode) = match &env.crash.state_base {
        Some(base) => (Durable::file(&state_path(base, style))?, CrashMode::Exit),
        None => (Durable::memory(), CrashMode::Freeze),
    };
    // In-process, the crash always happens (after 3 effects unless told otherwise); with a state file
    // only when --crash-after asks for it (a rerun that resumes does not crash again).
    let after = match &env.crash.state_base {
        Some(_) => env.crash.after,
        None => Some(env.crash.after.unwrap_or(3)),
    };
    let owner = format!("cloudmart-crash-{}", style.as_str());
    let mut checks = Vec::new();

    let (plan, resumed_from) = match durable.load::<Plan>("plan")? {
        Some(plan) => (plan, "a previous process"),
        None => {
            let plan = plan(style)?;
            durable.save("plan", &plan)?;
            let crash = CrashSwitch::new(after, mode, Arc::clone(&durable));
            let infra = Infra {
                durable: Arc::clone(&durable),
                crash: Arc::clone(&crash),
            };
            let services = Services::restore(infra, &env.config)?;
            let engine = Engine::start(style, &services, Arc::clone(&env.log), &owner).await?;
            let crashed = tokio::select! {
                r = place_all(&engine, &services, &plan) => { r?; false }
                () = crash.crashed() => true,
            };
            engine.abort();
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
            (
                plan,
                if crashed {
                    "the crashed run"
                } else {
                    "a run that did not crash"
                },
            )
        }
    };

    // The restart: new services from the snapshots, a new runtime, the same log and owner id.
    let durable = durable.reopen();
    let infra = Infra {
        durable: Arc::clone(&durable),
        crash: CrashSwitch::never(),
    };
    let services = Services::restore(infra, &env.config)?;
    let engine = Engine::start(style, &services, Arc::clone(&env.log), &owner).await?;
    let resumed = engine.resume().await?;
    let orders = place_all(&engine, &services, &plan).await?;
    engine.shutdown().await;

    checks.push(Check {
        name: format!("resumed from {resumed_from}"),
        ok: true,
        detail: format!("{resumed} order(s) were in flight and finished after the restart"),
    });
    let payments = services.payment.payments();
    let once = plan.orders.iter().all(|(_, r)| {
        payments
            .get(&r.order_id)
            .is_some_and(|p| p.charges == 1 && p.amount == r.total())
    });
    let wallets = services.payment.wallets();
    let expected_wallets: BTreeMap<String, u64> = seed::CUSTOMERS
        .iter()
        .map(|c| {
            let spent: u64 = plan
                .orders
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
        format!("{} COMPLETED", plan.orders.len()),
        orders,
        &services.snapshot(),
        checks,
        facts,
    );
    durable.remove_file();
    Ok(result)
}

/// Places every planned order that is not known yet and reports all of them, in order.
async fn place_all(
    engine: &Engine,
    services: &Services,
    plan: &Plan,
) -> Result<Vec<OrderReport>, AppError> {
    let mut reports = Vec::new();
    for (id, request) in &plan.orders {
        let report = match engine.existing(services, *id, &request.order_id).await? {
            Some(r) => r,
            None => engine.place(*id, request.clone()).await?,
        };
        reports.push(report);
    }
    Ok(reports)
}
