//! The definition builder and its validation.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::{RetryPolicy, SagaDefinition, StepDef, StepKind};
use crate::step::{Compensation, SagaData, Step};

/// Why a definition was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DefinitionError {
    /// A definition needs at least one step.
    #[error("saga definition {name:?} has no steps")]
    NoSteps {
        /// The definition's name.
        name: String,
    },
    /// Names are used in the log, in status output and in diagrams, so they must be unique.
    #[error("saga definition {name:?} has two steps named {step:?}")]
    DuplicateStep {
        /// The definition's name.
        name: String,
        /// The repeated step name.
        step: String,
    },
    /// The order must be `compensatable* pivot? retriable*`.
    #[error("step {step:?} is {kind} but comes after a {after} step; order must be compensatable*, pivot?, retriable*")]
    OutOfOrder {
        /// The offending step.
        step: String,
        /// Its kind.
        kind: &'static str,
        /// The kind of the step it follows.
        after: &'static str,
    },
    /// Empty names, or names longer than 128 bytes, are refused.
    #[error("invalid name {name:?}: must be 1..=128 bytes")]
    InvalidName {
        /// The refused name.
        name: String,
    },
}

/// One step being added to a definition; made by [`StepSpec::compensatable`], [`StepSpec::pivot`] or
/// [`StepSpec::retriable`] and tuned with the `with_*` methods.
#[must_use]
pub struct StepSpec<D> {
    def: StepDef<D>,
}

impl<D: SagaData> StepSpec<D> {
    /// A step that can be undone by `compensation`.
    pub fn compensatable(
        name: impl Into<String>,
        action: impl Step<D>,
        compensation: impl Compensation<D>,
    ) -> Self {
        Self::new(
            name,
            StepKind::Compensatable,
            Arc::new(action),
            Some(Arc::new(compensation)),
        )
    }

    /// The point of no return (no compensation).
    pub fn pivot(name: impl Into<String>, action: impl Step<D>) -> Self {
        Self::new(name, StepKind::Pivot, Arc::new(action), None)
    }

    /// A step after the pivot, retried until it succeeds ([`RetryPolicy::forever`] by default).
    pub fn retriable(name: impl Into<String>, action: impl Step<D>) -> Self {
        let mut spec = Self::new(name, StepKind::Retriable, Arc::new(action), None);
        spec.def.retry = RetryPolicy::forever();
        spec
    }

    fn new(
        name: impl Into<String>,
        kind: StepKind,
        action: Arc<dyn Step<D>>,
        compensation: Option<Arc<dyn Compensation<D>>>,
    ) -> Self {
        Self {
            def: StepDef {
                name: Arc::from(name.into()),
                kind,
                action,
                compensation,
                retry: RetryPolicy::default(),
                compensation_retry: RetryPolicy::default().with_max_attempts(5),
                timeout: None,
            },
        }
    }

    /// Retry policy of the action (default: [`RetryPolicy::default`], 3 attempts).
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.def.retry = policy;
        self
    }

    /// Retry policy of the compensation (default: 5 attempts). When it runs out the saga is `Stuck`.
    pub fn with_compensation_retry(mut self, policy: RetryPolicy) -> Self {
        self.def.compensation_retry = policy;
        self
    }

    /// Time limit of each attempt of the action and of the compensation. An action that times out has an
    /// unknown outcome: it is retried within its budget, then compensated.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.def.timeout = Some(timeout);
        self
    }
}

/// Builds a [`SagaDefinition`]; see [`SagaDefinition::builder`].
#[must_use]
pub struct DefinitionBuilder<D> {
    name: String,
    version: u32,
    steps: Vec<StepDef<D>>,
    deadline: Option<Duration>,
}

impl<D: SagaData> DefinitionBuilder<D> {
    pub(super) fn new(name: String, version: u32) -> Self {
        Self {
            name,
            version,
            steps: Vec::new(),
            deadline: None,
        }
    }

    /// Appends a step.
    pub fn step(mut self, spec: StepSpec<D>) -> Self {
        self.steps.push(spec.def);
        self
    }

    /// Appends a compensatable step with default policies.
    pub fn compensatable(
        self,
        name: impl Into<String>,
        action: impl Step<D>,
        compensation: impl Compensation<D>,
    ) -> Self {
        self.step(StepSpec::compensatable(name, action, compensation))
    }

    /// Appends the pivot step with default policies.
    pub fn pivot(self, name: impl Into<String>, action: impl Step<D>) -> Self {
        self.step(StepSpec::pivot(name, action))
    }

    /// Appends a retriable step with default policies.
    pub fn retriable(self, name: impl Into<String>, action: impl Step<D>) -> Self {
        self.step(StepSpec::retriable(name, action))
    }

    /// A deadline for every saga of this definition, from its start. Passing it before the pivot
    /// compensates; after the pivot the saga keeps going forward.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Validates and freezes the definition.
    ///
    /// # Errors
    /// [`DefinitionError`] if there are no steps, names are empty/duplicated/too long, or the step kinds
    /// are out of order.
    pub fn build(self) -> Result<SagaDefinition<D>, DefinitionError> {
        check_name(&self.name)?;
        if self.steps.is_empty() {
            return Err(DefinitionError::NoSteps { name: self.name });
        }
        let mut seen = HashSet::new();
        let mut previous = StepKind::Compensatable;
        for step in &self.steps {
            check_name(&step.name)?;
            if !seen.insert(&*step.name) {
                return Err(DefinitionError::DuplicateStep {
                    name: self.name.clone(),
                    step: step.name.to_string(),
                });
            }
            let rank = |k: StepKind| match k {
                StepKind::Compensatable => 0,
                StepKind::Pivot => 1,
                StepKind::Retriable => 2,
            };
            let out_of_order = rank(step.kind) < rank(previous)
                || (step.kind == StepKind::Pivot && previous == StepKind::Pivot);
            if out_of_order {
                return Err(DefinitionError::OutOfOrder {
                    step: step.name.to_string(),
                    kind: step.kind.as_str(),
                    after: previous.as_str(),
                });
            }
            previous = step.kind;
        }
        let commit_point = self
            .steps
            .iter()
            .position(|s| s.kind != StepKind::Compensatable)
            .unwrap_or(self.steps.len());
        Ok(SagaDefinition {
            name: Arc::from(self.name),
            version: self.version,
            steps: self.steps,
            deadline: self.deadline,
            commit_point,
        })
    }
}

fn check_name(name: &str) -> Result<(), DefinitionError> {
    if name.is_empty() || name.len() > 128 {
        return Err(DefinitionError::InvalidName {
            name: name.chars().take(140).collect(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step::{compensation_fn, step_fn, StepContext, StepError};

    fn noop() -> impl Step<()> {
        step_fn(|_: StepContext, d: ()| async move { Ok::<_, StepError>(d) })
    }
    fn undo() -> impl Compensation<()> {
        compensation_fn(|_: StepContext, _d: ()| async move { Ok::<_, StepError>(()) })
    }

    #[test]
    fn accepts_compensatable_pivot_retriable() {
        let def = SagaDefinition::<()>::builder("ok", 1)
            .compensatable("a", noop(), undo())
            .pivot("b", noop())
            .retriable("c", noop())
            .build()
            .expect("valid");
        assert_eq!(def.commit_point, 1);
        assert_eq!(def.steps().count(), 3);
    }

    #[test]
    fn rejects_out_of_order_kinds() {
        let err = SagaDefinition::<()>::builder("bad", 1)
            .pivot("p", noop())
            .compensatable("a", noop(), undo())
            .build()
            .expect_err("compensatable after pivot");
        assert!(matches!(err, DefinitionError::OutOfOrder { ref step, .. } if step == "a"));

        let err = SagaDefinition::<()>::builder("bad", 1)
            .pivot("p", noop())
            .pivot("q", noop())
            .build()
            .expect_err("two pivots");
        assert!(matches!(err, DefinitionError::OutOfOrder { ref step, .. } if step == "q"));

        let err = SagaDefinition::<()>::builder("bad", 1)
            .retriable("r", noop())
            .pivot("p", noop())
            .build()
            .expect_err("pivot after retriable");
        assert!(matches!(err, DefinitionError::OutOfOrder { .. }));
    }

    #[test]
    fn rejects_empty_and_duplicates() {
        assert!(matches!(
            SagaDefinition::<()>::builder("none", 1).build(),
            Err(DefinitionError::NoSteps { .. })
        ));
        assert!(matches!(
            SagaDefinition::<()>::builder("dup", 1)
                .compensatable("a", noop(), undo())
                .compensatable("a", noop(), undo())
                .build(),
            Err(DefinitionError::DuplicateStep { .. })
        ));
        assert!(matches!(
            SagaDefinition::<()>::builder("", 1)
                .pivot("a", noop())
                .build(),
            Err(DefinitionError::InvalidName { .. })
        ));
    }
}
