//! The arguments of the [`SagaLog`](super::SagaLog) calls.

use std::time::Duration;

use bytes::Bytes;

use super::event::LogEvent;
use super::rows::Lease;
use super::state::SagaState;
use crate::id::SagaId;

/// Arguments of [`SagaLog::create`](super::SagaLog::create).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewSaga {
    /// The new saga's id; creating an id that exists is a `Conflict`.
    pub id: SagaId,
    /// Definition name.
    pub definition: String,
    /// Definition version.
    pub definition_version: u32,
    /// Saga deadline, milliseconds since the Unix epoch.
    pub deadline_at_ms: Option<u64>,
    /// Encoded initial data, stored as the `Started` record.
    pub data: Bytes,
    /// The creating executor, which takes the lease.
    pub owner: String,
    /// How long the lease lasts without an append.
    pub lease_ttl: Duration,
}

impl NewSaga {
    /// Builds the arguments.
    #[must_use]
    pub fn new(
        id: SagaId,
        definition: impl Into<String>,
        definition_version: u32,
        data: Bytes,
        owner: impl Into<String>,
        lease_ttl: Duration,
    ) -> Self {
        Self {
            id,
            definition: definition.into(),
            definition_version,
            deadline_at_ms: None,
            data,
            owner: owner.into(),
            lease_ttl,
        }
    }

    /// Sets the deadline.
    #[must_use]
    pub fn with_deadline_at_ms(mut self, deadline_at_ms: Option<u64>) -> Self {
        self.deadline_at_ms = deadline_at_ms;
        self
    }
}

/// Arguments of [`SagaLog::append`](super::SagaLog::append).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Append<'a> {
    /// The saga.
    pub id: SagaId,
    /// The version the writer last saw; any other current version is a `Conflict`.
    pub expected_version: u64,
    /// The writer's lease; a newer claim is a `Conflict`.
    pub lease: Lease,
    /// The saga's state after these events.
    pub state: SagaState,
    /// One or more events, stored atomically in order.
    pub events: &'a [LogEvent],
    /// Extends the lease by this much (ignored when `state` is terminal or stuck: the lease is released).
    pub lease_ttl: Duration,
}

impl<'a> Append<'a> {
    /// Builds the arguments.
    #[must_use]
    pub fn new(
        id: SagaId,
        expected_version: u64,
        lease: Lease,
        state: SagaState,
        events: &'a [LogEvent],
        lease_ttl: Duration,
    ) -> Self {
        Self {
            id,
            expected_version,
            lease,
            state,
            events,
            lease_ttl,
        }
    }
}

/// Which sagas a [`SagaLog::claim`](super::SagaLog::claim) takes over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimTarget {
    /// Up to `limit` running or compensating sagas of the definition whose lease expired or is held by
    /// the claimant itself (a restarted executor with a stable owner id), with an id greater than `after`,
    /// in ascending id order. Stuck sagas are not included.
    ///
    /// Callers page through with `after` = the last id of the previous batch: because the claimant's own
    /// sagas stay claimable to it, paging (not repetition) is what ends a recovery pass.
    Recoverable {
        /// Maximum number of sagas to claim.
        limit: usize,
        /// Only ids strictly greater than this (keyset paging); `None` starts at the beginning.
        after: Option<SagaId>,
    },
    /// One saga, in any non-terminal state including stuck, if its lease expired, is released, or is the
    /// claimant's.
    One(SagaId),
}

/// Arguments of [`SagaLog::claim`](super::SagaLog::claim).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClaimRequest {
    /// Only sagas of this definition name...
    pub definition: String,
    /// ...and version.
    pub definition_version: u32,
    /// The claiming executor.
    pub owner: String,
    /// Lease length.
    pub lease_ttl: Duration,
    /// What to claim.
    pub target: ClaimTarget,
}

impl ClaimRequest {
    /// Builds the arguments.
    #[must_use]
    pub fn new(
        definition: impl Into<String>,
        definition_version: u32,
        owner: impl Into<String>,
        lease_ttl: Duration,
        target: ClaimTarget,
    ) -> Self {
        Self {
            definition: definition.into(),
            definition_version,
            owner: owner.into(),
            lease_ttl,
            target,
        }
    }
}

/// Arguments of [`SagaLog::list`](super::SagaLog::list).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ListQuery {
    /// Only this definition, if set.
    pub definition: Option<String>,
    /// Only these states (all states if empty).
    pub states: Vec<SagaState>,
    /// At most this many, oldest first.
    pub limit: usize,
}

impl ListQuery {
    /// Sagas in any of `states`, at most `limit`.
    #[must_use]
    pub fn in_states(states: impl IntoIterator<Item = SagaState>, limit: usize) -> Self {
        Self {
            definition: None,
            states: states.into_iter().collect(),
            limit,
        }
    }

    /// Restricts to one definition.
    #[must_use]
    pub fn for_definition(mut self, definition: impl Into<String>) -> Self {
        self.definition = Some(definition.into());
        self
    }
}
