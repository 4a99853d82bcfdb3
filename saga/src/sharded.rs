//! A hash map split into independently locked shards, so many sagas touching their own entries rarely
//! contend. Used by the in-memory log and the executor's registry of running sagas.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};

use parking_lot::{Mutex, MutexGuard};

type Shard<K, V> = Mutex<HashMap<K, V, SeededFx>>;

/// A multiply-rotate hasher (the Fx algorithm) with a random per-map seed.
///
/// The keys here are saga ids, whose bits are mostly random already; SipHash's cost showed up in the
/// load generator (every table resize rehashes every key). The random seed keeps ids that collide in
/// one process from colliding in the next; this map is an in-process structure, not a server's.
#[derive(Clone, Copy)]
pub(crate) struct SeededFx(u64);

pub(crate) struct FxHasher(u64);

const K: u64 = 0xf135_7aea_2e62_a9c5;

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
        for &b in chunks.remainder() {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(K);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        // Fold the high bits down: hashbrown takes its bucket index from the low bits.
        self.0 ^ (self.0 >> 32)
    }
}

impl BuildHasher for SeededFx {
    type Hasher = FxHasher;

    fn build_hasher(&self) -> FxHasher {
        FxHasher(self.0)
    }
}

impl SeededFx {
    fn random() -> Self {
        Self(rand::random())
    }
}

pub(crate) struct ShardedMap<K, V> {
    shards: Box<[Shard<K, V>]>,
    hasher: SeededFx,
}

impl<K: Hash + Eq, V> ShardedMap<K, V> {
    pub(crate) fn new(shards: usize) -> Self {
        Self {
            shards: (0..shards.max(1))
                .map(|_| Mutex::new(HashMap::with_hasher(SeededFx::random())))
                .collect(),
            hasher: SeededFx::random(),
        }
    }

    /// Locks the shard holding `key`.
    pub(crate) fn lock(&self, key: &K) -> MutexGuard<'_, HashMap<K, V, SeededFx>> {
        // Truncating the hash is fine: it only picks a shard.
        #[allow(clippy::cast_possible_truncation)]
        let idx = (self.hasher.hash_one(key) as usize) % self.shards.len();
        self.shards[idx].lock()
    }

    /// Every shard, one at a time (for scans).
    pub(crate) fn shards(&self) -> impl Iterator<Item = MutexGuard<'_, HashMap<K, V, SeededFx>>> {
        self.shards.iter().map(Mutex::lock)
    }
}
