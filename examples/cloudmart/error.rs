//! The example's error type.

/// Why CloudMart could not run.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A bad flag or URL: exit code 2.
    #[error("{0}")]
    Usage(String),
    /// The saga library failed.
    #[error("saga: {0}")]
    Saga(#[from] saga::Error),
    /// The transport failed.
    #[error("transport: {0}")]
    Transport(#[from] saga::TransportError),
    /// The saga definition was rejected.
    #[error("definition: {0}")]
    Definition(#[from] saga::DefinitionError),
    /// The service state could not be stored or loaded.
    #[error("state: {0}")]
    Store(#[from] crate::cloudmart::store::StoreError),
    /// The saga log could not be opened.
    #[error("saga log: {0}")]
    Log(String),
    /// The HTTP server failed.
    #[error("http: {0}")]
    Http(#[from] std::io::Error),
}

impl AppError {
    /// The process exit code for this error.
    #[must_use]
    pub const fn exit_code(&self) -> i32 {
        match self {
            Self::Usage(_) => 2,
            _ => 1,
        }
    }
}
