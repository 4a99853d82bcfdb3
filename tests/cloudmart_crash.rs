//! Crash and resume with the real example binary: the first run exits mid-saga (code 137, like
//! `kill -9`), the rerun with the same SQLite log finishes every order with no double charge.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// `target/<profile>/deps/<test>` -> `target/<profile>/examples/cloudmart`.
fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binary lives in target/<profile>/deps");
    let bin = profile_dir
        .join("examples")
        .join(format!("cloudmart{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "the cloudmart example binary was not found at {} (run `cargo build --examples` or `cargo test`, \
         which builds examples, first)",
        bin.display()
    );
    bin
}

fn crash_and_resume(style: &str, after: u32) {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = format!("sqlite://{}", dir.path().join("crash.db").display());
    let args = [
        "--scenario",
        "crash",
        "--style",
        style,
        "--log",
        &log,
        "--json",
    ];

    let first = Command::new(binary())
        .args(args)
        .args(["--crash-after", &after.to_string()])
        .output()
        .expect("run cloudmart");
    assert_eq!(
        first.status.code(),
        Some(137),
        "the first run must stop mid-saga; stderr: {}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stderr).contains("CRASH"));

    let second = Command::new(binary())
        .args(args)
        .output()
        .expect("rerun cloudmart");
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert_eq!(
        second.status.code(),
        Some(0),
        "the rerun must finish; stdout: {stdout}; stderr: {}",
        String::from_utf8_lossy(&second.stderr)
    );
    let summary: Value = serde_json::from_str(&stdout).expect("--json prints JSON");
    assert_eq!(summary["ok"], true, "{summary:#}");
    let result = &summary["scenarios"][0];
    assert_eq!(result["scenario"], "crash");
    assert_eq!(result["style"], style);
    assert_eq!(result["actual"], "2 COMPLETED", "{result:#}");
    assert!(
        result["facts"]["resumed"].as_u64() >= Some(1),
        "an order was in flight at the crash: {result:#}"
    );
    // No double charge: one charge per order, wallets debited exactly once.
    let charges = result["facts"]["charges"].as_object().expect("charges");
    assert_eq!(charges.len(), 2, "{charges:?}");
    assert!(charges.values().all(|c| c == 1), "{charges:?}");
    assert_eq!(result["facts"]["wallets"]["customer-001"], 200_000 - 3_500);
    assert_eq!(
        result["facts"]["wallets"]["customer-002"],
        200_000 - 2 * 2_800
    );
    for check in result["checks"].as_array().expect("checks") {
        assert_eq!(check["ok"], true, "{check:#}");
    }
    for order in result["orders"].as_array().expect("orders") {
        // Choreography may hear PaymentCompleted before StockReserved: compare as sets, ends fixed.
        let mut states: Vec<&str> = order["states"]
            .as_array()
            .expect("states")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(states.first(), Some(&"STARTED"));
        assert_eq!(states.last(), Some(&"COMPLETED"));
        states.sort_unstable();
        let mut expected = [
            "STARTED",
            "ORDER_CREATED",
            "STOCK_RESERVED",
            "PAYMENT_COMPLETED",
            "SHIPPING_ARRANGED",
            "COMPLETED",
        ];
        expected.sort_unstable();
        assert_eq!(states, expected);
        assert_eq!(order["outcome"], "COMPLETED");
    }
}

/// Crashes after create_order, reserve_stock and process_payment of the first order: the charge was
/// made but not recorded in the saga log, so recovery runs process_payment again with the same
/// idempotency key.
#[test]
fn orchestration_resumes_without_double_charge() {
    crash_and_resume("orchestration", 3);
}

/// Crashes after the order was created and inventory or payment reacted to OrderCreated.
#[test]
fn choreography_resumes_without_double_charge() {
    crash_and_resume("choreography", 2);
}

/// Opt-in (`CLOUDMART_KILL_TEST=1`, needs the local RabbitMQ and Redis; about 5 minutes): for each role
/// and each style, a cluster of one process per role runs the crash scenario, in which that role is
/// killed with SIGKILL while two orders wait at the payment gateway and is restarted. Every order must
/// still complete, charged once, with the invariants holding and nothing lost.
#[test]
fn cluster_survives_sigkill_of_each_role() {
    if std::env::var_os("CLOUDMART_KILL_TEST").is_none() {
        eprintln!("skipped: set CLOUDMART_KILL_TEST=1 to kill each cluster role in turn");
        return;
    }
    let roles = [
        "order",
        "inventory",
        "payment",
        "shipping",
        "orchestrator",
        "gateway",
    ];
    for role in roles {
        for style in ["orchestration", "choreography"] {
            let run = Command::new(binary())
                .args(["--cluster", "--transport", "seed", "--scenario", "crash"])
                .args(["--style", style, "--kill", role, "--json"])
                .output()
                .expect("run the cluster");
            let stdout = String::from_utf8_lossy(&run.stdout);
            let summary: Value = serde_json::from_str(&stdout).unwrap_or(Value::Null);
            let result = &summary["scenarios"][0];
            assert_eq!(
                run.status.code(),
                Some(0),
                "killing {role} ({style}): stdout {stdout}; stderr {}",
                String::from_utf8_lossy(&run.stderr)
            );
            assert_eq!(
                result["actual"], "2 COMPLETED",
                "killing {role} ({style}): {result:#}"
            );
            assert_eq!(result["facts"]["killed"], role);
            let charges = result["facts"]["charges"].as_object().expect("charges");
            assert_eq!(charges.len(), 2, "killing {role} ({style}): {charges:?}");
            assert!(charges.values().all(|c| c == 1), "{charges:?}");
            for check in result["checks"].as_array().expect("checks") {
                assert_eq!(check["ok"], true, "killing {role} ({style}): {check:#}");
            }
        }
    }
}
