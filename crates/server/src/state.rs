//! The application state shared by every handler.

use std::sync::Arc;

use rivvi_execution::bus::EventBus;
use rivvi_execution::clock::Clock;
use rivvi_execution::engine::Engine;
use rivvi_execution::llm::{LlmClient, LlmStandIn};
use rivvi_execution::simulator::Simulator;
use rivvi_persistence::sealing::Keys;
use sea_orm::DatabaseConnection;

use crate::auth::{AuthCache, Authenticator};
use crate::config::Settings;
use crate::storage::SealedStore;

/// Cheap to clone: every field is a handle. It is the axum state and the root of the rspc context.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub auth: Arc<Authenticator>,
    /// Verified tokens and resolved callers, remembered briefly; identity writes clear it.
    pub auth_cache: AuthCache,
    /// Uploaded files (local directory or S3), sealed with `keys.sealer`.
    pub storage: SealedStore,
    /// PHI sealing and lookup keys.
    pub keys: Keys,
    /// Time, injectable so tests can move it.
    pub clock: Arc<dyn Clock>,
    /// The run engine's steps (its loop runs in `Application::run_until_stopped`).
    pub engine: Arc<Engine>,
    /// Events between instances (LISTEN/NOTIFY on PostgreSQL, in process on SQLite).
    pub bus: Arc<EventBus>,
    /// This instance's live feed watchers (runs, organizations).
    pub live: Arc<crate::services::live::LiveHub>,
    /// The built-in Retell simulator, when no Retell key is configured.
    pub simulator: Option<Arc<Simulator>>,
    /// Verifies `x-retell-signature` (Retell signs with the API key).
    pub retell_webhook_key: crate::config::Secret,
    /// Prompt variations from the configured OpenAI-compatible endpoint, or from the stand-in.
    pub llm: LlmClient,
    /// The built-in LLM stand-in the client talks to when no `LLM_BASE_URL` is configured; tests
    /// script its faults through this handle.
    pub llm_stand_in: Option<Arc<LlmStandIn>>,
}
