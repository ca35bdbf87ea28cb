//! [`Application`]: the server built from settings, bound to its port, ready to run.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use rivvi_persistence::sealing::Keys;
use tokio::net::TcpListener;

use crate::auth::dev_key::DevKey;
use crate::auth::Authenticator;
use crate::config::{JwtKeySource, Secret, Settings};
use crate::state::AppState;
use crate::storage::ObjectStore;

pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    state: AppState,
}

impl Application {
    /// Connects to the database (migrating it unless told not to), loads keys and binds the listener.
    /// Binding port 0 picks a free port, which the tests use.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let state = build_state(settings).await?;
        let listener = TcpListener::bind(state.settings.listen)
            .await
            .with_context(|| format!("binding {}", state.settings.listen))?;
        let address = listener.local_addr()?;
        Ok(Self { listener, address, state })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let app = crate::http::router(self.state.clone());
        tracing::info!(address = %self.address, "rivvi listening");
        axum::serve(self.listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await?;
        tracing::info!("rivvi stopped");
        Ok(())
    }
}

async fn build_state(settings: Settings) -> anyhow::Result<AppState> {
    let db = crate::database::connect(&settings).await?;
    if settings.migrate_on_start {
        crate::database::migrate_up(&db).await.context("migrating the database")?;
    }
    let dev_key = match settings.auth.jwt_key {
        JwtKeySource::DevKey => {
            tracing::warn!(
                "no Clerk key configured: accepting tokens signed by the DEVELOPMENT key only (`rivvi dev-token`)"
            );
            Some(DevKey::load_or_create(&settings.data_dir)?)
        }
        _ => None,
    };
    let auth = Authenticator::new(&settings.auth, dev_key.as_ref().map(DevKey::public_pem))?;
    let storage = ObjectStore::from_settings(&settings.storage).await.context("opening object storage")?;
    match storage.ping().await {
        Ok(()) => tracing::info!(storage = %storage.describe(), "object storage ready"),
        // Not fatal: /readyz reports it until the store answers.
        Err(err) => tracing::warn!(storage = %storage.describe(), error = %err, "object storage unreachable"),
    }
    let keys = load_keys(&settings)?;
    Ok(AppState { db, settings: Arc::new(settings), auth: Arc::new(auth), storage, keys })
}

/// PHI keys from `RIVVI_DATA_KEY` / `RIVVI_INDEX_KEY`; in development a missing one is generated
/// into the data directory (production settings refuse to load without both).
fn load_keys(settings: &Settings) -> anyhow::Result<Keys> {
    let dev_dir = (!settings.production).then_some(settings.data_dir.as_path());
    let keys = Keys::load(
        settings.data_key.as_ref().map(Secret::expose),
        settings.index_key.as_ref().map(Secret::expose),
        dev_dir,
    )
    .context("loading the PHI keys")?;
    if !keys.development_files.is_empty() {
        let files: Vec<String> = keys.development_files.iter().map(|p| p.display().to_string()).collect();
        tracing::warn!(
            files = %files.join(", "),
            "PHI is sealed with DEVELOPMENT keys kept in the data directory: set RIVVI_DATA_KEY and RIVVI_INDEX_KEY for real data"
        );
    }
    Ok(keys)
}

/// Resolves on SIGTERM or ctrl-c, whichever comes first.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "listening for ctrl-c failed");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "listening for SIGTERM failed");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested: finishing in-flight requests");
}
