//! The application state shared by every handler.

use std::sync::Arc;

use rivvi_persistence::sealing::Keys;
use sea_orm::DatabaseConnection;

use crate::auth::Authenticator;
use crate::config::Settings;
use crate::storage::ObjectStore;

/// Cheap to clone: every field is a handle. It is the axum state and the root of the rspc context.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub auth: Arc<Authenticator>,
    /// Uploaded files (local directory or S3).
    pub storage: ObjectStore,
    /// PHI sealing and lookup keys.
    pub keys: Keys,
}
