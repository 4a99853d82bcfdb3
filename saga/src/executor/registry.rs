//! The sagas an executor is driving right now, and the control block `cancel` talks to.
//!
//! One saga has at most one driver per executor, ever: every path that drives a saga (`start`, `run`,
//! `recover`, `cancel`, `retry`, `resolve`) first reserves the saga's slot with [`Registry::try_enter`],
//! *before* it claims the saga in the log. A claim by the executor's own owner id hands back the same
//! lease, so the log alone cannot keep two local drivers apart; the registry does.

use std::sync::Arc;

pub(crate) use super::control::Control;
use crate::id::SagaId;
use crate::sharded::ShardedMap;

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

    /// The control block of the saga's current driver, if it has one here.
    pub(crate) fn get(&self, id: SagaId) -> Option<Arc<Control>> {
        self.map.lock(&id).get(&id).map(Arc::clone)
    }

    /// Reserves the saga for one driver; the guard gives the slot up when dropped (also on panic or
    /// cancellation). `Err` with the current holder's control block if the saga has a driver already.
    pub(crate) fn try_enter(self: &Arc<Self>, id: SagaId) -> Result<RegistryGuard, Arc<Control>> {
        let mut shard = self.map.lock(&id);
        if let Some(control) = shard.get(&id) {
            return Err(Arc::clone(control));
        }
        let control = Arc::new(Control::default());
        shard.insert(id, Arc::clone(&control));
        drop(shard);
        Ok(RegistryGuard {
            registry: Arc::clone(self),
            id,
            control,
        })
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
        // Under the shard lock: whoever finds this control in the map sees it released.
        self.control.release();
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
    use crate::executor::control::CancelAnswer;

    #[tokio::test]
    async fn one_slot_per_saga_and_the_guard_releases_it() {
        let r = Arc::new(Registry::new());
        let id = SagaId::new();
        let Ok(guard) = r.try_enter(id) else {
            panic!("the slot is free")
        };
        let Err(held) = r.try_enter(id) else {
            panic!("the slot is taken")
        };
        drop(guard);
        assert_eq!(held.request_cancel().await, CancelAnswer::Released);
        assert!(r.try_enter(id).is_ok(), "free again");
    }
}
