//! A hash map split into independently locked shards, so many sagas touching their own entries rarely
//! contend. Used by the in-memory log and the executor's registry of running sagas.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};

use parking_lot::{Mutex, MutexGuard};

type Shard<K, V> = Mutex<HashMap<K, V>>;

pub(crate) struct ShardedMap<K, V> {
    shards: Box<[Shard<K, V>]>,
    hasher: RandomState,
}

impl<K: Hash + Eq, V> ShardedMap<K, V> {
    pub(crate) fn new(shards: usize) -> Self {
        Self {
            shards: (0..shards.max(1))
                .map(|_| Mutex::new(HashMap::new()))
                .collect(),
            hasher: RandomState::new(),
        }
    }

    /// Locks the shard holding `key`.
    pub(crate) fn lock(&self, key: &K) -> MutexGuard<'_, HashMap<K, V>> {
        // Truncating the hash is fine: it only picks a shard.
        #[allow(clippy::cast_possible_truncation)]
        let idx = (self.hasher.hash_one(key) as usize) % self.shards.len();
        self.shards[idx].lock()
    }

    /// Every shard, one at a time (for scans).
    pub(crate) fn shards(&self) -> impl Iterator<Item = MutexGuard<'_, HashMap<K, V>>> {
        self.shards.iter().map(Mutex::lock)
    }
}
