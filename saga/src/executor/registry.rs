//! The sagas an executor is driving right now, and the control block `cancel` talks to.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

use crate::id::SagaId;
use crate::sharded::ShardedMap;

const RUNNING: u8 = 0;
const CANCEL_REQUESTED: u8 = 1;
const COMMITTED: u8 = 2;

/// Shared between a saga's driver and `cancel`: who wins the race between "cancel" and "start the pivot"
/// is decided by one compare-and-swap.
#[derive(Debug, Default)]
pub(crate) struct Control {
    state: AtomicU8,
    wake: Notify,
}

impl Control {
    /// Asks for cancellation; `false` if the saga already committed to going forward.
    pub(crate) fn request_cancel(&self) -> bool {
        let ok = match self.state.compare_exchange(
            RUNNING,
            CANCEL_REQUESTED,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => true,
            Err(current) => current == CANCEL_REQUESTED,
        };
        if ok {
            self.wake.notify_one();
        }
        ok
    }

    /// Marks the point of no return; `false` if a cancel got there first.
    pub(crate) fn commit(&self) -> bool {
        match self
            .state
            .compare_exchange(RUNNING, COMMITTED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(current) => current == COMMITTED,
        }
    }

    pub(crate) fn cancel_requested(&self) -> bool {
        self.state.load(Ordering::Acquire) == CANCEL_REQUESTED
    }

    /// Resolves when cancel is requested (used to cut a backoff short).
    pub(crate) async fn cancelled(&self) {
        loop {
            let notified = self.wake.notified();
            if self.cancel_requested() {
                return;
            }
            notified.await;
        }
    }
}

const SHARDS: usize = 32;

/// Sharded map of running sagas.
pub(crate) struct Registry {
    map: ShardedMap<SagaId, Arc<Control>>,
}

impl Registry {
    pub(crate) fn new() -> Self {
        Self {
            map: ShardedMap::new(SHARDS),
        }
    }

    /// Registers a driver; the guard removes it when dropped (also on panic or cancellation).
    pub(crate) fn enter(self: &Arc<Self>, id: SagaId) -> RegistryGuard {
        let control = Arc::new(Control::default());
        self.map.lock(&id).insert(id, Arc::clone(&control));
        RegistryGuard {
            registry: Arc::clone(self),
            id,
            control,
        }
    }

    pub(crate) fn get(&self, id: &SagaId) -> Option<Arc<Control>> {
        self.map.lock(id).get(id).cloned()
    }

    pub(crate) fn contains(&self, id: &SagaId) -> bool {
        self.map.lock(id).contains_key(id)
    }
}

pub(crate) struct RegistryGuard {
    registry: Arc<Registry>,
    id: SagaId,
    pub(crate) control: Arc<Control>,
}

impl Drop for RegistryGuard {
    fn drop(&mut self) {
        let mut shard = self.registry.map.lock(&self.id);
        if shard
            .get(&self.id)
            .is_some_and(|c| Arc::ptr_eq(c, &self.control))
        {
            shard.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_and_commit_race_has_one_winner() {
        let c = Control::default();
        assert!(c.request_cancel());
        assert!(!c.commit());
        let c = Control::default();
        assert!(c.commit());
        assert!(!c.request_cancel());
        assert!(c.commit());
    }

    #[test]
    fn guard_deregisters() {
        let r = Arc::new(Registry::new());
        let id = SagaId::new();
        {
            let _g = r.enter(id);
            assert!(r.contains(&id));
        }
        assert!(!r.contains(&id));
    }
}
