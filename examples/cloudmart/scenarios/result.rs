//! How a scenario ended: its checks, its result, and the invariant check every result includes.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

use super::Scenario;
use crate::cloudmart::history::OrderReport;
use crate::cloudmart::model::Style;
use crate::cloudmart::services::Snapshot;

/// One named check of a scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// Whether it held.
    pub ok: bool,
    /// The observed values.
    pub detail: String,
}

/// How a scenario ended in one style.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    /// Which scenario.
    pub scenario: Scenario,
    /// Which style.
    pub style: Style,
    /// What should happen, in short.
    pub expected: String,
    /// What happened, in short.
    pub actual: String,
    /// Every check held and `actual == expected`.
    pub ok: bool,
    /// Every order with its state history.
    pub orders: Vec<OrderReport>,
    /// The checks.
    pub checks: Vec<Check>,
    /// Measured values (carrier calls, peak gateway concurrency, wallets, charges...).
    pub facts: BTreeMap<String, Value>,
}

/// Builds the result: `actual` is the outcome count, checks include the cross-service invariants.
pub(crate) fn finish(
    scenario: Scenario,
    style: Style,
    expected: String,
    orders: Vec<OrderReport>,
    snapshot: &Snapshot,
    mut checks: Vec<Check>,
    mut facts: BTreeMap<String, Value>,
) -> ScenarioResult {
    let actual = outcome_summary(&orders);
    let violations = snapshot.violations();
    checks.push(Check {
        name: "invariants (stock, money, reservations, refunds)".into(),
        ok: violations.is_empty(),
        detail: if violations.is_empty() {
            "all hold".into()
        } else {
            violations.join("; ")
        },
    });
    facts.insert("wallets".into(), json!(snapshot.wallets));
    facts.insert(
        "charges".into(),
        json!(snapshot
            .payments
            .iter()
            .map(|(o, p)| (o.clone(), p.charges))
            .collect::<BTreeMap<_, _>>()),
    );
    facts.insert(
        "stock".into(),
        json!(snapshot
            .levels
            .iter()
            .map(|(b, l)| (
                b.clone(),
                json!({"available": l.available, "reserved": l.reserved})
            ))
            .collect::<BTreeMap<_, _>>()),
    );
    let ok = actual == expected && checks.iter().all(|c| c.ok);
    ScenarioResult {
        scenario,
        style,
        expected,
        actual,
        ok,
        orders,
        checks,
        facts,
    }
}

/// `"N COMPLETED, M FAILED"` (zero counts left out).
#[must_use]
pub fn outcome_summary(orders: &[OrderReport]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for o in orders {
        *counts.entry(o.outcome.as_str()).or_default() += 1;
    }
    let mut parts: Vec<String> = Vec::new();
    for name in ["COMPLETED", "FAILED"] {
        if let Some(n) = counts.remove(name) {
            parts.push(format!("{n} {name}"));
        }
    }
    parts.extend(counts.into_iter().map(|(k, n)| format!("{n} {k}")));
    parts.join(", ")
}

pub(super) fn check(name: &str, ok: bool, detail: impl Into<String>) -> Check {
    Check {
        name: name.to_owned(),
        ok,
        detail: detail.into(),
    }
}
