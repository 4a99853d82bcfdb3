//! Every CloudMart scenario in both styles: outcomes as expected, and the cross-service invariants
//! (stock never negative or oversold, reservations released on failure, money conserved, refunds equal
//! the charges of failed orders, one charge per order) hold.

// Each test uses part of the example; the example binary itself is checked for dead code.
#[allow(dead_code)]
#[path = "../examples/cloudmart/lib.rs"]
mod cloudmart;

use std::sync::Arc;

use cloudmart::crash::CrashOptions;
use cloudmart::db::DbSpec;
use cloudmart::model::Style;
use cloudmart::scenarios::{self, Env, Scenario, ScenarioResult};
use cloudmart::services::ServicesConfig;

fn memory_env() -> Env {
    Env {
        log: Arc::new(saga::InMemoryLog::new()),
        config: ServicesConfig::default(),
        db: DbSpec::Memory,
        crash: CrashOptions::default(),
    }
}

async fn run(scenario: Scenario, style: Style, env: &Env) -> ScenarioResult {
    let result = match scenarios::run(scenario, style, env).await {
        Ok(r) => r,
        Err(e) => panic!(
            "{} [{}] failed to run: {e}",
            scenario.name(),
            style.as_str()
        ),
    };
    for c in &result.checks {
        assert!(
            c.ok,
            "{} [{}]: check {:?} failed: {}",
            scenario.name(),
            style.as_str(),
            c.name,
            c.detail
        );
    }
    assert_eq!(
        result.actual,
        result.expected,
        "{} [{}]",
        scenario.name(),
        style.as_str()
    );
    assert!(result.ok);
    for o in &result.orders {
        assert_eq!(
            o.states.first().map(String::as_str),
            Some("STARTED"),
            "{o:?}"
        );
        let last = o.states.last().map(String::as_str);
        assert_eq!(last, Some(o.outcome.as_str()), "{o:?}");
        if o.outcome == "FAILED" {
            assert!(
                o.states.iter().any(|s| s == "COMPENSATION_STARTED"),
                "{o:?}"
            );
        }
    }
    result
}

macro_rules! both_styles {
    ($($name:ident => $scenario:expr),* $(,)?) => {
        $(
            mod $name {
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn orchestration() {
                    run($scenario, Style::Orchestration, &memory_env()).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn choreography() {
                    run($scenario, Style::Choreography, &memory_env()).await;
                }
            }
        )*
    };
}

both_styles! {
    success => Scenario::Success,
    multi_item => Scenario::MultiItem,
    out_of_stock => Scenario::OutOfStock,
    payment_failure => Scenario::PaymentFailure,
    shipping_failure => Scenario::ShippingFailure,
    concurrent_orders => Scenario::Concurrent,
    crash_in_process => Scenario::Crash,
}

/// The breaker's open duration and the gateway's delay on the real clock: the services' SQLite
/// databases answer from threads of their own, which tokio's paused clock would not wait for (it
/// would jump to the next timer, the connection pool's acquire timeout, while a query runs). The
/// breaker stays open 1 s here, so orders 3 and 4 meet it open on a loaded machine too.
mod timed {
    use std::time::Duration;

    use super::*;

    fn timed_env() -> Env {
        let mut env = memory_env();
        env.config.breaker = env
            .config
            .breaker
            .clone()
            .with_open_duration(Duration::from_secs(1));
        env
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn carrier_outage_orchestration() {
        let r = run(Scenario::CarrierOutage, Style::Orchestration, &timed_env()).await;
        assert_eq!(
            r.facts["carrier_calls"],
            serde_json::json!([2, 3, 3, 3, 4, 5])
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn carrier_outage_choreography() {
        let r = run(Scenario::CarrierOutage, Style::Choreography, &timed_env()).await;
        assert_eq!(
            r.facts["carrier_calls"],
            serde_json::json!([2, 3, 3, 3, 4, 5])
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_gateway_orchestration() {
        let r = run(Scenario::SlowGateway, Style::Orchestration, &timed_env()).await;
        assert!(r.facts["gateway_peak_concurrency"].as_u64() <= r.facts["bulkhead_limit"].as_u64());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_gateway_choreography() {
        let r = run(Scenario::SlowGateway, Style::Choreography, &timed_env()).await;
        assert!(r.facts["gateway_peak_concurrency"].as_u64() <= r.facts["bulkhead_limit"].as_u64());
    }
}

/// The same scenarios against a SQLite log file (one per test).
#[cfg(feature = "sqlx")]
mod sqlite {
    use super::*;

    async fn sqlite_env(dir: &tempfile::TempDir) -> Env {
        let url = format!("sqlite://{}", dir.path().join("log.db").display());
        let opened = match cloudmart::logs::open(&url, "").await {
            Ok(o) => o,
            Err(e) => panic!("cannot open {url}: {e}"),
        };
        Env {
            log: opened.log,
            config: ServicesConfig::default(),
            db: DbSpec::Memory,
            crash: CrashOptions::default(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_quick_scenario_in_both_styles() {
        let dir = tempfile::tempdir().expect("temp dir");
        let env = sqlite_env(&dir).await;
        for scenario in [
            Scenario::Success,
            Scenario::OutOfStock,
            Scenario::ShippingFailure,
            Scenario::Concurrent,
            Scenario::Crash,
        ] {
            for style in [Style::Orchestration, Style::Choreography] {
                run(scenario, style, &env).await;
            }
        }
    }
}
