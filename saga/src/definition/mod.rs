//! Saga definitions: a name, a version and ordered, typed steps.

mod builder;
mod mermaid;
mod retry;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use builder::{DefinitionBuilder, DefinitionError, StepSpec};
pub use retry::RetryPolicy;

use crate::step::{Compensation, SagaData, Step};

/// The three kinds of step of Garcia-Molina & Salem's sagas.
///
/// A definition is `compensatable* pivot? retriable*`; the builder rejects any other order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StepKind {
    /// Has a compensation; runs before the pivot.
    Compensatable,
    /// The point of no return: no compensation, and once it completes the saga only goes forward.
    /// A pivot that fails permanently compensates the steps before it; a pivot whose outcome is unknown
    /// (timeout, retries exhausted) parks the saga as `Stuck` for an operator, because it can be neither
    /// undone nor assumed done.
    Pivot,
    /// Runs after the pivot and is retried until it succeeds (its default policy retries forever);
    /// never compensated. If it fails permanently or a bounded policy runs out, the saga becomes `Stuck`.
    Retriable,
}

impl StepKind {
    /// `"compensatable"`, `"pivot"` or `"retriable"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Compensatable => "compensatable",
            Self::Pivot => "pivot",
            Self::Retriable => "retriable",
        }
    }
}

/// One step of a definition, as the executor sees it.
pub(crate) struct StepDef<D> {
    pub(crate) name: Arc<str>,
    pub(crate) kind: StepKind,
    pub(crate) action: Arc<dyn Step<D>>,
    pub(crate) compensation: Option<Arc<dyn Compensation<D>>>,
    pub(crate) retry: RetryPolicy,
    pub(crate) compensation_retry: RetryPolicy,
    pub(crate) timeout: Option<Duration>,
}

/// An immutable, validated saga definition. Build one with [`SagaDefinition::builder`].
///
/// ```
/// use saga::{compensation_fn, step_fn, SagaDefinition, StepContext, StepError};
///
/// let def = SagaDefinition::<u32>::builder("counter", 1)
///     .compensatable(
///         "add",
///         step_fn(|_: StepContext, n: u32| async move { Ok::<_, StepError>(n + 1) }),
///         compensation_fn(|_: StepContext, _n: u32| async move { Ok::<_, StepError>(()) }),
///     )
///     .build()
///     .expect("a valid definition");
/// assert_eq!(def.steps().count(), 1);
/// ```
pub struct SagaDefinition<D> {
    pub(crate) name: Arc<str>,
    pub(crate) version: u32,
    pub(crate) steps: Vec<StepDef<D>>,
    pub(crate) deadline: Option<Duration>,
    /// Index of the first step after which the saga cannot be compensated (the pivot, or the first
    /// retriable step when there is no pivot); `steps.len()` when every step is compensatable.
    pub(crate) commit_point: usize,
}

impl<D: SagaData> SagaDefinition<D> {
    /// Starts a definition named `name` at `version`. A saga recorded under one version is only ever
    /// recovered by an executor with the same name and version.
    pub fn builder(name: impl Into<String>, version: u32) -> DefinitionBuilder<D> {
        DefinitionBuilder::new(name.into(), version)
    }
}

impl<D> SagaDefinition<D> {
    /// The definition's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The definition's version.
    #[must_use]
    pub const fn version(&self) -> u32 {
        self.version
    }

    /// The saga deadline, measured from the start of each saga.
    #[must_use]
    pub const fn deadline(&self) -> Option<Duration> {
        self.deadline
    }

    /// The steps in order: `(name, kind)`.
    pub fn steps(&self) -> impl ExactSizeIterator<Item = (&str, StepKind)> + '_ {
        self.steps.iter().map(|s| (&*s.name, s.kind))
    }

    /// The name of step `index`, if it exists.
    #[must_use]
    pub fn step_name(&self, index: u32) -> Option<&str> {
        self.steps.get(index as usize).map(|s| &*s.name)
    }

    /// Renders the definition as a Mermaid state diagram: the forward path, the compensation path and
    /// the terminal states.
    #[must_use]
    pub fn to_mermaid(&self) -> String {
        mermaid::render(self)
    }
}

impl<D> fmt::Debug for SagaDefinition<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SagaDefinition")
            .field("name", &self.name)
            .field("version", &self.version)
            .field(
                "steps",
                &self
                    .steps
                    .iter()
                    .map(|s| (&*s.name, s.kind))
                    .collect::<Vec<_>>(),
            )
            .field("deadline", &self.deadline)
            .finish()
    }
}
