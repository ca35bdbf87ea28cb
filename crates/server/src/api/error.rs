//! The one place errors become wire errors.
//!
//! Codes follow tRPC: 400 BAD_REQUEST (with the fields at fault), 401 UNAUTHORIZED, 403 FORBIDDEN,
//! 404 NOT_FOUND (also for anything in another organization, so ids do not leak), 409 CONFLICT,
//! 500 INTERNAL_SERVER_ERROR (logged here once, with its chain; the client gets a generic message).

use rspc::ErrorCode;
use serde::Serialize;
use specta::Type;

use crate::auth::AuthError;

/// One field that failed validation. `field` is the camelCase path of the input field.
#[derive(Debug, Clone, Serialize, Type, PartialEq, Eq)]
pub struct FieldIssue {
    pub field: String,
    pub reason: String,
}

/// The JSON carried in the `message` of a 400 caused by validation, so the frontend can point at
/// each field.
#[derive(Debug, Clone, Serialize, Type)]
pub struct ValidationFailure {
    pub message: String,
    pub issues: Vec<FieldIssue>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    // --- caller
    #[error("authentication required")]
    Unauthenticated,
    #[error("{0}")]
    InvalidCredentials(AuthError),
    #[error("no active organization: select an organization first")]
    NoActiveOrganization,
    #[error("requires the {0} role")]
    Forbidden(&'static str),

    // --- not found
    #[error("{entity} not found")]
    NotFound { entity: &'static str },

    // --- user errors
    #[error("invalid input")]
    Validation(Vec<FieldIssue>),
    #[error("{0}")]
    Conflict(String),

    // --- internal
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldIssue { field: field.into(), reason: reason.into() }])
    }

    pub fn not_found(entity: &'static str) -> Self {
        ApiError::NotFound { entity }
    }
}

impl From<ApiError> for rspc::Error {
    fn from(err: ApiError) -> Self {
        let code = match &err {
            ApiError::Unauthenticated | ApiError::InvalidCredentials(_) => ErrorCode::Unauthorized,
            ApiError::NoActiveOrganization | ApiError::Forbidden(_) => ErrorCode::Forbidden,
            ApiError::NotFound { .. } => ErrorCode::NotFound,
            ApiError::Validation(_) => ErrorCode::BadRequest,
            ApiError::Conflict(_) => ErrorCode::Conflict,
            ApiError::Internal(_) => ErrorCode::InternalServerError,
        };
        let message = match err {
            ApiError::Validation(issues) => validation_message(issues),
            ApiError::Internal(inner) => {
                tracing::error!(error = ?inner, "internal error in procedure");
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        rspc::Error::new(code, message)
    }
}

fn validation_message(issues: Vec<FieldIssue>) -> String {
    let summary = issues.iter().map(|i| format!("{}: {}", i.field, i.reason)).collect::<Vec<_>>().join("; ");
    let failure = ValidationFailure { message: format!("invalid input: {summary}"), issues };
    serde_json::to_string(&failure).unwrap_or(failure.message)
}

/// Shorthand for procedure results.
pub type ApiResult<T> = Result<T, ApiError>;

impl From<rivvi_persistence::PersistenceError> for ApiError {
    fn from(err: rivvi_persistence::PersistenceError) -> Self {
        use rivvi_persistence::PersistenceError as P;
        match err {
            P::NotFound { entity, .. } => ApiError::NotFound { entity },
            P::Conflict { constraint } => {
                ApiError::Conflict(format!("already exists <constraint={constraint}>"))
            }
            P::Invalid { field, reason } => ApiError::invalid(field, reason),
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        rivvi_persistence::PersistenceError::from(err).into()
    }
}

impl From<rivvi_domain::validation::ValidationErrors> for ApiError {
    fn from(errors: rivvi_domain::validation::ValidationErrors) -> Self {
        ApiError::Validation(
            errors.into_vec().into_iter().map(|e| FieldIssue { field: e.field, reason: e.reason }).collect(),
        )
    }
}
