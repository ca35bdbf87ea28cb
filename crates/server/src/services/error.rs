//! [`ServiceError`]: what a use case can fail with, in the domain's terms. The transports map it
//! to the wire once (`api::error`); nothing here knows a status code.

use rivvi_domain::validation::ValidationErrors;
use rivvi_execution::engine::EngineError;
use rivvi_execution::llm::LlmError;
use rivvi_ingestion::IngestError;
use rivvi_persistence::PersistenceError;

use super::uploads::UploadError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    // --- not found
    /// Missing, or in another organization (the two are not told apart, so ids do not leak).
    #[error("{entity} not found")]
    NotFound { entity: &'static str },

    // --- user errors
    /// Input fields that break a rule, each named by its camelCase path.
    #[error("invalid input: {0}")]
    Invalid(ValidationErrors),
    /// The request clashes with what is stored (a name taken, a request id reused).
    #[error("{0}")]
    Conflict(String),

    // --- errors of the areas the use cases call
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Llm(#[from] LlmError),
    #[error(transparent)]
    Upload(#[from] UploadError),
    #[error(transparent)]
    Persistence(#[from] PersistenceError),

    // --- internal
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ServiceError {
    /// One field at fault.
    pub fn invalid(field: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        let mut errors = ValidationErrors::new();
        errors.push(field, reason);
        ServiceError::Invalid(errors)
    }

    pub fn not_found(entity: &'static str) -> Self {
        ServiceError::NotFound { entity }
    }

    /// Stored data that no longer parses: a bug or corruption, never the caller's fault.
    pub fn corrupt(what: impl std::fmt::Display) -> Self {
        ServiceError::Internal(anyhow::anyhow!("stored {what} does not parse"))
    }
}

impl From<ValidationErrors> for ServiceError {
    fn from(errors: ValidationErrors) -> Self {
        ServiceError::Invalid(errors)
    }
}

impl From<sea_orm::DbErr> for ServiceError {
    fn from(err: sea_orm::DbErr) -> Self {
        ServiceError::Persistence(err.into())
    }
}

/// What every use case answers.
pub type ServiceResult<T> = Result<T, ServiceError>;

/// A unique-index violation as the conflict the user should read; anything else unchanged.
pub fn conflict_as(message: &'static str) -> impl FnOnce(PersistenceError) -> ServiceError {
    move |err| match err {
        PersistenceError::Conflict { .. } => ServiceError::Conflict(message.to_owned()),
        other => other.into(),
    }
}
