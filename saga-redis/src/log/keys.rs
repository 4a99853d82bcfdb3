//! Key names: which shard a saga belongs to, and every key its scripts touch.
//!
//! With prefix `P` and shard `k` (decimal), every key of shard `k` carries the hash tag `{P:k}`, so
//! one saga's keys and the indexes they appear in share a Redis Cluster slot:
//!
//! ```text
//! P:meta                                 hash  format, shards            (checked by connect)
//! P:{P:k}:saga:<id>:inst                 hash  the instance
//! P:{P:k}:saga:<id>:rec                  list  the records, oldest first
//! P:{P:k}:recoverable:<version>:<def>    zset  running + compensating sagas of one definition version
//! P:{P:k}:state:<state>                  zset  sagas in a state
//! P:{P:k}:state:<state>:<def>            zset  sagas of a definition in a state
//! P:{P:k}:expiry:<state>[:<def>]         zset  terminal states only: when each member's keys expire
//! ```

use std::sync::Arc;

use saga::{SagaId, SagaState};

/// The number of keys [`Keys::saga`] returns, in the order the create and append scripts expect.
pub(crate) const SAGA_KEYS: usize = 21;

/// Builds the key names of one log (prefix and shard count).
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: Arc<str>,
    shards: u16,
}

impl Keys {
    pub(crate) fn new(prefix: &str, shards: u16) -> Self {
        Self {
            prefix: prefix.into(),
            shards: shards.max(1),
        }
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(crate) const fn shards(&self) -> u16 {
        self.shards
    }

    /// The shard of a saga: FNV-1a over the id's 16 bytes, modulo the shard count. Part of the storage
    /// format: it never changes for a given id and count.
    pub(crate) fn shard_of(&self, id: SagaId) -> u16 {
        let mut hash: u32 = 0x811c_9dc5;
        for byte in id.as_uuid().as_bytes() {
            hash ^= u32::from(*byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
        u16::try_from(hash % u32::from(self.shards)).unwrap_or(0)
    }

    /// `P:{P:k}:`, the start of every key of shard `k`.
    pub(crate) fn base(&self, shard: u16) -> String {
        format!("{p}:{{{p}:{shard}}}:", p = self.prefix)
    }

    /// The hash holding `<prefix>:meta`: layout format and shard count.
    pub(crate) fn meta(&self) -> String {
        format!("{}:meta", self.prefix)
    }

    /// The `SCAN MATCH` pattern of every shard key of this prefix (not `P:meta`).
    pub(crate) fn shard_pattern(&self) -> String {
        format!("{p}:{{{p}:*", p = self.prefix)
    }

    pub(crate) fn inst(&self, id: SagaId) -> String {
        format!("{}saga:{id}:inst", self.base(self.shard_of(id)))
    }

    pub(crate) fn rec(&self, id: SagaId) -> String {
        format!("{}saga:{id}:rec", self.base(self.shard_of(id)))
    }

    pub(crate) fn recoverable(&self, shard: u16, definition: &str, version: u32) -> String {
        format!("{}recoverable:{version}:{definition}", self.base(shard))
    }

    /// The set of sagas in `state` (of `definition`, if given) in shard `shard`.
    pub(crate) fn state(&self, shard: u16, state: SagaState, definition: Option<&str>) -> String {
        match definition {
            Some(def) => format!("{}state:{state}:{def}", self.base(shard)),
            None => format!("{}state:{state}", self.base(shard)),
        }
    }

    fn expiry(&self, shard: u16, state: SagaState, definition: Option<&str>) -> String {
        match definition {
            Some(def) => format!("{}expiry:{state}:{def}", self.base(shard)),
            None => format!("{}expiry:{state}", self.base(shard)),
        }
    }

    /// Every key a create or append of saga `id` may touch, in the scripts' order: instance, records,
    /// recoverable index, the six state sets, the six state sets of the definition, the three expiry
    /// sets, the three expiry sets of the definition (states in [`SagaState::ALL`] order).
    pub(crate) fn saga(&self, id: SagaId, definition: &str, version: u32) -> Vec<String> {
        let shard = self.shard_of(id);
        let terminal = SagaState::ALL.into_iter().filter(|s| s.is_terminal());
        let mut keys = Vec::with_capacity(SAGA_KEYS);
        keys.push(self.inst(id));
        keys.push(self.rec(id));
        keys.push(self.recoverable(shard, definition, version));
        keys.extend(SagaState::ALL.map(|s| self.state(shard, s, None)));
        keys.extend(SagaState::ALL.map(|s| self.state(shard, s, Some(definition))));
        keys.extend(terminal.clone().map(|s| self.expiry(shard, s, None)));
        keys.extend(terminal.map(|s| self.expiry(shard, s, Some(definition))));
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_saga_shares_one_hash_tag() {
        let keys = Keys::new("app:x", 16);
        let id = SagaId::new();
        let all = keys.saga(id, "order", 2);
        assert_eq!(all.len(), SAGA_KEYS);
        let tag = format!("{{app:x:{}}}", keys.shard_of(id));
        assert!(all.iter().all(|k| k.starts_with(&format!("app:x:{tag}:"))));
        assert_eq!(all[2], format!("app:x:{tag}:recoverable:2:order"));
        assert_eq!(all[3], format!("app:x:{tag}:state:running"));
        assert_eq!(all[20], format!("app:x:{tag}:expiry:resolved:order"));
    }

    #[test]
    fn shards_spread_and_stay_put() {
        let keys = Keys::new("p", 16);
        let ids: Vec<SagaId> = (0..512).map(|_| SagaId::new()).collect();
        let mut used = std::collections::HashSet::new();
        for id in &ids {
            let shard = keys.shard_of(*id);
            assert!(shard < 16);
            assert_eq!(shard, keys.shard_of(*id));
            used.insert(shard);
        }
        assert_eq!(used.len(), 16, "512 ids use every shard");
        assert_eq!(Keys::new("p", 1).shard_of(ids[0]), 0);
    }

    #[test]
    fn uuid_text_sorts_like_saga_ids() {
        // The indexes order members by their bytes (ZRANGEBYLEX); ids must sort the same way.
        let mut ids: Vec<SagaId> = (0..200).map(|_| SagaId::new()).collect();
        ids.push(SagaId::from_uuid(uuid::Uuid::from_u128(u128::MAX)));
        ids.push(SagaId::from_uuid(uuid::Uuid::from_u128(0xa)));
        ids.push(SagaId::from_uuid(uuid::Uuid::from_u128(9 << 64)));
        ids.push(SagaId::from_uuid(uuid::Uuid::new_v4()));
        let mut by_text = ids.clone();
        by_text.sort_by_key(ToString::to_string);
        ids.sort();
        assert_eq!(by_text, ids);
    }
}
