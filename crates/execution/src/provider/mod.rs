//! The voice provider seam: [`VoiceProvider`] (calls, and the agents and LLMs that carry a
//! campaign's prompt, in published versions), what goes in ([`CreateCall`], [`AgentConfig`]),
//! what comes out ([`ProviderCall`], [`AgentVersion`]) and how it fails ([`ProviderError`]).
//!
//! The engine holds an `Arc<dyn VoiceProvider>`: in production a
//! [`RetellClient`](crate::retell::RetellClient), in development and tests the same client
//! pointed at the built-in simulator (or the [`Simulator`](crate::simulator::Simulator)
//! itself, in process).

mod agent;
mod analysis;
mod call;
mod outcome;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use rivvi_domain::ids::{CallId, CampaignId, OrgId, RunId, RunRowId};
use serde::{Deserialize, Serialize};

pub use agent::{AgentConfig, AgentVersion, LlmSettings, PinnedAgent};
pub use analysis::{AnalysisFieldSpec, AnalysisKind};
pub use call::{CallAnalysis, DisconnectionReason, ProviderCall};
pub use outcome::{classify, FinishedCall};

/// The boxed future every [`VoiceProvider`] method returns (boxed so the trait is usable as
/// `Arc<dyn VoiceProvider>`; one allocation per provider request is nothing next to the request).
pub type ProviderFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

/// A voice provider that places outbound calls and reports on them.
pub trait VoiceProvider: Send + Sync {
    /// Places an outbound call. The returned call is usually `registered`; its progress arrives
    /// by webhook (or by [`VoiceProvider::get_call`]).
    ///
    /// Not idempotent at Retell (no idempotency key): when the error says
    /// [`ProviderError::call_may_exist`], do not redial the same attempt blindly.
    fn create_call(&self, call: CreateCall) -> ProviderFuture<'_, ProviderCall>;

    /// The provider's current view of a call, by the provider's id (`call_…`).
    fn get_call<'a>(&'a self, provider_call_id: &'a str) -> ProviderFuture<'a, ProviderCall>;

    /// Creates a Retell LLM; answers its id (`llm_…`).
    fn create_llm<'a>(&'a self, settings: &'a LlmSettings) -> ProviderFuture<'a, String>;

    /// Replaces the prompt of an LLM's draft.
    fn update_llm<'a>(&'a self, llm_id: &'a str, settings: &'a LlmSettings) -> ProviderFuture<'a, ()>;

    /// Creates an agent on an LLM; answers its id and its first (draft) version.
    fn create_agent<'a>(&'a self, settings: &'a AgentConfig) -> ProviderFuture<'a, (String, AgentVersion)>;

    /// Replaces the settings of an agent's draft; answers the draft's version.
    fn update_agent<'a>(
        &'a self,
        agent_id: &'a str,
        settings: &'a AgentConfig,
    ) -> ProviderFuture<'a, AgentVersion>;

    /// Publishes a draft version in place: from then on it is immutable, and later updates go to
    /// a new draft.
    fn publish_agent_version<'a>(&'a self, agent_id: &'a str, version: u32) -> ProviderFuture<'a, ()>;

    /// Every version of an agent, oldest first.
    fn agent_versions<'a>(&'a self, agent_id: &'a str) -> ProviderFuture<'a, Vec<AgentVersion>>;
}

/// The ids Rivvi attaches to each outbound call (Retell `metadata`), so a webhook can be tied
/// back to its org, run, row and call. Ids only: never PHI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallMetadata {
    /// The organization placing the call.
    pub org_id: OrgId,
    /// The campaign of the run.
    pub campaign_id: CampaignId,
    /// The run.
    pub run_id: RunId,
    /// The run row being called.
    pub row_id: RunRowId,
    /// Our `calls` row for this attempt.
    pub call_id: CallId,
    /// Which attempt this is, starting at 1.
    pub attempt: u32,
}

/// An outbound call to place.
#[derive(Clone, PartialEq)]
pub struct CreateCall {
    /// The organization's caller number, E.164.
    pub from_number: String,
    /// The patient's number, E.164.
    pub to_number: String,
    /// Use this agent instead of the one bound to `from_number`.
    pub override_agent_id: Option<String>,
    /// This published version of it (the run's pinned version); `None` takes the latest.
    pub override_agent_version: Option<u32>,
    /// Prompt variables (Retell `retell_llm_dynamic_variables`); PHI.
    pub dynamic_variables: BTreeMap<String, String>,
    /// The analysis fields to extract (the campaign's and the built-in opt-out, see
    /// [`AnalysisFieldSpec::requested`]). Retell gets them as a per-call
    /// `agent_override.agent.post_call_analysis_data`, so a shared agent is never modified; empty
    /// sends no override and the agent's own configuration applies.
    pub analysis_fields: Vec<AnalysisFieldSpec>,
    /// Ids for the webhooks to find their way back.
    pub metadata: CallMetadata,
}

impl fmt::Debug for CreateCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateCall")
            .field("override_agent_id", &self.override_agent_id)
            .field("override_agent_version", &self.override_agent_version)
            .field("dynamic_variables", &self.dynamic_variables.keys().collect::<Vec<_>>())
            .field("analysis_fields", &self.analysis_fields.len())
            .field("metadata", &self.metadata)
            .finish_non_exhaustive()
    }
}

/// How a [`ProviderError`] should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Worth trying again later: timeouts, rate limits, 5xx, unreachable provider.
    Retryable,
    /// Trying again will fail the same way: 4xx, invalid numbers, bad credentials.
    Permanent,
    /// The provider does not know the call.
    NotFound,
}

/// A provider request that failed. Messages never carry PHI (long digit runs from provider
/// messages are masked).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    // not found
    /// 404 on a call id.
    #[error("provider call not found <call_id={0}>")]
    NotFound(String),

    // permanent
    /// A 4xx other than 404, 408 and 429: invalid number, bad API key, bad request.
    #[error("provider rejected the request <status={status}>: {message}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The provider's message, digits masked.
        message: String,
    },
    /// Refused before sending (such as an unusable base URL).
    #[error("invalid provider request: {0}")]
    InvalidRequest(String),
    /// A success status with a body we cannot read.
    #[error("unreadable provider response: {0}")]
    Protocol(String),

    // retryable
    /// 429.
    #[error("provider rate limit <retry_after={retry_after:?}>")]
    RateLimited {
        /// What `Retry-After` asked for, when present.
        retry_after: Option<Duration>,
    },
    /// 5xx (or 408).
    #[error("provider server error <status={status}>: {message}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The provider's message, digits masked.
        message: String,
    },
    /// No answer within the per-request timeout or the overall deadline.
    #[error("provider request timed out")]
    Timeout,
    /// The connection could not be made: the request was never sent.
    #[error("cannot connect to the provider: {0}")]
    Connect(String),
    /// The connection failed after the request may have been sent.
    #[error("provider connection failed: {0}")]
    Transport(String),
}

impl ProviderError {
    /// Retryable, permanent or not found.
    pub fn class(&self) -> ErrorClass {
        match self {
            ProviderError::NotFound(_) => ErrorClass::NotFound,
            ProviderError::Rejected { .. }
            | ProviderError::InvalidRequest(_)
            | ProviderError::Protocol(_) => ErrorClass::Permanent,
            ProviderError::RateLimited { .. }
            | ProviderError::Server { .. }
            | ProviderError::Timeout
            | ProviderError::Connect(_)
            | ProviderError::Transport(_) => ErrorClass::Retryable,
        }
    }

    /// Whether trying again may succeed.
    pub fn is_retryable(&self) -> bool {
        self.class() == ErrorClass::Retryable
    }

    /// Whether a failed `create_call` may nevertheless have placed the call (the request
    /// reached the provider and the answer was lost or unclear). The engine should reconcile
    /// such an attempt rather than redial it.
    pub fn call_may_exist(&self) -> bool {
        matches!(
            self,
            ProviderError::Timeout
                | ProviderError::Transport(_)
                | ProviderError::Server { .. }
                | ProviderError::Protocol(_)
        )
    }
}

/// Masks runs of 7 or more digits (phone numbers, dates of birth written without separators) in
/// provider text that ends up in errors and logs, and caps its length.
pub(crate) fn mask_digits(text: &str) -> String {
    const MAX_CHARS: usize = 300;
    let mut out = String::with_capacity(text.len().min(MAX_CHARS));
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 7 {
            out.push_str("<digits>");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars().take(MAX_CHARS) {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_fall_into_three_classes() {
        let cases = [
            (ProviderError::NotFound("call_1".into()), ErrorClass::NotFound),
            (ProviderError::Rejected { status: 400, message: String::new() }, ErrorClass::Permanent),
            (ProviderError::Rejected { status: 401, message: String::new() }, ErrorClass::Permanent),
            (ProviderError::RateLimited { retry_after: None }, ErrorClass::Retryable),
            (ProviderError::Server { status: 503, message: String::new() }, ErrorClass::Retryable),
            (ProviderError::Timeout, ErrorClass::Retryable),
            (ProviderError::Connect("refused".into()), ErrorClass::Retryable),
        ];
        for (error, class) in cases {
            assert_eq!(error.class(), class, "{error}");
        }
        assert!(!ProviderError::Connect("refused".into()).call_may_exist());
        assert!(ProviderError::Timeout.call_may_exist());
    }

    #[test]
    fn provider_messages_lose_their_phone_numbers() {
        assert_eq!(mask_digits("to_number +13125550143 is invalid"), "to_number +<digits> is invalid");
        assert_eq!(mask_digits("retry in 30 s"), "retry in 30 s");
    }

    #[test]
    fn metadata_serializes_as_snake_case_ids() {
        let m = CallMetadata {
            org_id: OrgId::new(),
            campaign_id: CampaignId::new(),
            run_id: RunId::new(),
            row_id: RunRowId::new(),
            call_id: CallId::new(),
            attempt: 2,
        };
        let value = serde_json::to_value(m).unwrap();
        let mut keys: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["attempt", "call_id", "campaign_id", "org_id", "row_id", "run_id"]);
        assert_eq!(serde_json::from_value::<CallMetadata>(value).unwrap(), m);
    }
}
