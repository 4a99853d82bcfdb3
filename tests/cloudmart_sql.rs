//! The CloudMart services' SQL state: a redelivered command (same idempotency key) applies its effect
//! once — the key is recorded with `saga_sqlx::Inbox` in the transaction of the effect — also when the
//! two deliveries race and after a restart, on SQLite files, on PostgreSQL schemas and on MariaDB
//! databases; and the scenarios with the services on PostgreSQL.
//!
//! The server tests use `SAGA_TEST_POSTGRES_URL` / `SAGA_TEST_MYSQL_URL` (default: the local servers)
//! and are skipped when the server is unreachable, unless `SAGA_REQUIRE_BACKENDS=1`.

// Each test uses part of the example; the example binary itself is checked for dead code.
#[allow(dead_code)]
#[path = "../examples/cloudmart/lib.rs"]
mod cloudmart;

use std::sync::Arc;

use saga::{Direction, IdempotencyKey, SagaId};
use saga_sqlx::sqlx;

use cloudmart::crash::CrashOptions;
use cloudmart::db::{DbError, DbSpec, Key};
use cloudmart::model::{OrderRequest, Style};
use cloudmart::scenarios::{self, Env, Scenario};
use cloudmart::seed;
use cloudmart::services::{OrderStatus, Services, ServicesConfig};

fn postgres_url() -> String {
    std::env::var("SAGA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn mysql_url() -> String {
    std::env::var("SAGA_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned())
}

/// Prints the skip line and returns `None`, or panics when `SAGA_REQUIRE_BACKENDS=1`.
fn unreachable<T>(url: &str, error: &dyn std::fmt::Display) -> Option<T> {
    let shown = saga_sqlx::redact_url(url);
    if std::env::var("SAGA_REQUIRE_BACKENDS").is_ok_and(|v| v == "1") {
        panic!("{shown} unreachable and SAGA_REQUIRE_BACKENDS=1: {error}");
    }
    println!("skipped: {shown} unreachable");
    None
}

/// A fresh world name, so tests run in parallel on one server.
fn name() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

async fn open(spec: &DbSpec, name: &str) -> Option<Arc<Services>> {
    match Services::open(spec, name, &ServicesConfig::default()).await {
        Ok(s) => Some(s),
        Err(e @ DbError::Sql(sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut)) => {
            let DbSpec::Server(url) = spec else {
                panic!("cannot open the services: {e}")
            };
            unreachable(url, &e)
        }
        Err(e) => panic!("cannot open the services: {e}"),
    }
}

/// The number of keys the service's inbox holds in `scope`.
async fn inbox_keys(db: &cloudmart::db::Db, scope: &str) -> i64 {
    let rows = db
        .read(
            "SELECT COUNT(*) FROM cm_saga_inbox WHERE scope = ?",
            &[cloudmart::db::Arg::Text(scope)],
        )
        .await
        .expect("inbox readable");
    rows[0].int(0).expect("a count")
}

fn request(order_id: &str) -> OrderRequest {
    seed::order(order_id, "customer-001", &[("book-123", 2)]).expect("seed books")
}

/// Delivers every command of one order twice (and one charge twice at once), restarts the services
/// and delivers again: each effect is in the tables once.
async fn redelivered_commands_apply_once(spec: DbSpec) {
    let name = name();
    let Some(services) = open(&spec, &name).await else {
        return;
    };
    let saga = SagaId::new();
    let key = |step, dir| Key::command(IdempotencyKey::new(saga, step, dir));
    let forward = Direction::Forward;
    let r = request("order-redelivered-1");
    let total = r.total();
    let (id, customer) = (r.order_id.as_str(), r.customer_id.as_str());

    let mut answers = Vec::new();
    for _ in 0..2 {
        answers.push((
            services
                .order
                .create(&key(0, forward), &r, Some(saga.to_string()))
                .await,
            services
                .inventory
                .reserve(&key(1, forward), id, &r.lines)
                .await,
            services
                .payment
                .charge(&key(2, forward), id, customer, total)
                .await,
            services.shipping.arrange(&key(3, forward), id).await,
        ));
    }
    assert_eq!(answers[0], answers[1], "a redelivery gets the first answer");
    assert_eq!(answers[0].2, Ok(format!("pay-{id}")));
    assert_eq!(
        services.payment.gateway().calls(),
        1,
        "answered from the inbox"
    );
    assert_eq!(
        services.shipping.carrier().calls(),
        1,
        "answered from the inbox"
    );

    // The same command delivered twice at once: one effect, the same answer.
    let second = request("order-redelivered-2");
    let k = key(12, forward);
    let charge = || {
        services
            .payment
            .charge(&k, &second.order_id, customer, second.total())
    };
    let (a, b) = tokio::join!(charge(), charge());
    assert_eq!(a, b);
    assert!(a.is_ok(), "{a:?}");

    // A restarted process: new services on the same databases find the committed keys.
    services.close().await;
    drop(services);
    let services = open(&spec, &name).await.expect("reopens");
    let again = services
        .payment
        .charge(&key(2, forward), id, customer, total)
        .await;
    assert_eq!(again, answers[0].2);
    assert_eq!(
        services.payment.gateway().calls(),
        0,
        "no second authorization"
    );

    // The compensations, redelivered too.
    let back = Direction::Compensate;
    for _ in 0..2 {
        services
            .inventory
            .release(&key(1, back), id)
            .await
            .expect("release");
        services
            .payment
            .cancel(&key(2, back), id)
            .await
            .expect("refund");
        services
            .order
            .finish(&key(0, back), id, OrderStatus::Cancelled)
            .await
            .expect("cancel");
    }

    let snapshot = services.snapshot().await.expect("snapshot");
    let level = &snapshot.levels["book-123"];
    assert_eq!((level.available, level.reserved), (5, 0), "{level:?}");
    let p = &snapshot.payments[id];
    assert_eq!(
        (p.charges, p.amount, p.refunded),
        (1, total, total),
        "{p:?}"
    );
    assert_eq!(snapshot.payments[&second.order_id].charges, 1);
    assert_eq!(
        snapshot.wallets["customer-001"],
        200_000 - second.total(),
        "one debit per order, one refund"
    );
    assert_eq!(snapshot.orders.len(), 1);
    assert_eq!(snapshot.orders[id].status, OrderStatus::Cancelled);
    assert_eq!(snapshot.orders[id].events, ["OrderCreated"]);
    assert_eq!(snapshot.shipments.len(), 1);
    // One inbox row per distinct key, recorded with the effect.
    assert_eq!(
        inbox_keys(services.payment.db(), "payment/command").await,
        3
    );
    assert_eq!(
        inbox_keys(services.inventory.db(), "inventory/command").await,
        2
    );
    services.destroy().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_files_apply_a_redelivered_command_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    redelivered_commands_apply_once(DbSpec::Dir(dir.path().to_owned())).await;
    let left = std::fs::read_dir(dir.path()).expect("dir").count();
    assert_eq!(left, 0, "destroy removes the services' files");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_schemas_apply_a_redelivered_command_once() {
    redelivered_commands_apply_once(DbSpec::Server(postgres_url())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_databases_apply_a_redelivered_command_once() {
    redelivered_commands_apply_once(DbSpec::Server(mysql_url())).await;
}

/// The scenarios whose services race on one order (choreography: a step and its compensation) or on
/// one book (50 concurrent orders), with every service in its own PostgreSQL schema: outcomes and
/// invariants as on SQLite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios_on_postgres() {
    let url = postgres_url();
    // Probe the server once; the scenarios create and drop their own schemas.
    let Some(probe) = open(&DbSpec::Server(url.clone()), &name()).await else {
        return;
    };
    probe.destroy().await;
    let env = Env {
        log: Arc::new(saga::InMemoryLog::new()),
        config: ServicesConfig::across_processes(),
        db: DbSpec::Server(url),
        crash: CrashOptions::default(),
    };
    for scenario in [
        Scenario::Success,
        Scenario::OutOfStock,
        Scenario::Concurrent,
    ] {
        for style in [Style::Orchestration, Style::Choreography] {
            let r = scenarios::run(scenario, style, &env)
                .await
                .unwrap_or_else(|e| panic!("{} [{}]: {e}", scenario.name(), style.as_str()));
            for c in &r.checks {
                assert!(c.ok, "{} [{}]: {c:?}", scenario.name(), style.as_str());
            }
            assert_eq!(
                r.actual,
                r.expected,
                "{} [{}]",
                scenario.name(),
                style.as_str()
            );
        }
    }
}
