//! [`Application`]: the server built from settings, bound to its port, ready to run.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::TimeDelta;
use rivvi_execution::bus::EventBus;
use rivvi_execution::clock::{Clock, SystemClock};
use rivvi_execution::engine::{Engine, EngineSettings};
use rivvi_execution::llm::{LlmClient, LlmConfig, LlmStandIn};
use rivvi_execution::provider::VoiceProvider;
use rivvi_execution::retell::client::{RetellClient, RetellConfig};
use rivvi_execution::simulator::{Simulator, SimulatorConfig};
use rivvi_persistence::sealing::Keys;
use tokio::net::TcpListener;

use crate::auth::dev_key::DevKey;
use crate::auth::{AuthCache, Authenticator};
use crate::config::{JwtKeySource, MetricsListen, Secret, Settings, DEFAULT_LLM_MODEL};
use crate::state::AppState;
use crate::storage::{ObjectStore, SealedStore};

pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    /// `GET /metrics`, apart from the main listener (`RIVVI_METRICS_LISTEN`).
    metrics_listener: Option<TcpListener>,
    state: AppState,
}

impl Application {
    /// Connects to the database (migrating it unless told not to), loads keys and binds the listener.
    /// Binding port 0 picks a free port, which the tests use.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// [`Application::build`] with another clock: tests move a manual clock through office
    /// hours, calling windows and call durations.
    pub async fn build_with_clock(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        // Before anything records a measurement: until then the facade drops them.
        crate::http::metrics::handle();
        // Bound first: the built-in simulator is told where to send its webhooks.
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("binding {}", settings.listen))?;
        let address = listener.local_addr()?;
        let metrics_listener = bind_metrics(settings.metrics_listen).await?;
        let state = build_state(settings, address, clock).await?;
        Ok(Self { listener, address, metrics_listener, state })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Where `GET /metrics` is served; `None` when it is off (or its default port was taken).
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().and_then(|listener| listener.local_addr().ok())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let limiters = crate::http::limits::RateLimiters::new(&self.state.settings.rate_limits);
        let app = crate::http::router(self.state.clone(), limiters.clone());
        tracing::info!(address = %self.address, "rivvi listening");
        // The workers stop when the server does: one signal, watched by each of them.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let until_stopped = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            }
        };
        let mut workers =
            vec![crate::http::metrics::spawn_upkeep(until_stopped()), limiters.spawn_upkeep(until_stopped())];
        if let Some(listener) = self.metrics_listener {
            let address = listener.local_addr()?;
            tracing::info!(address = %address, "metrics at http://{address}/metrics");
            let serving = axum::serve(listener, crate::http::metrics::router())
                .with_graceful_shutdown(until_stopped())
                .into_future();
            workers.push(tokio::spawn(async move {
                if let Err(err) = serving.await {
                    tracing::error!(error = %err, "the metrics listener failed");
                }
            }));
        }
        if let Some(listener) = self.state.bus.spawn_listener(until_stopped()) {
            workers.push(listener);
        }
        workers.push(crate::services::live::spawn(self.state.clone(), until_stopped()));
        if self.state.settings.engine_enabled {
            workers.push(self.state.engine.clone().spawn(until_stopped()));
            workers.push(wake_on_bus_events(&self.state, until_stopped()));
            // With the engine: an API-only instance (`RIVVI_ENGINE=off`) leaves maintenance to
            // the instances that run it. Several may purge at once; they share the rows.
            if let Some(every) = self.state.settings.retention_every {
                workers.push(crate::services::retention::spawn(self.state.clone(), every, until_stopped()));
            }
        }
        if let Some(simulator) = &self.state.simulator {
            workers.push(simulator.clone().spawn_driver(until_stopped()));
        }
        let served = crate::http::serve::serve(self.listener, app, shutdown).await;
        let _ = stop.send(true);
        for worker in workers {
            let _ = worker.await;
        }
        served?;
        tracing::info!("rivvi stopped");
        Ok(())
    }
}

/// The metrics listener: bound now, so a configured address that cannot be had fails the start
/// (and a test learns its port before serving).
async fn bind_metrics(listen: MetricsListen) -> anyhow::Result<Option<TcpListener>> {
    match listen {
        MetricsListen::Off => Ok(None),
        MetricsListen::Configured(address) => TcpListener::bind(address)
            .await
            .map(Some)
            .with_context(|| format!("binding RIVVI_METRICS_LISTEN {address}")),
        // Only the default: a second server on one machine (a test script next to a developer's
        // own) must still start. It says so, and an operator sets the variable.
        MetricsListen::Default(address) => match TcpListener::bind(address).await {
            Ok(listener) => Ok(Some(listener)),
            Err(err) => {
                tracing::warn!(
                    address = %address, error = %err,
                    "metrics not served: the default metrics address is taken; set RIVVI_METRICS_LISTEN (or off)"
                );
                Ok(None)
            }
        },
    }
}

/// Wakes this instance's dispatcher when any instance reports a call that ended or a run that
/// changed, so the next row is dialled at once wherever the event was handled. A receiver that
/// lagged wakes it too (something happened); the dispatcher's own tick covers the rest.
fn wake_on_bus_events<F>(state: &AppState, shutdown: F) -> tokio::task::JoinHandle<()>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let mut events = state.bus.subscribe();
    let engine = state.engine.clone();
    tokio::spawn(async move {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                received = events.recv() => match received {
                    Ok(event) if event.wakes_dispatch() => engine.wake(),
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => engine.wake(),
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                },
            }
        }
    })
}

/// The built-in simulator's LLMs and agents, under the data directory.
pub const SIMULATOR_AGENTS_FILE: &str = "simulator-agents.json";

async fn build_state(
    settings: Settings,
    address: SocketAddr,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<AppState> {
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
    let keys = load_keys(&settings)?;
    let storage = ObjectStore::from_settings(&settings.storage).await.context("opening object storage")?;
    let storage = SealedStore::new(storage, keys.sealer.clone());
    match storage.ping().await {
        Ok(()) => tracing::info!(storage = %storage.describe(), "object storage ready"),
        // Not fatal: /readyz reports it until the store answers.
        Err(err) => tracing::warn!(storage = %storage.describe(), error = %err, "object storage unreachable"),
    }
    upgrade_legacy_phi(&db, &keys).await?;
    let VoiceSetup { provider, simulator, webhook_key: retell_webhook_key } =
        voice_provider(&settings, address, &clock)?;
    let (llm, llm_stand_in) = language_model(&settings, address, &clock)?;
    let instance_id = format!("rivvi-{}", uuid::Uuid::now_v7().simple());
    let engine_settings = engine_settings(&settings, simulator.is_some());
    let bus = Arc::new(EventBus::new(db.clone()));
    let engine = Engine::new(
        db.clone(),
        keys.clone(),
        provider,
        clock.clone(),
        bus.clone(),
        instance_id,
        engine_settings,
    )
    .map_err(|e| anyhow::anyhow!("engine settings: {e}"))?;
    Ok(AppState {
        db,
        settings: Arc::new(settings),
        auth: Arc::new(auth),
        auth_cache: AuthCache::new(),
        storage,
        keys,
        clock,
        engine: Arc::new(engine),
        bus,
        live: Arc::default(),
        simulator,
        retell_webhook_key,
        llm,
        llm_stand_in,
    })
}

/// The voice provider, the simulator behind it (if built in) and the key webhooks are signed with.
struct VoiceSetup {
    provider: Arc<dyn VoiceProvider>,
    simulator: Option<Arc<Simulator>>,
    webhook_key: Secret,
}

/// Retell over HTTP when `RETELL_API_KEY` is set; otherwise the built-in simulator, mounted on
/// this server and reached through the same HTTP client, so the production code path runs.
fn voice_provider(
    settings: &Settings,
    address: SocketAddr,
    clock: &Arc<dyn Clock>,
) -> anyhow::Result<VoiceSetup> {
    if let Some(key) = &settings.retell_api_key {
        let base = settings.retell_base_url.clone().unwrap_or_else(|| "https://api.retellai.com".into());
        let client = RetellClient::new(RetellConfig::new(base, key.expose()))
            .map_err(|e| anyhow::anyhow!("Retell client: {e}"))?;
        return Ok(VoiceSetup { provider: Arc::new(client), simulator: None, webhook_key: key.clone() });
    }
    // Loopback even when listening on all interfaces: the simulator calls this very process.
    let base = format!("http://127.0.0.1:{}", address.port());
    let key = format!("sim_{}", uuid::Uuid::new_v4().simple());
    let mut config = SimulatorConfig::new(key.clone(), format!("{base}/webhooks/retell"));
    config.time_scale = settings.simulator_time_scale;
    config.seed = settings.simulator_seed;
    // Retell keeps the LLMs and agents Rivvi makes for campaigns; so does the simulator, or a
    // campaign made before a restart could not publish a version for its next run.
    config.agents_file = Some(settings.data_dir.join(SIMULATOR_AGENTS_FILE));
    let simulator = Arc::new(Simulator::new(config, clock.clone()));
    let client = RetellClient::new(RetellConfig::new(format!("{base}/simulator/retell"), key.clone()))
        .map_err(|e| anyhow::anyhow!("simulator client: {e}"))?;
    tracing::warn!("no RETELL_API_KEY: calls go to the built-in Retell simulator");
    Ok(VoiceSetup { provider: Arc::new(client), simulator: Some(simulator), webhook_key: Secret::new(key) })
}

/// The model named by `LLM_BASE_URL` (and `LLM_API_KEY`, `LLM_MODEL`); without it the built-in
/// stand-in, mounted on this server and reached through the same client, so the production code
/// path runs.
fn language_model(
    settings: &Settings,
    address: SocketAddr,
    clock: &Arc<dyn Clock>,
) -> anyhow::Result<(LlmClient, Option<Arc<LlmStandIn>>)> {
    if let Some(base) = &settings.llm_base_url {
        let key = settings.llm_api_key.as_ref().map(Secret::expose).unwrap_or_default();
        let model = settings.llm_model.clone().unwrap_or_else(|| DEFAULT_LLM_MODEL.to_owned());
        let mut config = LlmConfig::new(base.clone(), key, model);
        config.request_timeout = settings.llm_request_timeout;
        let client = LlmClient::new(config).map_err(|e| anyhow::anyhow!("LLM client: {e}"))?;
        return Ok((client, None));
    }
    let key = format!("sk-stand-in-{}", uuid::Uuid::new_v4().simple());
    let stand_in = Arc::new(LlmStandIn::new(key.clone(), clock.clone()));
    // Loopback even when listening on all interfaces: the stand-in is this very process.
    let base = format!("http://127.0.0.1:{}/llm-stand-in/v1", address.port());
    let model = settings.llm_model.clone().unwrap_or_else(|| "rivvi-llm-stand-in".to_owned());
    let mut config = LlmConfig::new(base, key, model);
    config.request_timeout = settings.llm_request_timeout;
    let client = LlmClient::new(config).map_err(|e| anyhow::anyhow!("LLM stand-in client: {e}"))?;
    tracing::warn!("no LLM_BASE_URL: prompt variations come from the built-in LLM stand-in");
    Ok((client, Some(stand_in)))
}

/// The engine's timings. Against the built-in simulator they shrink with its time scale: its
/// calls are compressed and it answers on loopback, so a killed `cargo run` recovers its
/// in-flight rows within a couple of minutes instead of the half hour a real call may last.
fn engine_settings(settings: &Settings, simulated: bool) -> EngineSettings {
    let defaults = EngineSettings {
        // Managed agents report to this server; without a public URL (the simulator, or a
        // provider account configured by hand) the account's webhook URL applies.
        agent_webhook_url: settings
            .public_url
            .as_deref()
            .map(|url| format!("{}/webhooks/retell", url.trim_end_matches('/'))),
        ..EngineSettings::default()
    };
    if !simulated {
        return defaults;
    }
    let scale = settings.simulator_time_scale.max(1.0);
    let longest_call =
        TimeDelta::milliseconds((defaults.max_call_duration.num_milliseconds() as f64 / scale) as i64);
    EngineSettings {
        dial_timeout: Duration::from_secs(10),
        lease: TimeDelta::seconds(30),
        max_call_duration: longest_call.max(TimeDelta::minutes(1)),
        ..defaults
    }
}

/// PHI keys from `RIVVI_DATA_KEY` / `RIVVI_INDEX_KEY`; in development a missing one is generated
/// into the data directory (production settings refuse to load without both).
/// Rows written before per-organization lookup keys and sealed call data are re-keyed and sealed,
/// and patients written before their MRN and name/birth-date keys get them, before the server
/// serves: until then a patient would not be found by phone, or recognised with a new number (see
/// `rivvi_persistence::legacy_phi`).
async fn upgrade_legacy_phi(db: &sea_orm::DatabaseConnection, keys: &Keys) -> anyhow::Result<()> {
    use rivvi_persistence::legacy_phi;
    let report = legacy_phi::upgrade(db, keys, legacy_phi::BATCH).await.context("upgrading stored PHI")?;
    if report.total() > 0 {
        tracing::info!(
            patients = report.patients_rekeyed,
            do_not_call = report.do_not_call_rekeyed,
            calls = report.calls_sealed,
            run_rows = report.run_rows_sealed,
            uploads = report.uploads_sealed,
            patients_match_keyed = report.patients_match_keyed,
            "re-keyed and sealed PHI written by an earlier version"
        );
    }
    Ok(())
}

pub(crate) fn load_keys(settings: &Settings) -> anyhow::Result<Keys> {
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
