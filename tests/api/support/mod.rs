//! The test harness: the real server on port 0 with a fresh database, and real RS256 tokens.
// A shared harness: not every helper is used by every test module.
#![allow(dead_code, unused_imports)]

pub mod clerk;
pub mod database;
pub mod load;
pub mod s3;
pub mod seed;
pub mod simulated;
pub mod tokens;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::StatusCode;
use rivvi_execution::clock::Clock;
use rivvi_execution::llm::{LlmClient, LlmStandIn};
use rivvi_server::app::Application;
use rivvi_server::config::{JwtKeySource, Settings};
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;

pub use database::TestDatabase;
pub use tokens::{Shape, TokenBuilder};

/// The `azp` our test tokens carry and the settings allow.
pub const FRONTEND_ORIGIN: &str = "http://localhost:3001";
pub const OPERATOR_ORG: &str = "org_operator";
pub const WEBHOOK_SECRET: &str = "whsec_dGVzdC1zZWNyZXQtZm9yLXN2aXgtc2lnbmF0dXJlcw==";

pub struct TestApp {
    pub address: SocketAddr,
    /// The metrics listener (`GET /metrics`), on a port of its own.
    pub metrics_address: Option<SocketAddr>,
    pub http: reqwest::Client,
    pub database: TestDatabase,
    pub data_dir: Arc<TempDir>,
    /// The server's language-model client (`AppState::llm`), for tests of the LLM seam.
    pub llm: LlmClient,
    /// The built-in LLM stand-in the server mounted (none when `LLM_BASE_URL` is set), to script
    /// faults.
    pub llm_stand_in: Option<Arc<LlmStandIn>>,
    settings: Settings,
    clock: Arc<dyn Clock>,
    server: Option<Server>,
}

/// One server instance in a runtime of its own, so that [`TestApp::kill`] can stop it the way a
/// killed process stops: every task (HTTP, engine, simulator) dropped where it stands.
struct Server {
    runtime: tokio::runtime::Runtime,
    shutdown: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// What a started server hands its test: where it listens and its language-model handles (not
/// the whole `AppState`, whose database pool would outlive the server and hold its database).
struct Started {
    address: SocketAddr,
    metrics_address: Option<SocketAddr>,
    llm: LlmClient,
    llm_stand_in: Option<Arc<LlmStandIn>>,
}

impl Server {
    async fn start(settings: Settings, clock: Arc<dyn Clock>) -> (Server, Started) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("server runtime");
        let (shutdown, stopped) = oneshot::channel::<()>();
        let (bound, started) = oneshot::channel();
        let task = runtime.spawn(async move {
            let app = Application::build_with_clock(settings, clock).await.expect("application builds");
            let state = app.state();
            let _ = bound.send(Started {
                address: app.address(),
                metrics_address: app.metrics_address(),
                llm: state.llm.clone(),
                llm_stand_in: state.llm_stand_in.clone(),
            });
            app.run_until_stopped(async {
                let _ = stopped.await;
            })
            .await
        });
        let started = started.await.expect("server started");
        (Server { runtime, shutdown, task }, started)
    }

    /// Graceful: in-flight requests finish and the workers stop at their next step.
    async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
        self.runtime.shutdown_background();
    }

    fn kill(self) {
        self.runtime.shutdown_background();
    }
}

/// Settings for a test server: development-like, but with Clerk-style PEM verification of tokens
/// minted by [`tokens`], so the production verification path is the one exercised.
pub fn test_settings(database_url: &str, data_dir: &std::path::Path) -> Settings {
    let mut settings = Settings::from_vars(&HashMap::from([
        ("DATABASE_URL".to_owned(), database_url.to_owned()),
        ("RIVVI_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        ("RIVVI_DATA_DIR".to_owned(), data_dir.display().to_string()),
        ("RIVVI_OPERATOR_ORG".to_owned(), OPERATOR_ORG.to_owned()),
        // A port of its own per test server: tests run in parallel.
        ("RIVVI_METRICS_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
    ]))
    .expect("test settings");
    settings.auth.jwt_key = JwtKeySource::Pem(tokens::public_pem().to_owned());
    settings.auth.authorized_parties = vec![FRONTEND_ORIGIN.to_owned()];
    settings.auth.webhook_signing_secret = Some(rivvi_server::config::Secret::new(WEBHOOK_SECRET));
    settings.cors_origins = vec![FRONTEND_ORIGIN.to_owned()];
    settings.expose_test_routes = true;
    settings
}

/// For load measurements: no rate limits. They send one organization's requests (or the
/// simulator's webhooks, all from loopback) as fast as the server answers, far past any limit
/// that suits production.
pub fn without_rate_limits(settings: &mut Settings) {
    settings.rate_limits.rpc = None;
    settings.rate_limits.webhook = None;
}

/// `value` as JSON text with every UUID (also inside a string, as in `contactPoint:<uuid>`) and
/// every timestamp blanked: what is left is what could quote patient data, so a check that some
/// digits are absent cannot fail on a random id or a clock reading.
pub fn text_without_ids(value: &Value) -> String {
    fn without_uuids(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while i < text.len() {
            if text.get(i..i + 36).is_some_and(|w| uuid::Uuid::try_parse(w).is_ok()) {
                out.push_str("<id>");
                i += 36;
            } else {
                let c = text[i..].chars().next().unwrap_or_default();
                out.push(c);
                i += c.len_utf8().max(1);
            }
        }
        out
    }
    fn scrub(value: &Value) -> Value {
        match value {
            Value::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => Value::from("<time>"),
            Value::String(s) => Value::from(without_uuids(s)),
            Value::Array(items) => Value::Array(items.iter().map(scrub).collect()),
            Value::Object(fields) => {
                Value::Object(fields.iter().map(|(k, v)| (k.clone(), scrub(v))).collect())
            }
            other => other.clone(),
        }
    }
    scrub(value).to_string()
}

/// The first column of the first row `sql` returns, as an integer (mostly a count).
pub async fn scalar(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    scalar_with(db, sql, Vec::new()).await
}

/// [`scalar`] with `values` bound to the placeholders of `sql`.
pub async fn scalar_with(db: &sea_orm::DatabaseConnection, sql: &str, values: Vec<sea_orm::Value>) -> i64 {
    use sea_orm::ConnectionTrait;
    let statement = sea_orm::Statement::from_sql_and_values(db.get_database_backend(), sql, values);
    db.query_one(statement).await.unwrap().unwrap().try_get_by_index::<i64>(0).unwrap()
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
        Self::spawn_with_clock(configure, Arc::new(rivvi_execution::clock::SystemClock)).await
    }

    /// A server whose engine, simulator and webhook checks read `clock`.
    pub async fn spawn_with_clock(configure: impl FnOnce(&mut Settings), clock: Arc<dyn Clock>) -> TestApp {
        let data_dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let database = TestDatabase::create(data_dir.path()).await;
        let mut settings = test_settings(&database.url, data_dir.path());
        configure(&mut settings);
        let (server, started) = Server::start(settings.clone(), clock.clone()).await;
        TestApp {
            address: started.address,
            metrics_address: started.metrics_address,
            http: reqwest::Client::new(),
            database,
            data_dir,
            llm: started.llm,
            llm_stand_in: started.llm_stand_in,
            settings,
            clock,
            server: Some(server),
        }
    }

    /// A second instance on the same database, data directory, settings and clock, with its own
    /// engine, simulator and port: what a scaled-out deployment runs. Stopping it leaves the
    /// database to `self`.
    pub async fn another_instance(&self) -> TestApp {
        self.another_instance_with(|_| {}).await
    }

    /// [`TestApp::another_instance`] with its settings changed by `configure` (say, without an
    /// engine, to serve only requests and subscriptions).
    pub async fn another_instance_with(&self, configure: impl FnOnce(&mut Settings)) -> TestApp {
        let mut settings = self.settings.clone();
        configure(&mut settings);
        let (server, started) = Server::start(settings.clone(), self.clock.clone()).await;
        TestApp {
            address: started.address,
            metrics_address: started.metrics_address,
            http: reqwest::Client::new(),
            database: self.database.borrowed(),
            data_dir: self.data_dir.clone(),
            llm: started.llm,
            llm_stand_in: started.llm_stand_in,
            settings,
            clock: self.clock.clone(),
            server: Some(server),
        }
    }

    /// Stops the server as a killed process stops: no graceful shutdown, every task dropped
    /// mid-step. The database and data directory stay for [`TestApp::restart`].
    pub fn kill(&mut self) {
        if let Some(server) = self.server.take() {
            server.kill();
        }
    }

    /// Starts the server again on the same database, data directory and settings (a new port).
    pub async fn restart(&mut self) {
        self.kill();
        let (server, started) = Server::start(self.settings.clone(), self.clock.clone()).await;
        self.server = Some(server);
        self.address = started.address;
        self.metrics_address = started.metrics_address;
        self.llm = started.llm;
        self.llm_stand_in = started.llm_stand_in;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// `path` on the metrics listener.
    pub fn metrics_url(&self, path: &str) -> String {
        format!("http://{}{}", self.metrics_address.expect("this server serves metrics"), path)
    }

    /// The Prometheus exposition from the metrics listener.
    pub async fn scrape_metrics(&self) -> String {
        let response = self.http.get(self.metrics_url("/metrics")).send().await.expect("metrics scraped");
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.expect("metrics text")
    }

    /// An rspc query; `input` of `Value::Null` sends no `?input=`, as the TS client does for unit input.
    pub async fn query(&self, token: Option<&str>, key: &str, input: Value) -> RpcResponse {
        let mut url = reqwest::Url::parse(&self.url(&format!("/rspc/{key}"))).expect("url");
        if !input.is_null() {
            url.query_pairs_mut().append_pair("input", &input.to_string());
        }
        let mut request = self.http.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        RpcResponse::read(request.send().await.expect("request sent")).await
    }

    /// An rspc mutation with a JSON body.
    pub async fn mutation(&self, token: Option<&str>, key: &str, input: Value) -> RpcResponse {
        let mut request = self.http.post(self.url(&format!("/rspc/{key}"))).json(&input);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        RpcResponse::read(request.send().await.expect("request sent")).await
    }

    /// Uploads `bytes` as `file_name` (raw body) and returns the upload id.
    pub async fn upload(&self, token: &str, file_name: &str, bytes: Vec<u8>) -> String {
        let mut url = reqwest::Url::parse(&self.url("/uploads")).expect("url");
        url.query_pairs_mut().append_pair("fileName", file_name);
        let response = self.http.post(url).bearer_auth(token).body(bytes).send().await.expect("upload sent");
        let status = response.status();
        let body: Value = response.json().await.expect("upload answer");
        assert!(status.is_success(), "upload failed: {status} {body}");
        body["uploadId"].as_str().expect("uploadId").to_owned()
    }

    /// Stops the server and drops its database.
    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
        self.database.drop_database().await;
    }
}

/// A test that panics never reaches `stop()`: its server's runtime must still go, without
/// blocking the test's own runtime.
impl Drop for TestApp {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An rspc response: either data or an error code with its message.
#[derive(Debug)]
pub struct RpcResponse {
    pub http_status: StatusCode,
    pub body: Value,
}

impl RpcResponse {
    /// A procedure's answer as read from any HTTP response (for requests built by hand).
    pub async fn read(response: reqwest::Response) -> Self {
        let http_status = response.status();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        RpcResponse { http_status, body }
    }

    /// The error code (400, 401, ...) or 200 for a success.
    pub fn code(&self) -> u16 {
        match self.body.pointer("/result/type").and_then(Value::as_str) {
            Some("response") => 200,
            Some("error") => {
                self.body.pointer("/result/data/code").and_then(Value::as_u64).unwrap_or(0) as u16
            }
            _ => 0,
        }
    }

    pub fn data(&self) -> &Value {
        assert_eq!(self.code(), 200, "expected success, got {}", self.body);
        self.body.pointer("/result/data").expect("data")
    }

    pub fn message(&self) -> &str {
        self.body.pointer("/result/data/message").and_then(Value::as_str).unwrap_or_default()
    }
}
