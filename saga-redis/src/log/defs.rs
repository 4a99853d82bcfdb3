//! The definitions of the sagas this log writes to.
//!
//! An [`Append`](saga::log::Append) carries no definition, but the append script must be given every
//! key it touches, and the index keys name the definition. A saga's definition never changes, so the
//! log remembers it from `create`, `claim` and `load`; an append of a saga it does not know is sent
//! once with the saga's own two keys, the script answers with the definition, and the append is sent
//! again. The map is bounded: a full shard of it is cleared (costing one extra round trip per saga
//! appended afterwards, never correctness).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use saga::SagaId;

const SHARDS: usize = 16;
/// Entries per shard before the shard is cleared.
const MAX_PER_SHARD: usize = 8192;

/// A definition name and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Definition {
    pub(crate) name: Arc<str>,
    pub(crate) version: u32,
}

/// Saga id → definition, for the sagas this log created, claimed or loaded and has not seen finish.
#[derive(Debug, Default)]
pub(crate) struct Definitions {
    shards: [Mutex<HashMap<SagaId, Definition>>; SHARDS],
}

impl Definitions {
    fn shard(&self, id: SagaId) -> &Mutex<HashMap<SagaId, Definition>> {
        let low = id.as_uuid().as_u64_pair().1;
        &self.shards[usize::try_from(low % SHARDS as u64).unwrap_or(0)]
    }

    pub(crate) fn get(&self, id: SagaId) -> Option<Definition> {
        self.shard(id).lock().get(&id).cloned()
    }

    pub(crate) fn remember(&self, id: SagaId, name: &str, version: u32) {
        let mut shard = self.shard(id).lock();
        if shard
            .get(&id)
            .is_some_and(|d| &*d.name == name && d.version == version)
        {
            return;
        }
        if shard.len() >= MAX_PER_SHARD {
            shard.clear();
        }
        shard.insert(
            id,
            Definition {
                name: name.into(),
                version,
            },
        );
    }

    pub(crate) fn forget(&self, id: SagaId) {
        self.shard(id).lock().remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_forgets_and_stays_bounded() {
        let defs = Definitions::default();
        let id = SagaId::new();
        defs.remember(id, "order", 2);
        assert_eq!(
            defs.get(id).map(|d| (d.name.to_string(), d.version)),
            Some(("order".to_owned(), 2))
        );
        defs.forget(id);
        assert!(defs.get(id).is_none());
        for _ in 0..(SHARDS * MAX_PER_SHARD * 2) {
            defs.remember(SagaId::new(), "x", 1);
        }
        let total: usize = defs.shards.iter().map(|s| s.lock().len()).sum();
        assert!(total <= SHARDS * MAX_PER_SHARD);
    }
}
