//! `cargo run --example cloudmart`: runs every CloudMart scenario in both styles and prints each order's
//! state history and a summary; see `--help` for the flags.

#[path = "lib.rs"]
mod cloudmart;

use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;

use cloudmart::cli::{peers, Cli};
use cloudmart::crash::CrashOptions;
use cloudmart::db::DbSpec;
use cloudmart::error::AppError;
use cloudmart::model::Style;
use cloudmart::report::{self, Summary};
use cloudmart::roles::{Role, RoleArgs};
use cloudmart::scenarios::{self, Env, Scenario, ScenarioResult};
use cloudmart::services::ServicesConfig;
use cloudmart::transports::TransportSpec;

fn main() {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    };
    drop(runtime);
    std::process::exit(code);
}

/// `--cluster`: every scenario and style on a cluster of its own; the same report as in-process.
async fn run_cluster(
    cli: &Cli,
    spec: &TransportSpec,
    scenarios: &[Scenario],
    styles: &[Style],
) -> Result<i32, AppError> {
    if !cli.json {
        println!(
            "CloudMart cluster — one process per role, transport: {}",
            spec.display()
        );
    }
    let victim = cli.kill.as_deref().map(Role::parse).transpose()?;
    let started = std::time::Instant::now();
    let mut results = Vec::new();
    for scenario in scenarios {
        for style in styles {
            let run = cloudmart::cluster_run::run(
                spec,
                &cli.transport,
                cli.db.as_deref(),
                *scenario,
                *style,
                victim,
            );
            let result = tokio::select! {
                r = run => r?,
                () = interrupted() => {
                    eprintln!("interrupted: the cluster's children were stopped");
                    return Ok(130);
                }
            };
            if !cli.json {
                report::print_scenario(&result, 6);
            }
            results.push(result);
        }
    }
    Ok(summarize(
        cli,
        &spec.display(),
        &cli.transport,
        &results,
        started,
    ))
}

/// Ctrl-C or SIGTERM. Dropping the running cluster (in the other `select!` branch) kills its
/// children.
async fn interrupted() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Prints the table (or the JSON summary); the exit code: 0 if every run ended as expected.
fn summarize(
    cli: &Cli,
    log: &str,
    transport: &str,
    results: &[ScenarioResult],
    started: std::time::Instant,
) -> i32 {
    let ok = results.iter().all(|r| r.ok);
    if cli.json {
        report::print_json(&Summary {
            log: log.to_owned(),
            transport,
            ok,
            scenarios: results,
        });
    } else {
        report::print_table(results);
        println!(
            "\n{} of {} scenario runs as expected in {:.2?}",
            results.iter().filter(|r| r.ok).count(),
            results.len(),
            started.elapsed()
        );
    }
    i32::from(!ok)
}

/// FNV-1a, to name the crash scenario's databases after a server log URL.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

async fn run(cli: Cli) -> Result<i32, AppError> {
    let spec = TransportSpec::parse(&cli.transport)?;
    if let Some(role) = &cli.role {
        let log = cli.log.clone().unwrap_or_else(|| {
            let dir = cloudmart::cluster_run::run_dir(&cli.run_id);
            format!("sqlite://{}", dir.join("saga-log.db").display())
        });
        if let Some(dir) = log.strip_prefix("sqlite://").map(PathBuf::from) {
            if let Some(parent) = dir.parent() {
                std::fs::create_dir_all(parent)?;
            }
        }
        return cloudmart::roles::run(RoleArgs {
            role: Role::parse(role)?,
            transport: spec,
            run_id: cli.run_id.clone(),
            listen: cli.listen.clone(),
            log,
            db: cli.db.clone(),
            peers: peers(&cli.peer)?,
            parent_pipe: cli.parent_pipe,
        })
        .await;
    }
    let styles = cli.styles()?;
    if cli.mermaid {
        println!("{}", cloudmart::orchestration::mermaid().await?);
        return Ok(0);
    }
    let scenarios = match (&cli.scenario, cli.crash_after) {
        (Some(name), _) => vec![Scenario::parse(name)?],
        (None, Some(_)) => vec![Scenario::Crash],
        (None, None) => Scenario::ALL.to_vec(),
    };
    if cli.cluster {
        return run_cluster(&cli, &spec, &scenarios, &styles).await;
    }
    if spec != TransportSpec::InProc {
        return Err(AppError::Usage(format!(
            "--transport {}: the brokers connect separate processes; add --cluster (or run --role)",
            spec.display()
        )));
    }

    // The log: a fresh SQLite file unless --log says otherwise.
    let (url, temp_db) = match &cli.log {
        Some(url) => (url.clone(), None),
        None => {
            let path = std::env::temp_dir().join(format!("cloudmart-{}.db", uuid::Uuid::new_v4()));
            (format!("sqlite://{}", path.display()), Some(path))
        }
    };
    // The services' databases of the crash scenario live beside a SQLite log, or in the temp dir named
    // after a server URL.
    let state_base = match url.strip_prefix("sqlite://") {
        Some(p) => PathBuf::from(p.split('?').next().unwrap_or(p)),
        None => std::env::temp_dir().join(format!("cloudmart-{:016x}", fnv(&url))),
    };
    let resuming = styles
        .iter()
        .any(|s| cloudmart::crash::state_exists(&state_base, *s));
    // With --db, the crash scenario's databases have fixed names on the server: a rerun resumes.
    let server_crash = cli.db.is_some() && cli.scenario.as_deref() == Some("crash");
    let crash_mode = cli.crash_after.is_some() || resuming || server_crash;
    // Server logs: a table prefix per run (a fixed one while a crash is being resumed).
    let prefix = if crash_mode {
        "cm_crash_".to_owned()
    } else {
        format!("cm_{}_", &uuid::Uuid::new_v4().simple().to_string()[..8])
    };
    let opened = cloudmart::logs::open(&url, &prefix).await?;
    let env = Env {
        log: Arc::clone(&opened.log),
        config: if cli.db.is_some() {
            ServicesConfig::across_processes()
        } else {
            ServicesConfig::default()
        },
        db: cli.db.clone().map_or(DbSpec::Memory, DbSpec::Server),
        crash: CrashOptions {
            after: cli.crash_after,
            state_base: crash_mode.then_some(state_base),
        },
    };

    if let Some(addr) = &cli.serve {
        return cloudmart::http::serve(addr, env).await.map(|()| 0);
    }

    if !cli.json {
        println!(
            "CloudMart — saga log: {}, services: {}, transport: {}",
            opened.display,
            env.db.display(),
            cli.transport
        );
    }
    let started = std::time::Instant::now();
    let mut results = Vec::new();
    for scenario in scenarios {
        for style in &styles {
            let result = scenarios::run(scenario, *style, &env).await?;
            if !cli.json {
                report::print_scenario(&result, 6);
            }
            results.push(result);
        }
    }
    let code = summarize(&cli, &opened.display, &cli.transport, &results, started);
    let ok = code == 0;
    drop(env);
    if let Some(cleanup) = opened.cleanup {
        if !crash_mode || ok {
            cleanup().await;
        }
    }
    if let Some(path) = temp_db {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
    Ok(code)
}
