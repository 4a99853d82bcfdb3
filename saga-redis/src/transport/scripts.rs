//! The transport's Lua scripts (run with `EVALSHA`, loaded again after a `NOSCRIPT`). Each touches the
//! keys of one topic only, all under the topic's hash tag.

use std::sync::LazyLock;

use redis::Script;

const COMMON: &str = include_str!("lua/common.lua");

fn script(body: &str) -> Script {
    Script::new(&format!("{COMMON}\n{body}"))
}

/// The scripts, each with the common helpers prepended.
pub(crate) struct Scripts {
    /// Create or join a group, keep the topic's expiry right.
    pub(crate) join: Script,
    /// `XAUTOCLAIM` plus each claimed entry's times-delivered from `XPENDING`.
    pub(crate) claim: Script,
    /// `XACK` plus re-`XADD` or `ZADD` into the delayed set.
    pub(crate) requeue: Script,
    /// Move due delayed entries back into the stream.
    pub(crate) mover: Script,
    /// Remove expired groups and idle consumers; trim below what every group delivered and acked.
    pub(crate) trim: Script,
    /// `XGROUP DESTROY`, the stream too once it has no group.
    pub(crate) delete: Script,
}

pub(crate) static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    join: script(include_str!("lua/join.lua")),
    claim: script(include_str!("lua/claim.lua")),
    requeue: script(include_str!("lua/requeue.lua")),
    mover: script(include_str!("lua/move.lua")),
    trim: script(include_str!("lua/trim.lua")),
    delete: script(include_str!("lua/delete.lua")),
});
