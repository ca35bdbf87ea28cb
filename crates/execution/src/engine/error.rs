//! [`EngineError`]: what an engine step or a run lifecycle call can fail with.

use rivvi_domain::ids::RunId;
use rivvi_domain::lifecycle::TransitionError;
use rivvi_persistence::PersistenceError;

/// Errors of the engine. Messages carry ids and table names, never patient data.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    // user errors
    /// The run's state machine refuses the request (resuming a completed run, starting a
    /// cancelled one): a 409 for the API.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// The run changed under the request (another request or the engine moved it first); the
    /// caller may re-read and try again.
    #[error("run changed while it was being updated <run_id={0}>")]
    Concurrent(RunId),
    /// A lifecycle request with a bad value (a schedule in the past, an over-long pause reason).
    #[error("{field}: {reason}")]
    Invalid {
        /// The camelCase input field at fault.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    // internal
    /// Invalid engine settings.
    #[error("invalid engine settings: {0}")]
    Settings(&'static str),
    /// The voice provider could not be asked (recovery tries again later).
    #[error(transparent)]
    Provider(#[from] crate::provider::ProviderError),
    /// The database refused or failed (includes a run or row that is not found).
    #[error(transparent)]
    Persistence(#[from] PersistenceError),
}

impl From<sea_orm::DbErr> for EngineError {
    fn from(err: sea_orm::DbErr) -> Self {
        EngineError::Persistence(err.into())
    }
}
