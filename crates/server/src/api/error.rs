//! The one place errors become wire errors.
//!
//! Codes follow tRPC: 400 BAD_REQUEST (with the fields at fault), 401 UNAUTHORIZED, 403 FORBIDDEN,
//! 404 NOT_FOUND (also for anything in another organization, so ids do not leak), 409 CONFLICT
//! (also an upload whose stored file fails its integrity check: uploading it again repairs it),
//! 413 PAYLOAD_TOO_LARGE (uploads), 500 INTERNAL_SERVER_ERROR (logged here once, with its chain;
//! the client gets a generic message).
//!
//! Every area's error reaches the wire through here: [`AccessError`] (auth), [`ServiceError`]
//! (use cases) and the errors of the crates they call ([`EngineError`], [`IngestError`],
//! [`UploadError`], [`PersistenceError`]), and a webhook's [`SignatureError`]. rspc procedures
//! answer `rspc::Error`; plain HTTP routes (`POST /uploads`, the webhooks) answer the same status
//! with `{"error": message}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rivvi_domain::validation::ValidationErrors;
use rivvi_execution::engine::EngineError;
use rivvi_execution::llm::LlmError;
use rivvi_ingestion::IngestError;
use rivvi_persistence::PersistenceError;
use rspc::ErrorCode;
use serde::Serialize;
use specta::Type;

use crate::auth::svix::SignatureError;
use crate::auth::AccessError;
use crate::services::uploads::UploadError;
use crate::services::ServiceError;

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
    /// No token, a refused token, no active organization, or too low a role.
    #[error(transparent)]
    Access(#[from] AccessError),

    // --- not found
    #[error("{entity} not found")]
    NotFound { entity: &'static str },

    // --- user errors
    #[error("invalid input")]
    Validation(Vec<FieldIssue>),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    /// A webhook body that is not what the route takes (not JSON, another event).
    #[error("{0}")]
    MalformedBody(String),
    /// A webhook whose signature did not verify (the reason never quotes the body).
    #[error("{0}")]
    Unverified(String),
    /// A route whose configuration is missing (a webhook without its signing secret).
    #[error("{0}")]
    Unavailable(&'static str),
    /// The voice provider failed a request this one depends on (publishing an agent version):
    /// nothing was written, and trying again later may succeed.
    #[error(
        "the voice provider could not be reached or refused the request; nothing was saved, try again: {0}"
    )]
    ProviderFailed(String),

    // --- internal
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldIssue { field: field.into(), reason: reason.into() }])
    }
}

impl From<ApiError> for rspc::Error {
    fn from(err: ApiError) -> Self {
        // One status table (`ApiError::status`) serves both forms.
        let code = match &err {
            // rspc has no 503: 408 is its retryable code, and nothing was written.
            ApiError::ProviderFailed(_) => ErrorCode::Timeout,
            _ => ErrorCode::from_status_code(err.status().as_u16()).unwrap_or(ErrorCode::InternalServerError),
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
    let failure = ValidationFailure { message: validation_summary(&issues), issues };
    serde_json::to_string(&failure).unwrap_or(failure.message)
}

/// `invalid input: field: reason; field: reason`.
fn validation_summary(issues: &[FieldIssue]) -> String {
    let summary = issues.iter().map(|i| format!("{}: {}", i.field, i.reason)).collect::<Vec<_>>().join("; ");
    format!("invalid input: {summary}")
}

/// Shorthand for procedure results.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// The HTTP status of this error on a plain HTTP route.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Access(AccessError::Unauthenticated | AccessError::InvalidCredentials(_)) => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Access(AccessError::NoActiveOrganization | AccessError::Forbidden(_)) => {
                StatusCode::FORBIDDEN
            }
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Validation(_) | ApiError::MalformedBody(_) => StatusCode::BAD_REQUEST,
            ApiError::Unverified(_) => StatusCode::UNAUTHORIZED,
            ApiError::Unavailable(_) | ApiError::ProviderFailed(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// `{"error": message}` with the status of [`ApiError::status`], for plain HTTP routes.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match self {
            ApiError::Validation(issues) => validation_summary(&issues),
            ApiError::Internal(inner) => {
                tracing::error!(error = ?inner, "internal error in HTTP route");
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        let mut response = (status, axum::Json(serde_json::json!({ "error": message }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::NotFound { entity } => ApiError::NotFound { entity },
            ServiceError::Invalid(errors) => errors.into(),
            ServiceError::Conflict(message) => ApiError::Conflict(message),
            ServiceError::Ingest(err) => err.into(),
            ServiceError::Engine(err) => err.into(),
            ServiceError::Llm(err) => err.into(),
            ServiceError::Upload(err) => err.into(),
            ServiceError::Persistence(err) => err.into(),
            ServiceError::Internal(err) => ApiError::Internal(err),
        }
    }
}

impl From<PersistenceError> for ApiError {
    fn from(err: PersistenceError) -> Self {
        match err {
            PersistenceError::NotFound { entity, .. } => ApiError::NotFound { entity },
            PersistenceError::Conflict { constraint } => {
                ApiError::Conflict(format!("already exists <constraint={constraint}>"))
            }
            PersistenceError::Invalid { field, reason } => ApiError::invalid(field, reason),
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        PersistenceError::from(err).into()
    }
}

/// A language model that did not give a usable answer: retryable, except a misconfigured
/// endpoint (a bad key or model), which is ours to fix.
impl From<LlmError> for ApiError {
    fn from(err: LlmError) -> Self {
        match err {
            LlmError::Rejected { .. } | LlmError::InvalidConfig(_) => ApiError::Internal(err.into()),
            other => ApiError::ProviderFailed(other.to_string()),
        }
    }
}

/// A run's state machine refusing a change is a conflict with the run's current state.
impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        match err {
            EngineError::Transition(t) => ApiError::Conflict(t.to_string()),
            EngineError::Concurrent(_) => {
                ApiError::Conflict("the run changed at the same time; retry".into())
            }
            EngineError::Invalid { field, reason } => ApiError::invalid(field, reason),
            EngineError::Persistence(p) => p.into(),
            EngineError::Provider(p) => ApiError::ProviderFailed(format!("the voice provider failed: {p}")),
            other => ApiError::Internal(other.into()),
        }
    }
}

/// A sheet that cannot be read is the fault of the upload named, or of the sheet or mapping the
/// caller chose.
impl From<IngestError> for ApiError {
    fn from(err: IngestError) -> Self {
        let field = match err {
            IngestError::UnknownSheet { .. } => "sheet",
            IngestError::InvalidMapping(_) => "mapping",
            _ => "uploadId",
        };
        ApiError::invalid(field, err.to_string())
    }
}

/// A file that is too big is a 413; any other problem with the body names the file.
impl From<UploadError> for ApiError {
    fn from(err: UploadError) -> Self {
        match err {
            UploadError::TooLarge(_) => ApiError::TooLarge(err.to_string()),
            UploadError::Damaged(_) => ApiError::Conflict(err.to_string()),
            UploadError::Internal(inner) => ApiError::Internal(inner),
            other => ApiError::invalid("file", other.to_string()),
        }
    }
}

impl From<SignatureError> for ApiError {
    fn from(err: SignatureError) -> Self {
        ApiError::Unverified(err.to_string())
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        ApiError::Validation(
            errors.into_vec().into_iter().map(|e| FieldIssue { field: e.field, reason: e.reason }).collect(),
        )
    }
}
