//! The scenarios of DESIGN §4, each runnable in both styles, with their expected outcomes and checks.

mod middleware;
mod result;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::join_all;
use saga::{SagaId, SagaLog};
use serde::Serialize;

pub(crate) use result::finish;
pub use result::{outcome_summary, Check, ScenarioResult};

use crate::cloudmart::db::DbSpec;
use crate::cloudmart::error::AppError;
use crate::cloudmart::model::{OrderRequest, Style};
use crate::cloudmart::seed;
use crate::cloudmart::services::{CarrierMode, ServicesConfig};
use crate::cloudmart::world::{LocalWorld, World};
use result::check;

/// A scenario of the CloudMart story.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// 田中太郎 buys one book.
    Success,
    /// 佐藤花子 buys two titles at once.
    MultiItem,
    /// The limited art book has no stock.
    OutOfStock,
    /// 山田一郎's wallet is too small.
    PaymentFailure,
    /// The carrier refuses the shipment: full rollback.
    ShippingFailure,
    /// 50 orders race for the 5 copies of book-123.
    Concurrent,
    /// The carrier goes down; the breaker opens, fails fast, half-opens, closes.
    CarrierOutage,
    /// The payment gateway is slow; the bulkhead caps concurrent calls.
    SlowGateway,
    /// The process dies mid-saga; a restart finishes from the log.
    Crash,
}

impl Scenario {
    /// Every scenario, in the order they run.
    pub const ALL: [Self; 9] = [
        Self::Success,
        Self::MultiItem,
        Self::OutOfStock,
        Self::PaymentFailure,
        Self::ShippingFailure,
        Self::Concurrent,
        Self::CarrierOutage,
        Self::SlowGateway,
        Self::Crash,
    ];

    /// The scenario's name on the command line.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::MultiItem => "multi-item",
            Self::OutOfStock => "out-of-stock",
            Self::PaymentFailure => "payment-failure",
            Self::ShippingFailure => "shipping-failure",
            Self::Concurrent => "concurrent",
            Self::CarrierOutage => "carrier-outage",
            Self::SlowGateway => "slow-gateway",
            Self::Crash => "crash",
        }
    }

    /// Parses a name.
    ///
    /// # Errors
    /// [`AppError::Usage`] listing the names.
    pub fn parse(name: &str) -> Result<Self, AppError> {
        Self::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|s| s.name()).collect();
                AppError::Usage(format!(
                    "unknown scenario {name:?}; expected one of: {}",
                    names.join(", ")
                ))
            })
    }
}

/// What a scenario runs on.
#[derive(Clone)]
pub struct Env {
    /// The saga log every orchestrated saga is written to.
    pub log: Arc<dyn SagaLog>,
    /// Middleware settings.
    pub config: ServicesConfig,
    /// Where the services keep their state.
    pub db: DbSpec,
    /// Crash scenario options.
    pub crash: crate::cloudmart::crash::CrashOptions,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("db", &self.db)
            .field("crash", &self.crash)
            .finish_non_exhaustive()
    }
}
pub(super) fn order(
    id: String,
    customer: &str,
    items: &[(&str, u32)],
) -> Result<OrderRequest, AppError> {
    seed::order(&id, customer, items)
        .ok_or_else(|| AppError::Usage(format!("order {id} names an unknown book")))
}

/// Runs `scenario` in `style` in this process.
///
/// # Errors
/// Log, transport or state failures (not business failures, which are outcomes).
pub async fn run(scenario: Scenario, style: Style, env: &Env) -> Result<ScenarioResult, AppError> {
    if scenario == Scenario::Crash {
        return crate::cloudmart::crash::run(style, env).await;
    }
    let owner = format!(
        "cm_{}_{}_{}",
        scenario.name().replace('-', "_"),
        &style.as_str()[..1],
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let world =
        LocalWorld::start(style, &env.config, &env.db, Arc::clone(&env.log), &owner).await?;
    let result = run_in(scenario, style, &world).await;
    Box::new(world).shutdown().await;
    result
}

/// Runs `scenario` (any but [`Scenario::Crash`], which needs a restart) in `style` against `world`.
///
/// # Errors
/// Log, transport or state failures (not business failures, which are outcomes).
pub async fn run_in(
    scenario: Scenario,
    style: Style,
    world: &dyn World,
) -> Result<ScenarioResult, AppError> {
    let tag = match style {
        Style::Orchestration => "o",
        Style::Choreography => "c",
    };
    let id = |n: usize| format!("order-{tag}-{}-{n:03}", scenario.name());
    let mut checks = Vec::new();
    let mut facts = BTreeMap::new();
    let mut orders = Vec::new();
    let expected: String;
    match scenario {
        Scenario::Success => {
            expected = "1 COMPLETED".into();
            let req = order(id(1), "customer-001", &[("book-123", 1)])?;
            orders.push(world.place(SagaId::new(), req).await?);
        }
        Scenario::MultiItem => {
            expected = "1 COMPLETED".into();
            let req = order(id(1), "customer-002", &[("book-123", 2), ("book-789", 3)])?;
            let total = req.total();
            orders.push(world.place(SagaId::new(), req).await?);
            let charged = world
                .snapshot()
                .await?
                .payments
                .get(&id(1))
                .map(|p| p.amount);
            checks.push(check(
                "charged the sum of both lines (2×3500 + 3×2800)",
                charged == Some(total) && total == 15_400,
                format!("charged {charged:?}, total {total}"),
            ));
        }
        Scenario::OutOfStock => {
            expected = "1 FAILED".into();
            let req = order(id(1), "customer-002", &[("book-456", 1)])?;
            orders.push(world.place(SagaId::new(), req).await?);
        }
        Scenario::PaymentFailure => {
            expected = "1 FAILED".into();
            let req = order(id(1), "customer-003", &[("book-123", 1)])?;
            orders.push(world.place(SagaId::new(), req).await?);
            let level = world.snapshot().await?.levels.get("book-123").cloned();
            checks.push(check(
                "reservation released",
                level
                    .as_ref()
                    .is_some_and(|l| l.available == 5 && l.reserved == 0),
                format!("{level:?}"),
            ));
        }
        Scenario::ShippingFailure => {
            expected = "1 FAILED".into();
            world.set_carrier(CarrierMode::Rejects).await?;
            let req = order(id(1), "customer-001", &[("book-789", 1)])?;
            orders.push(world.place(SagaId::new(), req).await?);
            let refunded = world
                .snapshot()
                .await?
                .payments
                .get(&id(1))
                .map(|p| p.refunded);
            checks.push(check(
                "payment refunded in full",
                refunded == Some(2800),
                format!("refunded {refunded:?}"),
            ));
        }
        Scenario::Concurrent => {
            expected = "5 COMPLETED, 45 FAILED".into();
            let requests = (1..=50)
                .map(|n| {
                    let customer = if n % 2 == 0 {
                        "customer-002"
                    } else {
                        "customer-001"
                    };
                    order(id(n), customer, &[("book-123", 1)])
                })
                .collect::<Result<Vec<_>, _>>()?;
            let results =
                join_all(requests.into_iter().map(|r| world.place(SagaId::new(), r))).await;
            for r in results {
                orders.push(r?);
            }
            let level = world.snapshot().await?.levels.get("book-123").cloned();
            checks.push(check(
                "no oversell: book-123 available 0, reserved 5",
                level
                    .as_ref()
                    .is_some_and(|l| l.available == 0 && l.reserved == 5),
                format!("{level:?}"),
            ));
        }
        Scenario::CarrierOutage => {
            let out = middleware::Outcome {
                orders: &mut orders,
                checks: &mut checks,
                facts: &mut facts,
            };
            expected = middleware::carrier_outage(world, &id, out).await?;
        }
        Scenario::SlowGateway => {
            let out = middleware::Outcome {
                orders: &mut orders,
                checks: &mut checks,
                facts: &mut facts,
            };
            expected = middleware::slow_gateway(world, &id, out).await?;
        }
        Scenario::Crash => {
            return Err(AppError::Usage(
                "the crash scenario restarts its world: run it with scenarios::run".into(),
            ))
        }
    }
    let snapshot = world.snapshot().await?;
    Ok(finish(
        scenario, style, expected, orders, &snapshot, checks, facts,
    ))
}
