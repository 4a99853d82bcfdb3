//! The domain vocabulary every service shares: order requests, the saga data, service errors, styles.

use saga::StepError;
use serde::{Deserialize, Serialize};

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderLine {
    /// e.g. `book-123`.
    pub book_id: String,
    /// Copies ordered.
    pub quantity: u32,
    /// Price of one copy, in yen, as the catalogue said when the order was placed.
    pub unit_price: u64,
}

/// What a customer asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRequest {
    /// Chosen by the caller, so a retried request cannot create a second order.
    pub order_id: String,
    /// e.g. `customer-001`.
    pub customer_id: String,
    /// At least one line.
    pub lines: Vec<OrderLine>,
}

impl OrderRequest {
    /// The amount to charge.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.lines
            .iter()
            .map(|l| l.unit_price.saturating_mul(u64::from(l.quantity)))
            .sum()
    }
}

/// The data the orchestrated order saga carries from step to step (stored in the saga log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderSaga {
    /// The order being processed.
    pub request: OrderRequest,
    /// Set by `process_payment`.
    pub payment_id: Option<String>,
    /// Set by `arrange_shipping`.
    pub tracking_number: Option<String>,
}

/// Orchestration or choreography.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Style {
    /// The executor drives the saga through commands.
    Orchestration,
    /// Services react to each other's events.
    Choreography,
}

impl Style {
    /// `"orchestration"` or `"choreography"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Orchestration => "orchestration",
            Self::Choreography => "choreography",
        }
    }
}

/// Why a service said no or could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// A business refusal (out of stock, wallet too small): compensate, do not retry.
    #[error("refused: {0}")]
    Refused(String),
    /// An infrastructure failure (carrier down, bulkhead full, database unavailable): worth retrying.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl From<ServiceError> for StepError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Refused(m) => StepError::permanent(m),
            ServiceError::Unavailable(m) => StepError::transient(m),
        }
    }
}

impl From<crate::cloudmart::db::DbError> for ServiceError {
    /// A database failure is worth retrying: nothing was committed.
    fn from(e: crate::cloudmart::db::DbError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// Turns a stored answer into the service's result.
pub(crate) fn replay(answer: &Result<String, String>) -> Result<String, ServiceError> {
    answer.clone().map_err(ServiceError::Refused)
}
