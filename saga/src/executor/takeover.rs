//! Taking a saga over from the log: loading it, claiming it, and rebuilding its driver.

use std::sync::Arc;

use tokio::time::Instant;

use super::driver::Driver;
use super::registry::RegistryGuard;
use super::replay::{replay, Phase};
use super::Executor;
use crate::error::{Error, Result};
use crate::id::SagaId;
use crate::log::{now_ms, ClaimRequest, ClaimTarget, Claimed, LogError, SagaSnapshot};
use crate::step::SagaData;

impl<D: SagaData> Executor<D> {
    /// The saga's snapshot, or [`Error::UnknownSaga`].
    pub(super) async fn load(&self, id: SagaId) -> Result<SagaSnapshot> {
        self.inner
            .log
            .load(id)
            .await?
            .ok_or(Error::UnknownSaga { saga_id: id })
    }

    /// Claims the one saga of `snapshot` for this executor.
    pub(super) async fn claim_one(&self, snapshot: &SagaSnapshot) -> Result<Claimed> {
        let inner = &*self.inner;
        let inst = &snapshot.instance;
        self.check_definition(inst.id, &inst.definition, inst.definition_version)?;
        let claim = ClaimRequest::new(
            &*inner.def.name,
            inner.def.version,
            &*inner.config.owner_id,
            inner.config.lease_ttl,
            ClaimTarget::One(inst.id),
        );
        let mut batch = inner.log.claim(claim).await?;
        if let Some(corrupt) = batch.corrupt.pop() {
            return Err(LogError::Corrupt {
                saga_id: corrupt.id,
                message: corrupt.reason,
            }
            .into());
        }
        batch.claimed.pop().ok_or_else(|| Error::OwnedElsewhere {
            saga_id: inst.id,
            owner: inst.owner.clone().unwrap_or_default(),
        })
    }

    pub(super) fn check_definition(&self, id: SagaId, name: &str, version: u32) -> Result<()> {
        let def = &self.inner.def;
        if name == &*def.name && version == def.version {
            Ok(())
        } else {
            Err(Error::WrongDefinition {
                saga_id: id,
                found: name.to_owned(),
                found_version: version,
                expected: def.name.to_string(),
                expected_version: def.version,
            })
        }
    }

    /// A driver for a claimed saga, holding `guard`'s slot; sets the control block from the replayed
    /// phase, so a `cancel` that arrives from now on gets the right answer.
    pub(super) fn resume(&self, claimed: Claimed, guard: RegistryGuard) -> Result<Driver<D>> {
        let inner = &*self.inner;
        let inst = &claimed.snapshot.instance;
        self.check_definition(inst.id, &inst.definition, inst.definition_version)?;
        let r = replay(
            inst.id,
            &claimed.snapshot.records,
            inner.def.steps.len(),
            inner.def.commit_point,
        )?;
        let data = inner.decode(inst.id, &r.data)?;
        let deadline = inst.deadline_at_ms.map(|at| {
            let left = at.saturating_sub(now_ms());
            Instant::now() + std::time::Duration::from_millis(left)
        });
        let in_doubt = matches!(r.phase, Phase::Forward { .. });
        guard
            .control
            .start(r.phase, in_doubt, inner.def.commit_point);
        Ok(Driver {
            inner: Arc::clone(&self.inner),
            guard,
            id: inst.id,
            data,
            version: inst.version.max(r.version),
            lease: claimed.lease,
            phase: r.phase,
            deadline,
            in_doubt,
            failure: r.cause,
        })
    }
}
