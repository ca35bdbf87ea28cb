//! Settings from the environment (and `.env`), with the embedded development defaults.
//!
//! Development mode is what a newcomer's `cargo run` gets: SQLite and local files under `./data`, a
//! generated dev signing key, the built-in call simulator. Production (`RIVVI_ENV=production`, or any
//! Clerk setting present) turns every such default off and refuses to start while a secret is missing,
//! naming each one so an operator can fix them all in one go.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use crate::storage::StorageSettings;

/// A secret value whose `Debug` never prints it, so settings can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where session JWT signing keys come from.
#[derive(Debug, Clone)]
pub enum JwtKeySource {
    /// Clerk's PEM public key (`CLERK_JWT_KEY`): no network needed.
    Pem(String),
    /// Clerk's JWKS endpoint (`CLERK_JWKS_URL`), fetched and cached.
    Jwks(String),
    /// The development key kept under the data directory, minted by `rivvi dev-token`.
    DevKey,
}

#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub jwt_key: JwtKeySource,
    /// `azp` values accepted; empty accepts any (development only).
    pub authorized_parties: Vec<String>,
    pub webhook_signing_secret: Option<Secret>,
    /// The Clerk organization whose members are Rivvi operators (super admins).
    pub operator_org: Option<String>,
    /// `CLERK_ISSUER` (the Frontend API URL, such as `https://clerk.example.com`): when set, a
    /// token whose `iss` differs is refused, so a token of another Clerk instance signed with a
    /// shared or leaked key is not accepted.
    pub issuer: Option<String>,
}

/// A sustained request rate and the burst allowed above it (a token bucket of `burst` tokens
/// refilled at `per_minute`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_minute: NonZeroU32,
    pub burst: NonZeroU32,
}

/// Request rate limits; `None` turns one off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    /// `/rspc/*` (a websocket upgrade is one request) per organization of the authenticated
    /// caller; a caller without an organization per user; unauthenticated requests per client IP.
    pub rpc: Option<RateLimit>,
    /// `/webhooks/*` per client IP.
    pub webhook: Option<RateLimit>,
    /// Peers (load balancers, reverse proxies) whose `X-Forwarded-For` names the client. Without
    /// any, the client is always the socket's peer: a header anyone can write never picks a bucket.
    pub trusted_proxies: Vec<IpNetwork>,
}

/// An address or a CIDR block (`10.0.0.0/8`, `fd00::/8`, `192.0.2.7`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    address: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr =
            address.trim().parse().map_err(|_| format!("{text:?} is not an IP address or CIDR block"))?;
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(prefix) => prefix
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {bits}"))?,
        };
        Ok(Self { address, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Where `GET /metrics` is served: never on the main listener, whose port is the public one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsListen {
    /// `RIVVI_METRICS_LISTEN=off`.
    Off,
    /// Not configured: [`DEFAULT_METRICS_LISTEN`]. A second server on the same machine finds the
    /// port taken; it then serves without metrics and says so, rather than refusing to start.
    Default(SocketAddr),
    /// Set explicitly: failing to bind it fails the start.
    Configured(SocketAddr),
}

impl MetricsListen {
    pub fn address(&self) -> Option<SocketAddr> {
        match self {
            MetricsListen::Off => None,
            MetricsListen::Default(address) | MetricsListen::Configured(address) => Some(*address),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub production: bool,
    pub database_url: String,
    pub listen: SocketAddr,
    /// `RIVVI_METRICS_LISTEN`.
    pub metrics_listen: MetricsListen,
    /// `RIVVI_RATE_LIMIT_*` and `RIVVI_TRUSTED_PROXIES`.
    pub rate_limits: RateLimits,
    pub public_url: Option<String>,
    pub data_dir: PathBuf,
    /// `STORAGE_URL` (parsed) and `S3_ENDPOINT`.
    pub storage: StorageSettings,
    pub auth: AuthSettings,
    pub cors_origins: Vec<String>,
    pub retell_api_key: Option<Secret>,
    pub retell_base_url: Option<String>,
    /// `LLM_BASE_URL`: an OpenAI-compatible endpoint (`https://api.openai.com/v1`) for prompt
    /// variations; without it the built-in stand-in is mounted and used.
    pub llm_base_url: Option<String>,
    /// `LLM_API_KEY`, sent as `Authorization: Bearer` (a self-hosted endpoint may need none).
    pub llm_api_key: Option<Secret>,
    /// `LLM_MODEL`; [`DEFAULT_LLM_MODEL`] against a real endpoint when unset.
    pub llm_model: Option<String>,
    /// Longest wait for a model's answer. Not read from the environment: tests shorten it.
    pub llm_request_timeout: Duration,
    pub data_key: Option<Secret>,
    pub index_key: Option<Secret>,
    pub migrate_on_start: bool,
    /// Largest accepted request body for JSON endpoints, in bytes.
    pub body_limit: usize,
    /// Largest accepted upload (`POST /uploads`), in bytes: `RIVVI_UPLOAD_LIMIT`.
    pub upload_limit: u64,
    pub json_logs: bool,
    /// Run the engine loop in this instance (`RIVVI_ENGINE=off` for an API-only instance).
    pub engine_enabled: bool,
    /// `RIVVI_RETENTION_EVERY`: how often an instance with the engine enabled deletes what the
    /// organizations' retention settings say expired; `None` (`off`) never.
    pub retention_every: Option<Duration>,
    /// Simulated seconds per real second in the built-in Retell simulator.
    pub simulator_time_scale: f64,
    /// Seeds the simulator's outcomes, so a local run is repeatable.
    pub simulator_seed: u64,
    /// Mounts routes that exist only to exercise the server in integration tests (such as
    /// `GET /__test/panic`). Never read from the environment, so no deployment can turn it on: only
    /// code building `Settings` by hand (the test harness) sets it.
    pub expose_test_routes: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("production configuration is missing: {}", .0.join(", "))]
    MissingSecrets(Vec<&'static str>),
    #[error("invalid {name}: {reason}")]
    Invalid { name: &'static str, reason: String },
}

const DEFAULT_LISTEN: &str = "127.0.0.1:3000";
/// Loopback: a Prometheus agent on the same host (or pod) scrapes it; nothing outside does unless
/// the operator says so. 9464 is the port the OpenTelemetry Prometheus exporters default to.
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9464";
/// 50 procedure calls per second per organization, sustained: a clinic's whole staff with their
/// dashboards open and polling uses a small fraction of it; a runaway script or a stolen token
/// does not get the database to itself.
pub const DEFAULT_RPC_PER_MINUTE: u32 = 3_000;
/// Page loads fire a dozen queries at once, a few users may load at the same moment.
pub const DEFAULT_RPC_BURST: u32 = 500;
/// 200 per second per address. Retell sends every webhook of every organization from one
/// address, so this is the whole deployment's webhook budget: at three events per call, 4,000
/// calls per minute. A flood of forged requests from elsewhere stops here.
pub const DEFAULT_WEBHOOK_PER_MINUTE: u32 = 12_000;
pub const DEFAULT_WEBHOOK_BURST: u32 = 2_000;
/// The operator organization in development, when `RIVVI_OPERATOR_ORG` is not set.
pub const DEV_OPERATOR_ORG: &str = "org_rivvi_operator";
const DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;
/// 50 MiB: a 100k-row patient export is about 10 MB as xlsx or CSV.
pub const DEFAULT_UPLOAD_LIMIT: u64 = 50 * 1024 * 1024;
/// The model asked when `LLM_BASE_URL` is set without `LLM_MODEL`: small, cheap and able to follow
/// a JSON schema strictly.
pub const DEFAULT_LLM_MODEL: &str = "gpt-4o-mini";
/// An hour: retention is counted in days, and a pass over an idle deployment costs a few
/// queries per organization.
pub const DEFAULT_RETENTION_EVERY: Duration = Duration::from_secs(60 * 60);
/// A minute: rewriting a long prompt takes a model tens of seconds.
pub const DEFAULT_LLM_TIMEOUT: Duration = Duration::from_secs(60);

impl Settings {
    /// Reads the process environment (after `.env`, which the CLI loads first).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// Builds settings from a variable map; `from_env` and the tests share this path.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &str| vars.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let clerk_jwt_key = get("CLERK_JWT_KEY");
        let clerk_jwks_url = get("CLERK_JWKS_URL");
        let clerk_configured = clerk_jwt_key.is_some()
            || clerk_jwks_url.is_some()
            || get("CLERK_WEBHOOK_SIGNING_SECRET").is_some()
            || get("CLERK_AUTHORIZED_PARTIES").is_some();
        let production = match get("RIVVI_ENV").as_deref() {
            Some("production") => true,
            // Explicit development keeps the embedded defaults even with a Clerk key, so a
            // developer can try tokens signed by their own Clerk instance (or key) locally.
            Some("development") => false,
            None => clerk_configured,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "RIVVI_ENV",
                    reason: format!("expected production or development, got {other:?}"),
                })
            }
        };

        if production {
            let mut missing = Vec::new();
            let required = [
                "DATABASE_URL",
                "CLERK_AUTHORIZED_PARTIES",
                "CLERK_WEBHOOK_SIGNING_SECRET",
                "RIVVI_OPERATOR_ORG",
                "RIVVI_DATA_KEY",
                "RIVVI_INDEX_KEY",
                "RETELL_API_KEY",
                "RIVVI_PUBLIC_URL",
                // Without it users would get the stand-in's canned edits as AI suggestions.
                "LLM_BASE_URL",
            ];
            if clerk_jwt_key.is_none() && clerk_jwks_url.is_none() {
                missing.push("CLERK_JWT_KEY or CLERK_JWKS_URL");
            }
            missing.extend(required.into_iter().filter(|name| get(name).is_none()));
            if !missing.is_empty() {
                return Err(ConfigError::MissingSecrets(missing));
            }
        }

        let data_dir = PathBuf::from(get("RIVVI_DATA_DIR").unwrap_or_else(|| "./data".into()));
        let database_url = get("DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}/rivvi.db?mode=rwc", data_dir.display()));
        let listen_text = get("RIVVI_LISTEN").unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen = listen_text.parse().map_err(|e| ConfigError::Invalid {
            name: "RIVVI_LISTEN",
            reason: format!("{listen_text:?} is not host:port ({e})"),
        })?;
        let metrics_listen = match get("RIVVI_METRICS_LISTEN") {
            Some(off) if off.eq_ignore_ascii_case("off") => MetricsListen::Off,
            Some(text) => MetricsListen::Configured(text.parse().map_err(|e| ConfigError::Invalid {
                name: "RIVVI_METRICS_LISTEN",
                reason: format!("{text:?} is not host:port or off ({e})"),
            })?),
            None => MetricsListen::Default(DEFAULT_METRICS_LISTEN.parse().map_err(|e| {
                ConfigError::Invalid { name: "RIVVI_METRICS_LISTEN", reason: format!("default: {e}") }
            })?),
        };
        let rate_limits = RateLimits {
            rpc: rate_limit(
                &get,
                ("RIVVI_RATE_LIMIT_RPC_PER_MINUTE", DEFAULT_RPC_PER_MINUTE),
                ("RIVVI_RATE_LIMIT_RPC_BURST", DEFAULT_RPC_BURST),
            )?,
            webhook: rate_limit(
                &get,
                ("RIVVI_RATE_LIMIT_WEBHOOK_PER_MINUTE", DEFAULT_WEBHOOK_PER_MINUTE),
                ("RIVVI_RATE_LIMIT_WEBHOOK_BURST", DEFAULT_WEBHOOK_BURST),
            )?,
            trusted_proxies: split_list(get("RIVVI_TRUSTED_PROXIES"))
                .iter()
                .map(|entry| IpNetwork::parse(entry))
                .collect::<Result<_, _>>()
                .map_err(|reason| ConfigError::Invalid { name: "RIVVI_TRUSTED_PROXIES", reason })?,
        };
        let authorized_parties = split_list(get("CLERK_AUTHORIZED_PARTIES"));
        let cors_origins = match get("RIVVI_CORS_ORIGINS") {
            Some(list) => split_list(Some(list)),
            None if !authorized_parties.is_empty() => authorized_parties.clone(),
            // The Next.js dev server's default origin.
            None => vec!["http://localhost:3001".into(), "http://localhost:3000".into()],
        };
        let jwt_key = match (clerk_jwt_key, clerk_jwks_url) {
            (Some(pem), _) => JwtKeySource::Pem(pem.replace("\\n", "\n")),
            (None, Some(url)) => JwtKeySource::Jwks(url),
            (None, None) => JwtKeySource::DevKey,
        };
        let body_limit = match get("RIVVI_BODY_LIMIT") {
            Some(text) => text.parse().map_err(|_| ConfigError::Invalid {
                name: "RIVVI_BODY_LIMIT",
                reason: format!("{text:?} is not a byte count"),
            })?,
            None => DEFAULT_BODY_LIMIT,
        };
        let upload_limit = match get("RIVVI_UPLOAD_LIMIT") {
            Some(text) => {
                text.parse().ok().filter(|limit| *limit > 0).ok_or_else(|| ConfigError::Invalid {
                    name: "RIVVI_UPLOAD_LIMIT",
                    reason: format!("{text:?} is not a positive byte count"),
                })?
            }
            None => DEFAULT_UPLOAD_LIMIT,
        };
        let storage_url =
            get("STORAGE_URL").unwrap_or_else(|| format!("file://{}/uploads", data_dir.display()));
        let storage = StorageSettings::parse(&storage_url, get("S3_ENDPOINT"))
            .map_err(|reason| ConfigError::Invalid { name: "STORAGE_URL", reason })?;
        let retention_every = match get("RIVVI_RETENTION_EVERY") {
            None => Some(DEFAULT_RETENTION_EVERY),
            Some(off) if off.eq_ignore_ascii_case("off") => None,
            Some(text) => Some(
                parse_duration(&text)
                    .map_err(|reason| ConfigError::Invalid { name: "RIVVI_RETENTION_EVERY", reason })?,
            ),
        };
        let migrate_on_start = match get("RIVVI_MIGRATE_ON_START").as_deref() {
            None | Some("true") | Some("1") => true,
            Some("false") | Some("0") => false,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "RIVVI_MIGRATE_ON_START",
                    reason: format!("expected true or false, got {other:?}"),
                })
            }
        };

        Ok(Self {
            production,
            database_url,
            listen,
            metrics_listen,
            rate_limits,
            public_url: get("RIVVI_PUBLIC_URL"),
            storage,
            data_dir,
            auth: AuthSettings {
                jwt_key,
                authorized_parties,
                webhook_signing_secret: get("CLERK_WEBHOOK_SIGNING_SECRET").map(Secret::new),
                operator_org: get("RIVVI_OPERATOR_ORG")
                    .or_else(|| (!production).then(|| DEV_OPERATOR_ORG.to_owned())),
                issuer: get("CLERK_ISSUER").map(|iss| iss.trim_end_matches('/').to_owned()),
            },
            cors_origins,
            retell_api_key: get("RETELL_API_KEY").map(Secret::new),
            retell_base_url: get("RETELL_BASE_URL"),
            llm_base_url: get("LLM_BASE_URL"),
            llm_api_key: get("LLM_API_KEY").map(Secret::new),
            llm_model: get("LLM_MODEL"),
            llm_request_timeout: DEFAULT_LLM_TIMEOUT,
            data_key: get("RIVVI_DATA_KEY").map(Secret::new),
            index_key: get("RIVVI_INDEX_KEY").map(Secret::new),
            migrate_on_start,
            body_limit,
            upload_limit,
            json_logs: production,
            engine_enabled: !matches!(
                get("RIVVI_ENGINE").as_deref(),
                Some("off") | Some("false") | Some("0")
            ),
            retention_every,
            simulator_time_scale: get("RIVVI_SIMULATOR_TIME_SCALE")
                .and_then(|v| v.parse().ok())
                .unwrap_or(20.0),
            simulator_seed: get("RIVVI_SIMULATOR_SEED").and_then(|v| v.parse().ok()).unwrap_or(1),
            expose_test_routes: false,
        })
    }
}

/// A rate limit from its per-minute variable (`off` disables it) and its burst variable, each a
/// positive whole number.
fn rate_limit(
    get: &impl Fn(&str) -> Option<String>,
    (rate_name, rate_default): (&'static str, u32),
    (burst_name, burst_default): (&'static str, u32),
) -> Result<Option<RateLimit>, ConfigError> {
    let positive = |name: &'static str, default: u32| match get(name) {
        None => NonZeroU32::new(default)
            .ok_or_else(|| ConfigError::Invalid { name, reason: "the default must be positive".into() }),
        Some(text) => text.parse::<NonZeroU32>().map_err(|_| ConfigError::Invalid {
            name,
            reason: format!("{text:?} is not a positive whole number (or off, for the rate)"),
        }),
    };
    if get(rate_name).is_some_and(|v| v.eq_ignore_ascii_case("off")) {
        return Ok(None);
    }
    Ok(Some(RateLimit {
        per_minute: positive(rate_name, rate_default)?,
        burst: positive(burst_name, burst_default)?,
    }))
}

/// A positive duration as a whole number and a unit: `200ms`, `30s`, `15m`, `1h`, `1d`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let unit_at = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(unit_at);
    let bad = || format!("{text:?} is not a duration such as 200ms, 30s, 15m, 1h or 1d (or off)");
    let number: u64 = number.parse().map_err(|_| bad())?;
    let millis_per = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    let millis = number.checked_mul(millis_per).filter(|ms| *ms > 0).ok_or_else(bad)?;
    Ok(Duration::from_millis(millis))
}

fn split_list(value: Option<String>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().trim_end_matches('/').to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::StorageLocation;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn no_settings_select_the_embedded_development_defaults() {
        let settings = Settings::from_vars(&HashMap::new()).unwrap();
        assert!(!settings.production);
        assert_eq!(settings.listen.to_string(), "127.0.0.1:3000");
        assert!(settings.database_url.starts_with("sqlite://./data/"));
        assert_eq!(settings.storage.location, StorageLocation::Local { root: "./data/uploads".into() });
        assert_eq!(settings.upload_limit, 50 * 1024 * 1024);
        assert!(matches!(settings.auth.jwt_key, JwtKeySource::DevKey));
    }

    #[test]
    fn any_clerk_key_turns_on_production_and_every_missing_secret_is_named() {
        let err = Settings::from_vars(&vars(&[("CLERK_JWT_KEY", "pem")])).unwrap_err();
        let ConfigError::MissingSecrets(missing) = err else { panic!("expected missing secrets") };
        for name in [
            "DATABASE_URL",
            "RIVVI_DATA_KEY",
            "RIVVI_INDEX_KEY",
            "CLERK_WEBHOOK_SIGNING_SECRET",
            "LLM_BASE_URL",
        ] {
            assert!(missing.contains(&name), "{name} not reported in {missing:?}");
        }
        assert!(!missing.contains(&"CLERK_JWT_KEY or CLERK_JWKS_URL"));
    }

    #[test]
    fn explicit_development_keeps_the_defaults_but_verifies_with_the_clerk_key() {
        let settings =
            Settings::from_vars(&vars(&[("RIVVI_ENV", "development"), ("CLERK_JWT_KEY", "pem")])).unwrap();
        assert!(!settings.production);
        assert!(matches!(settings.auth.jwt_key, JwtKeySource::Pem(_)));
        assert!(settings.database_url.starts_with("sqlite://"));
    }

    #[test]
    fn production_flag_without_any_key_names_the_jwt_key_too() {
        let err = Settings::from_vars(&vars(&[("RIVVI_ENV", "production")])).unwrap_err();
        assert!(err.to_string().contains("CLERK_JWT_KEY or CLERK_JWKS_URL"));
    }

    #[test]
    fn secrets_do_not_appear_in_debug_output() {
        let settings = Settings::from_vars(&vars(&[("RIVVI_DATA_KEY", "supersecret")])).unwrap();
        assert!(!format!("{settings:?}").contains("supersecret"));
    }

    #[test]
    fn an_s3_storage_url_is_parsed_with_its_endpoint() {
        let settings = Settings::from_vars(&vars(&[
            ("STORAGE_URL", "s3://rivvi-uploads/prod"),
            ("S3_ENDPOINT", "http://127.0.0.1:9000"),
            ("RIVVI_UPLOAD_LIMIT", "1048576"),
        ]))
        .unwrap();
        assert_eq!(
            settings.storage.location,
            StorageLocation::S3 { bucket: "rivvi-uploads".into(), prefix: "prod".into() }
        );
        assert_eq!(settings.storage.s3_endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(settings.upload_limit, 1_048_576);
    }

    #[test]
    fn bad_storage_settings_are_named() {
        let err = Settings::from_vars(&vars(&[("STORAGE_URL", "ftp://x")])).unwrap_err();
        assert!(err.to_string().contains("STORAGE_URL"), "{err}");
        let err = Settings::from_vars(&vars(&[("RIVVI_UPLOAD_LIMIT", "0")])).unwrap_err();
        assert!(err.to_string().contains("RIVVI_UPLOAD_LIMIT"), "{err}");
    }

    #[test]
    fn the_language_model_is_read_with_its_key_kept_out_of_debug_output() {
        let settings = Settings::from_vars(&HashMap::new()).unwrap();
        assert_eq!((settings.llm_base_url, settings.llm_api_key, settings.llm_model), (None, None, None));
        assert_eq!(settings.llm_request_timeout, DEFAULT_LLM_TIMEOUT);

        let settings = Settings::from_vars(&vars(&[
            ("LLM_BASE_URL", "https://api.openai.com/v1"),
            ("LLM_API_KEY", "sk-topsecret"),
            ("LLM_MODEL", "gpt-4.1-mini"),
        ]))
        .unwrap();
        assert_eq!(settings.llm_base_url.as_deref(), Some("https://api.openai.com/v1"));
        assert_eq!(settings.llm_api_key.as_ref().map(Secret::expose), Some("sk-topsecret"));
        assert_eq!(settings.llm_model.as_deref(), Some("gpt-4.1-mini"));
        assert!(!format!("{settings:?}").contains("sk-topsecret"));
    }

    #[test]
    fn limits_and_the_metrics_listener_have_defaults_and_can_be_turned_off() {
        let settings = Settings::from_vars(&HashMap::new()).unwrap();
        assert_eq!(settings.metrics_listen, MetricsListen::Default("127.0.0.1:9464".parse().unwrap()));
        let rpc = settings.rate_limits.rpc.unwrap();
        assert_eq!((rpc.per_minute.get(), rpc.burst.get()), (DEFAULT_RPC_PER_MINUTE, DEFAULT_RPC_BURST));
        assert!(settings.rate_limits.webhook.is_some());
        assert!(settings.rate_limits.trusted_proxies.is_empty());

        let settings = Settings::from_vars(&vars(&[
            ("RIVVI_METRICS_LISTEN", "off"),
            ("RIVVI_RATE_LIMIT_RPC_PER_MINUTE", "OFF"),
            ("RIVVI_RATE_LIMIT_WEBHOOK_PER_MINUTE", "60"),
            ("RIVVI_RATE_LIMIT_WEBHOOK_BURST", "5"),
            ("RIVVI_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7,fd00::/8"),
        ]))
        .unwrap();
        assert_eq!(settings.metrics_listen, MetricsListen::Off);
        assert_eq!(settings.rate_limits.rpc, None);
        let webhook = settings.rate_limits.webhook.unwrap();
        assert_eq!((webhook.per_minute.get(), webhook.burst.get()), (60, 5));
        let proxies = &settings.rate_limits.trusted_proxies;
        let trusted = |ip: &str| proxies.iter().any(|p| p.contains(ip.parse().unwrap()));
        assert!(trusted("10.1.2.3") && trusted("192.0.2.7") && trusted("fd00::1"));
        assert!(trusted("::ffff:10.9.9.9"), "an IPv4-mapped peer is its IPv4 address");
        assert!(!trusted("11.0.0.1") && !trusted("192.0.2.8") && !trusted("fe80::1"));

        let settings = Settings::from_vars(&vars(&[("RIVVI_METRICS_LISTEN", "0.0.0.0:9100")])).unwrap();
        assert_eq!(settings.metrics_listen, MetricsListen::Configured("0.0.0.0:9100".parse().unwrap()));
    }

    #[test]
    fn bad_limits_are_named() {
        for (name, value) in [
            ("RIVVI_RATE_LIMIT_RPC_PER_MINUTE", "0"),
            ("RIVVI_RATE_LIMIT_RPC_BURST", "-3"),
            ("RIVVI_RATE_LIMIT_WEBHOOK_PER_MINUTE", "lots"),
            ("RIVVI_RATE_LIMIT_WEBHOOK_BURST", "1.5"),
            ("RIVVI_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("RIVVI_TRUSTED_PROXIES", "proxy.internal"),
            ("RIVVI_METRICS_LISTEN", "9464"),
        ] {
            let err = Settings::from_vars(&vars(&[(name, value)])).unwrap_err();
            assert!(err.to_string().contains(name), "{name}={value}: {err}");
        }
    }

    #[test]
    fn the_retention_period_defaults_to_an_hour_reads_units_and_can_be_turned_off() {
        let every = |value: &str| Settings::from_vars(&vars(&[("RIVVI_RETENTION_EVERY", value)]));
        assert_eq!(
            Settings::from_vars(&HashMap::new()).unwrap().retention_every,
            Some(DEFAULT_RETENTION_EVERY)
        );
        assert_eq!(every("200ms").unwrap().retention_every, Some(Duration::from_millis(200)));
        assert_eq!(every("45s").unwrap().retention_every, Some(Duration::from_secs(45)));
        assert_eq!(every("15m").unwrap().retention_every, Some(Duration::from_secs(900)));
        assert_eq!(every("2h").unwrap().retention_every, Some(Duration::from_secs(7200)));
        assert_eq!(every("1d").unwrap().retention_every, Some(Duration::from_secs(86_400)));
        assert_eq!(every("OFF").unwrap().retention_every, None);
        for bad in ["0s", "1", "h", "1.5h", "-1h", "1w", "99999999999999999d"] {
            let err = every(bad).unwrap_err();
            assert!(err.to_string().contains("RIVVI_RETENTION_EVERY"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_bad_listen_address_is_named() {
        let err = Settings::from_vars(&vars(&[("RIVVI_LISTEN", "nope")])).unwrap_err();
        assert!(err.to_string().contains("RIVVI_LISTEN"));
    }
}
