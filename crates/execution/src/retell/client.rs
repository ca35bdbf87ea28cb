//! [`RetellClient`]: the production [`VoiceProvider`], over Retell's HTTP API (or the built-in
//! simulator's copy of it).
//!
//! Every request has a per-request timeout and the whole operation, retries included, a
//! deadline. Retries use full-jitter exponential backoff and honour `Retry-After`:
//! - `get-call` (a read) retries 429, 408, 5xx, timeouts and connection failures;
//! - `create-phone-call` retries 429, 408, 5xx and connection failures, but **not** a timeout or a
//!   connection lost mid-request: Retell has no idempotency key, the call may already be ringing,
//!   and dialling a patient twice is worse than one failed attempt. Such errors say
//!   [`ProviderError::call_may_exist`].
//! - The agent calls follow the same rule: reads and replacing updates (`update-retell-llm`,
//!   `update-agent`, `get-agent-versions`) retry everything retryable; creates and
//!   `publish-agent-version` do not retry a request that may have arrived, so a lost answer is
//!   an error the caller reconciles (a retried create would leave a second, unrecorded object).

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};
use serde::de::{DeserializeOwned, IgnoredAny};
use tokio::time::Instant;
use tracing::Instrument;

use super::api::{
    AgentRequest, AgentResponse, CreatePhoneCallRequest, ErrorBody, PublishAgentVersionRequest,
    RetellLlmRequest, RetellLlmResponse,
};
use crate::http_base::retry_after;
use crate::provider::{
    mask_digits, AgentConfig, AgentVersion, CreateCall, LlmSettings, ProviderCall, ProviderError,
    ProviderFuture, VoiceProvider,
};

/// How to reach Retell and how patient to be.
#[derive(Clone)]
pub struct RetellConfig {
    /// `https://api.retellai.com`, or the simulator's `http://<addr>/simulator/retell`.
    pub base_url: String,
    /// The API key (`Authorization: Bearer`), also the webhook signing key.
    pub api_key: String,
    /// Longest wait for one HTTP exchange.
    pub request_timeout: Duration,
    /// Longest wait for a whole operation, retries and backoff included.
    pub deadline: Duration,
    /// Retries after the first try.
    pub max_retries: u32,
    /// The first backoff; each retry doubles it, with full jitter.
    pub backoff_base: Duration,
    /// The longest backoff (and the longest `Retry-After` honoured).
    pub backoff_cap: Duration,
    /// The voice of the agents Rivvi creates (`voice_id`).
    pub voice_id: String,
}

/// The voice of Rivvi-created agents unless configured (one of Retell's stock voices).
pub const DEFAULT_VOICE_ID: &str = "retell-Cimo";

impl RetellConfig {
    /// Production defaults: 10 s per request, 30 s per operation, 3 retries from 250 ms, the
    /// [`DEFAULT_VOICE_ID`].
    pub fn new(base_url: impl Into<String>, api_key: impl Into<String>) -> Self {
        RetellConfig {
            base_url: base_url.into(),
            api_key: api_key.into(),
            request_timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(30),
            max_retries: 3,
            backoff_base: Duration::from_millis(250),
            backoff_cap: Duration::from_secs(5),
            voice_id: DEFAULT_VOICE_ID.to_owned(),
        }
    }
}

impl fmt::Debug for RetellConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetellConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"***")
            .field("request_timeout", &self.request_timeout)
            .field("deadline", &self.deadline)
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

/// Retell over HTTP. Cheap to share (`Arc<dyn VoiceProvider>`); holds one connection pool.
#[derive(Debug, Clone)]
pub struct RetellClient {
    http: reqwest::Client,
    base_url: String,
    config: RetellConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation<'a> {
    /// A create (or publish): a request that may have arrived is not sent again.
    Create,
    /// A read or a replacing update about this id (a 404 is about it): safe to repeat.
    Repeatable(&'a str),
}

impl RetellClient {
    /// Builds the client; fails only on a base URL that is not `http(s)://…`.
    pub fn new(config: RetellConfig) -> Result<Self, ProviderError> {
        let base_url =
            crate::http_base::http_base_url(&config.base_url).map_err(ProviderError::InvalidRequest)?;
        let http = crate::http_base::http_client(config.request_timeout)
            .build()
            .map_err(|e| ProviderError::InvalidRequest(format!("http client: {e}")))?;
        Ok(RetellClient { http, base_url, config })
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    async fn execute<T: DeserializeOwned>(
        &self,
        operation: Operation<'_>,
        request: impl Fn() -> RequestBuilder,
    ) -> Result<T, ProviderError> {
        let deadline = Instant::now() + self.config.deadline;
        let mut retries = 0;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ProviderError::Timeout);
            }
            let timeout = self.config.request_timeout.min(left);
            let error = match self.once(operation, request().timeout(timeout)).await {
                Ok(answer) => return Ok(answer),
                Err(error) => error,
            };
            if retries >= self.config.max_retries || !should_retry(operation, &error) {
                return Err(error);
            }
            let delay = match &error {
                ProviderError::RateLimited { retry_after: Some(after) } => *after,
                _ => backoff(self.config.backoff_base, self.config.backoff_cap, retries),
            };
            if Instant::now() + delay >= deadline {
                return Err(error);
            }
            retries += 1;
            tracing::warn!(error = %error, retry = retries, delay_ms = delay.as_millis() as u64, "retrying provider request");
            tokio::time::sleep(delay).await;
        }
    }

    async fn once<T: DeserializeOwned>(
        &self,
        operation: Operation<'_>,
        request: RequestBuilder,
    ) -> Result<T, ProviderError> {
        let response = request.send().await.map_err(transport_error)?;
        let status = response.status();
        if status.is_success() {
            let body = response.bytes().await.map_err(transport_error)?;
            // `publish-agent-version` answers no body; `IgnoredAny` reads that as well as JSON.
            let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"null" } else { &body };
            return serde_json::from_slice::<T>(body).map_err(|e| {
                // Only the position: serde's message may quote the body, which holds PHI.
                ProviderError::Protocol(format!(
                    "{:?} error at line {} column {}",
                    e.classify(),
                    e.line(),
                    e.column()
                ))
            });
        }
        let retry_after = retry_after(response.headers(), self.config.backoff_cap);
        let body = response.bytes().await.unwrap_or_default();
        let message = serde_json::from_slice::<ErrorBody>(&body)
            .map(|b| b.error_message)
            .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned());
        let message = mask_digits(message.trim());
        Err(match (status, operation) {
            (StatusCode::NOT_FOUND, Operation::Repeatable(id)) => ProviderError::NotFound(id.to_owned()),
            (StatusCode::TOO_MANY_REQUESTS, _) => ProviderError::RateLimited { retry_after },
            (StatusCode::REQUEST_TIMEOUT, _) => ProviderError::Server { status: status.as_u16(), message },
            (s, _) if s.is_server_error() => ProviderError::Server { status: s.as_u16(), message },
            (s, _) => ProviderError::Rejected { status: s.as_u16(), message },
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

/// An id that goes into a URL path: refuse anything that could change the path.
fn path_id<'a>(what: &str, id: &'a str) -> Result<&'a str, ProviderError> {
    let safe = !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if safe {
        Ok(id)
    } else {
        Err(ProviderError::InvalidRequest(format!("{what} has unexpected characters")))
    }
}

impl VoiceProvider for RetellClient {
    fn create_call(&self, call: CreateCall) -> ProviderFuture<'_, ProviderCall> {
        let span = tracing::info_span!(
            "retell.create_call",
            run_id = %call.metadata.run_id,
            row_id = %call.metadata.row_id,
            attempt = call.metadata.attempt,
        );
        Box::pin(
            async move {
                let body = CreatePhoneCallRequest::from(&call);
                let url = self.url("/v2/create-phone-call");
                let call: ProviderCall = self
                    .execute(Operation::Create, || {
                        self.http.post(&url).bearer_auth(&self.config.api_key).json(&body)
                    })
                    .await?;
                tracing::info!(provider_call_id = %call.call_id, "call created");
                Ok(call)
            }
            .instrument(span),
        )
    }

    fn get_call<'a>(&'a self, provider_call_id: &'a str) -> ProviderFuture<'a, ProviderCall> {
        let span = tracing::info_span!("retell.get_call", provider_call_id = %provider_call_id);
        Box::pin(
            async move {
                let id = path_id("provider call id", provider_call_id)?;
                let url = self.url(&format!("/v2/get-call/{id}"));
                self.execute(Operation::Repeatable(id), || {
                    self.http.get(&url).bearer_auth(&self.config.api_key)
                })
                .await
            }
            .instrument(span),
        )
    }

    fn create_llm<'a>(&'a self, settings: &'a LlmSettings) -> ProviderFuture<'a, String> {
        Box::pin(
            async move {
                let body = RetellLlmRequest::from(settings);
                let url = self.url("/create-retell-llm");
                let llm: RetellLlmResponse = self
                    .execute(Operation::Create, || {
                        self.http.post(&url).bearer_auth(&self.config.api_key).json(&body)
                    })
                    .await?;
                tracing::info!(llm_id = %llm.llm_id, "retell llm created");
                Ok(llm.llm_id)
            }
            .instrument(tracing::info_span!("retell.create_llm")),
        )
    }

    fn update_llm<'a>(&'a self, llm_id: &'a str, settings: &'a LlmSettings) -> ProviderFuture<'a, ()> {
        Box::pin(
            async move {
                let id = path_id("llm id", llm_id)?;
                let body = RetellLlmRequest::from(settings);
                let url = self.url(&format!("/update-retell-llm/{id}"));
                let _: RetellLlmResponse = self
                    .execute(Operation::Repeatable(id), || {
                        self.http.patch(&url).bearer_auth(&self.config.api_key).json(&body)
                    })
                    .await?;
                Ok(())
            }
            .instrument(tracing::info_span!("retell.update_llm", llm_id = %llm_id)),
        )
    }

    fn create_agent<'a>(&'a self, settings: &'a AgentConfig) -> ProviderFuture<'a, (String, AgentVersion)> {
        Box::pin(
            async move {
                let body = AgentRequest::new(settings, &self.config.voice_id);
                let url = self.url("/create-agent");
                let agent: AgentResponse = self
                    .execute(Operation::Create, || {
                        self.http.post(&url).bearer_auth(&self.config.api_key).json(&body)
                    })
                    .await?;
                tracing::info!(agent_id = %agent.agent_id, "retell agent created");
                Ok((agent.agent_id.clone(), agent.agent_version()))
            }
            .instrument(tracing::info_span!("retell.create_agent")),
        )
    }

    fn update_agent<'a>(
        &'a self,
        agent_id: &'a str,
        settings: &'a AgentConfig,
    ) -> ProviderFuture<'a, AgentVersion> {
        Box::pin(
            async move {
                let id = path_id("agent id", agent_id)?;
                let body = AgentRequest::new(settings, &self.config.voice_id);
                let url = self.url(&format!("/update-agent/{id}"));
                let agent: AgentResponse = self
                    .execute(Operation::Repeatable(id), || {
                        self.http.patch(&url).bearer_auth(&self.config.api_key).json(&body)
                    })
                    .await?;
                Ok(agent.agent_version())
            }
            .instrument(tracing::info_span!("retell.update_agent", agent_id = %agent_id)),
        )
    }

    fn publish_agent_version<'a>(&'a self, agent_id: &'a str, version: u32) -> ProviderFuture<'a, ()> {
        Box::pin(
            async move {
                let id = path_id("agent id", agent_id)?;
                let body = PublishAgentVersionRequest {
                    version,
                    version_description: Some("published by Rivvi".to_owned()),
                };
                let url = self.url(&format!("/publish-agent-version/{id}"));
                let _: IgnoredAny = self
                    .execute(Operation::Create, || {
                        self.http.post(&url).bearer_auth(&self.config.api_key).json(&body)
                    })
                    .await?;
                tracing::info!(version, "retell agent version published");
                Ok(())
            }
            .instrument(tracing::info_span!("retell.publish_agent_version", agent_id = %agent_id)),
        )
    }

    fn agent_versions<'a>(&'a self, agent_id: &'a str) -> ProviderFuture<'a, Vec<AgentVersion>> {
        Box::pin(
            async move {
                let id = path_id("agent id", agent_id)?;
                let url = self.url(&format!("/get-agent-versions/{id}"));
                let versions: Vec<AgentResponse> = self
                    .execute(Operation::Repeatable(id), || {
                        self.http.get(&url).bearer_auth(&self.config.api_key)
                    })
                    .await?;
                let mut versions: Vec<AgentVersion> =
                    versions.iter().map(AgentResponse::agent_version).collect();
                versions.sort_by_key(|v| v.version);
                Ok(versions)
            }
            .instrument(tracing::info_span!("retell.agent_versions", agent_id = %agent_id)),
        )
    }
}

fn should_retry(operation: Operation<'_>, error: &ProviderError) -> bool {
    match error {
        ProviderError::RateLimited { .. } | ProviderError::Server { .. } | ProviderError::Connect(_) => true,
        ProviderError::Timeout | ProviderError::Transport(_) => matches!(operation, Operation::Repeatable(_)),
        _ => false,
    }
}

fn transport_error(error: reqwest::Error) -> ProviderError {
    if error.is_timeout() {
        ProviderError::Timeout
    } else if error.is_connect() {
        ProviderError::Connect(error.without_url().to_string())
    } else {
        ProviderError::Transport(error.without_url().to_string())
    }
}

/// Full jitter: uniform in [0, min(cap, base * 2^retry)].
fn backoff(base: Duration, cap: Duration, retry: u32) -> Duration {
    let ceiling = base.saturating_mul(2u32.saturating_pow(retry)).min(cap);
    let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    if ceiling_ms == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(random_u64() % (ceiling_ms + 1))
}

/// A random number without a dependency: std's per-instance hasher keys are random.
fn random_u64() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0x5eed);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_under_its_doubling_ceiling_and_the_cap() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_millis(500);
        for retry in 0..8 {
            let ceiling = (base * 2u32.pow(retry)).min(cap);
            for _ in 0..50 {
                assert!(backoff(base, cap, retry) <= ceiling);
            }
        }
    }

    #[test]
    fn creates_are_not_retried_when_the_call_may_exist() {
        let get = Operation::Repeatable("call_1");
        assert!(should_retry(get, &ProviderError::Timeout));
        assert!(!should_retry(Operation::Create, &ProviderError::Timeout));
        assert!(!should_retry(Operation::Create, &ProviderError::Transport("reset".into())));
        assert!(should_retry(Operation::Create, &ProviderError::Connect("refused".into())));
        assert!(should_retry(
            Operation::Create,
            &ProviderError::Server { status: 503, message: String::new() }
        ));
        assert!(!should_retry(
            Operation::Create,
            &ProviderError::Rejected { status: 400, message: String::new() }
        ));
    }

    #[test]
    fn a_base_url_must_be_http() {
        assert!(RetellClient::new(RetellConfig::new("ftp://x", "k")).is_err());
        let client = RetellClient::new(RetellConfig::new("http://127.0.0.1:1/sim/", "k")).unwrap();
        assert_eq!(client.base_url(), "http://127.0.0.1:1/sim");
        assert!(!format!("{:?}", RetellConfig::new("http://x", "key_secret")).contains("key_secret"));
    }
}
