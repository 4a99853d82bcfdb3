//! `cargo run --example cloudmart`: runs every CloudMart scenario in both styles and prints each order's
//! state history and a summary; see `--help` for the flags.

#[path = "lib.rs"]
mod cloudmart;

use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;

use cloudmart::cli::{check_transport, Cli};
use cloudmart::crash::CrashOptions;
use cloudmart::error::AppError;
use cloudmart::report::{self, Summary};
use cloudmart::scenarios::{self, Env, Scenario};
use cloudmart::services::ServicesConfig;

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

/// FNV-1a, to name a state file after a server log URL.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

async fn run(cli: Cli) -> Result<i32, AppError> {
    if let Some(role) = &cli.role {
        return Err(AppError::Usage(format!(
            "--role {role}: running one service per process needs a real broker; \
             not available until the amqp/redis transports land"
        )));
    }
    check_transport(&cli.transport)?;
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

    // The log: a fresh SQLite file unless --log says otherwise.
    let (url, temp_db) = match &cli.log {
        Some(url) => (url.clone(), None),
        None => {
            let path = std::env::temp_dir().join(format!("cloudmart-{}.db", uuid::Uuid::new_v4()));
            (format!("sqlite://{}", path.display()), Some(path))
        }
    };
    // Crash state lives beside a SQLite log, or in the temp dir named after a server URL.
    let state_base = match url.strip_prefix("sqlite://") {
        Some(p) => PathBuf::from(p.split('?').next().unwrap_or(p)),
        None => std::env::temp_dir().join(format!("cloudmart-{:016x}", fnv(&url))),
    };
    let resuming = styles
        .iter()
        .any(|s| cloudmart::crash::state_path(&state_base, *s).exists());
    let crash_mode = cli.crash_after.is_some() || resuming;
    // Server logs: a table prefix per run (a fixed one while a crash is being resumed).
    let prefix = if crash_mode {
        "cm_crash_".to_owned()
    } else {
        format!("cm_{}_", &uuid::Uuid::new_v4().simple().to_string()[..8])
    };
    let opened = cloudmart::logs::open(&url, &prefix).await?;
    let env = Env {
        log: Arc::clone(&opened.log),
        config: ServicesConfig::default(),
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
            "CloudMart — saga log: {}, transport: {}",
            opened.display, cli.transport
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
    let ok = results.iter().all(|r| r.ok);
    if cli.json {
        report::print_json(&Summary {
            log: opened.display.clone(),
            transport: &cli.transport,
            ok,
            scenarios: &results,
        });
    } else {
        report::print_table(&results);
        println!(
            "\n{} of {} scenario runs as expected in {:.2?}",
            results.iter().filter(|r| r.ok).count(),
            results.len(),
            started.elapsed()
        );
    }
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
    Ok(if ok { 0 } else { 1 })
}
