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
    /// A service database could not be opened or used.
    #[error("service database: {0}")]
    Db(#[from] crate::cloudmart::db::DbError),
    /// A service failed where the run cannot go on.
    #[error("service: {0}")]
    Service(#[from] crate::cloudmart::model::ServiceError),
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
