//! The log's Lua scripts and the connection that runs them: `EVALSHA` in pipelines, scripts loaded
//! again after a `NOSCRIPT` (a restarted or failed-over server has an empty script cache), every
//! request counted.

use std::sync::{Arc, LazyLock};

use redis::aio::ConnectionManager;
use redis::{Cmd, Pipeline, RedisError, RedisResult, Script, ServerErrorKind, Value};

use crate::stats::Counters;

const COMMON: &str = include_str!("lua/common.lua");

fn script(body: &str) -> Script {
    Script::new(&format!("{COMMON}\n{body}"))
}

/// The scripts, each with [`COMMON`] prepended.
pub(crate) struct Scripts {
    pub(crate) create: Script,
    pub(crate) append: Script,
    pub(crate) peek: Script,
    pub(crate) claim: Script,
}

pub(crate) static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    create: script(include_str!("lua/create.lua")),
    append: script(include_str!("lua/append.lua")),
    peek: script(include_str!("lua/peek.lua")),
    claim: script(include_str!("lua/claim.lua")),
});

/// One script call: keys (all in one hash tag) and arguments.
pub(crate) struct Call {
    script: &'static Script,
    keys: Vec<String>,
    args: Vec<Vec<u8>>,
}

impl Call {
    pub(crate) fn new(script: &'static Script, keys: Vec<String>) -> Self {
        Self {
            script,
            keys,
            args: Vec::new(),
        }
    }

    /// Adds an argument (text or bytes).
    #[must_use]
    pub(crate) fn arg(mut self, arg: impl AsRef<[u8]>) -> Self {
        self.args.push(arg.as_ref().to_vec());
        self
    }

    fn cmd(&self) -> Cmd {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(self.script.get_hash())
            .arg(self.keys.len())
            .arg(&self.keys)
            .arg(&self.args);
        cmd
    }
}

/// Whether an error says the script is not in the server's cache.
fn is_noscript(e: &RedisError) -> bool {
    e.kind() == redis::ErrorKind::Server(ServerErrorKind::NoScript)
}

/// Whether an error says a key holds the wrong kind of value: data damaged from outside the log.
pub(crate) fn is_wrong_type(e: &RedisError) -> bool {
    e.code() == Some("WRONGTYPE") || e.to_string().contains("WRONGTYPE")
}

/// The shared multiplexed connection (reconnecting by itself) and the log's counters.
#[derive(Clone)]
pub(crate) struct Conn {
    manager: ConnectionManager,
    pub(crate) counters: Arc<Counters>,
}

impl Conn {
    pub(crate) fn new(manager: ConnectionManager, counters: Arc<Counters>) -> Self {
        Self { manager, counters }
    }

    /// A handle on the connection, for commands outside the counted paths.
    pub(crate) fn manager(&self) -> ConnectionManager {
        self.manager.clone()
    }

    /// Sends `pipe` (plain commands, `scripts` of them script calls) and returns each command's
    /// result; a server error of one command does not fail the others.
    async fn send(
        &self,
        pipe: &mut Pipeline,
        scripts: usize,
    ) -> RedisResult<Vec<RedisResult<Value>>> {
        let mut conn = self.manager.clone();
        let out = pipe.ignore_errors().query_async(&mut conn).await;
        self.counters.round_trip(scripts);
        out
    }

    /// Runs plain commands in one pipeline; each command's own result.
    pub(crate) async fn commands(&self, cmds: Vec<Cmd>) -> RedisResult<Vec<RedisResult<Value>>> {
        let mut pipe = redis::pipe();
        for cmd in cmds {
            pipe.add_command(cmd);
        }
        self.send(&mut pipe, 0).await
    }

    /// Runs script calls in one pipeline (each atomic on its own); each call's own result. Calls that
    /// found their script missing are sent again after `SCRIPT LOAD`.
    pub(crate) async fn run(&self, calls: &[Call]) -> RedisResult<Vec<RedisResult<Value>>> {
        let mut pipe = redis::pipe();
        for call in calls {
            pipe.add_command(call.cmd());
        }
        let mut out = self.send(&mut pipe, calls.len()).await?;
        let missing: Vec<usize> = (0..out.len())
            .filter(|&i| out[i].as_ref().is_err_and(is_noscript))
            .collect();
        if missing.is_empty() {
            return Ok(out);
        }
        let mut conn = self.manager.clone();
        let mut loaded: Vec<&str> = Vec::new();
        for &i in &missing {
            let script = calls[i].script;
            if !loaded.contains(&script.get_hash()) {
                loaded.push(script.get_hash());
                script.load_async(&mut conn).await?;
                self.counters.round_trip(0);
            }
        }
        let mut again = redis::pipe();
        for &i in &missing {
            again.add_command(calls[i].cmd());
        }
        let retried = self.send(&mut again, missing.len()).await?;
        for (i, result) in missing.into_iter().zip(retried) {
            out[i] = result;
        }
        Ok(out)
    }

    /// Runs one script call.
    pub(crate) async fn run_one(&self, call: Call) -> RedisResult<Value> {
        let mut out = self.run(std::slice::from_ref(&call)).await?;
        out.pop().unwrap_or(Ok(Value::Nil))
    }
}
