//! Printing results: per-order state histories, the summary table, the JSON summary.

use serde::Serialize;

use crate::cloudmart::scenarios::ScenarioResult;

/// Prints one scenario's orders (at most `max_orders`, then a count) and checks.
pub fn print_scenario(r: &ScenarioResult, max_orders: usize) {
    println!("\n== {} [{}] ==", r.scenario.name(), r.style.as_str());
    for o in r.orders.iter().take(max_orders) {
        o.print();
    }
    if r.orders.len() > max_orders {
        println!(
            "  … and {} more orders ({})",
            r.orders.len() - max_orders,
            crate::cloudmart::scenarios::outcome_summary(&r.orders[max_orders..])
        );
    }
    for c in &r.checks {
        println!(
            "  [{}] {}: {}",
            if c.ok { "ok" } else { "FAIL" },
            c.name,
            c.detail
        );
    }
}

/// Prints the summary table.
pub fn print_table(results: &[ScenarioResult]) {
    println!(
        "\n{:<17} {:<14} {:<24} {:<24} result",
        "scenario", "style", "expected", "actual"
    );
    println!("{}", "-".repeat(86));
    for r in results {
        println!(
            "{:<17} {:<14} {:<24} {:<24} {}",
            r.scenario.name(),
            r.style.as_str(),
            r.expected,
            r.actual,
            if r.ok { "OK" } else { "FAIL" }
        );
    }
}

/// The `--json` document.
#[derive(Debug, Serialize)]
pub struct Summary<'a> {
    /// The saga log, without credentials.
    pub log: String,
    /// The transport.
    pub transport: &'a str,
    /// Every scenario ended as expected.
    pub ok: bool,
    /// The results.
    pub scenarios: &'a [ScenarioResult],
}

/// Prints the JSON summary on stdout.
pub fn print_json(summary: &Summary<'_>) {
    match serde_json::to_string_pretty(summary) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("cannot encode the summary: {e}"),
    }
}
