//! The seed's HTTP API (placeholder).
use crate::cloudmart::error::AppError;
use crate::cloudmart::scenarios::Env;

/// Serves the API.
///
/// # Errors
/// Binding failed.
pub async fn serve(_addr: &str, _env: Env) -> Result<(), AppError> {
    Err(AppError::Usage("not yet".into()))
}
