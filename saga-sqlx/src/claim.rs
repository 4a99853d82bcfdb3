//! What the claims of the three logs share: the [`ClaimTarget`]s this crate implements ([`target`]).

use saga::log::ClaimTarget;
use saga::{LogError, SagaId};

/// A [`ClaimTarget`] this crate implements, with its limit ready to bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// [`ClaimTarget::Recoverable`]: up to `limit` sagas with an id greater than `after`.
    Page {
        /// The limit, saturated to what SQL binds.
        limit: i64,
        /// Keyset cursor.
        after: Option<SagaId>,
    },
    /// [`ClaimTarget::One`].
    One(SagaId),
}

/// Maps a [`ClaimTarget`] to the [`Target`] the logs implement, or to [`LogError::Unsupported`].
///
/// `ClaimTarget` is `#[non_exhaustive]`: a target the core adds later reaches the `_` arm here, and must
/// fail loudly rather than claim nothing. That arm cannot be reached by a test (no such variant can be
/// built), so it lives in this one function, which the PostgreSQL, MySQL and SQLite logs all call.
pub(crate) fn target(backend: &'static str, target: ClaimTarget) -> Result<Target, LogError> {
    match target {
        ClaimTarget::Recoverable { limit, after } => Ok(Target::Page {
            limit: i64::try_from(limit).unwrap_or(i64::MAX),
            after,
        }),
        ClaimTarget::One(id) => Ok(Target::One(id)),
        other => Err(LogError::Unsupported {
            backend,
            operation: format!("claim target {other:?}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_targets_map() {
        let id = SagaId::new();
        assert_eq!(
            target("sqlite", ClaimTarget::One(id)).ok(),
            Some(Target::One(id))
        );
        assert_eq!(
            target(
                "sqlite",
                ClaimTarget::Recoverable {
                    limit: usize::MAX,
                    after: Some(id)
                }
            )
            .ok(),
            Some(Target::Page {
                limit: i64::MAX,
                after: Some(id)
            })
        );
    }
}
