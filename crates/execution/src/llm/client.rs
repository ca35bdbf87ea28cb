//! [`LlmClient`]: prompt variations from an OpenAI-compatible `POST {base_url}/chat/completions`
//! (OpenAI, Azure-style gateways, vLLM, or the built-in stand-in).
//!
//! One attempt per call, bounded by the request timeout, and no retries: a person is waiting on
//! the answer, so a rate limit is reported at once with its `Retry-After` for them (or the
//! procedure) to act on, rather than spent waiting here. Provider bodies are never echoed whole:
//! error messages are cut to [`MAX_MESSAGE_CHARS`], unparsable answers are described by position
//! only (the answer quotes the prompt), and answers beyond [`MAX_RESPONSE_BYTES`] are refused.

use std::fmt;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use tracing::Instrument;

use super::api::{ChatCompletion, ErrorResponse, FinishReason};
use super::variation::{chat_request, ProposedVariation, VariationAnswer, VariationRequest};
use crate::http_base::retry_after;

/// The longest provider error message kept in an [`LlmError`], in characters.
pub const MAX_MESSAGE_CHARS: usize = 200;
/// The largest answer read, in bytes: a 50 000-character prompt, JSON-escaped twice (the answer
/// is JSON inside a JSON string), with room to spare.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// The longest `Retry-After` reported: beyond it, "later" is all a user needs to know.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// How to reach the model.
#[derive(Clone)]
pub struct LlmConfig {
    /// `https://api.openai.com/v1`, or the stand-in's `http://<addr>/llm-stand-in/v1`;
    /// `/chat/completions` is appended.
    pub base_url: String,
    /// Sent as `Authorization: Bearer`; empty sends none (a local server may need none).
    pub api_key: String,
    /// The model to ask, such as `gpt-4o-mini`. It must support JSON-schema structured outputs.
    pub model: String,
    /// Longest wait for the whole answer.
    pub request_timeout: Duration,
}

impl LlmConfig {
    /// The default timeout: rewriting a long prompt takes a model tens of seconds.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

    /// A configuration with [`LlmConfig::DEFAULT_TIMEOUT`].
    pub fn new(base_url: impl Into<String>, api_key: impl Into<String>, model: impl Into<String>) -> Self {
        LlmConfig {
            base_url: base_url.into(),
            api_key: api_key.into(),
            model: model.into(),
            request_timeout: Self::DEFAULT_TIMEOUT,
        }
    }
}

impl fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"***")
            .field("model", &self.model)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

/// Why no variation came back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    // user errors (worth trying again later)
    /// No complete answer within the request timeout.
    #[error("the language model did not answer in time")]
    Timeout,
    /// 429: too many requests (or tokens) for now.
    #[error("the language model is rate limited{}", retry_hint(.retry_after))]
    RateLimited {
        /// How long the provider asked us to wait, if it said (capped at five minutes).
        retry_after: Option<Duration>,
    },
    // internal
    /// An answer we cannot use: not a chat completion, no choices, cut off, refused, or content
    /// that does not match the schema. Says where, never what.
    #[error("the language model's answer is unusable: {0}")]
    Malformed(String),
    /// A 4xx other than 429: a bad key, an unknown model, a request the provider refuses.
    #[error("the language model refused the request ({status}): {message}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The provider's message, cut to [`MAX_MESSAGE_CHARS`].
        message: String,
    },
    /// The endpoint cannot be reached, or failed (5xx, 408).
    #[error("the language model is unavailable: {0}")]
    Unavailable(String),
    /// The request cannot be made: a base URL that is not http(s), or a request that does not
    /// encode as JSON.
    #[error("invalid language model configuration: {0}")]
    InvalidConfig(String),
}

fn retry_hint(retry_after: &Option<Duration>) -> String {
    retry_after.map(|d| format!(" (retry after {} s)", d.as_secs())).unwrap_or_default()
}

/// An OpenAI-compatible chat-completions client. Cheap to clone: one shared connection pool.
#[derive(Debug, Clone)]
pub struct LlmClient {
    http: reqwest::Client,
    /// `{base_url}/chat/completions`.
    endpoint: String,
    config: LlmConfig,
}

impl LlmClient {
    /// Builds the client; fails only on a base URL that is not `http(s)://…`.
    pub fn new(config: LlmConfig) -> Result<Self, LlmError> {
        let base_url = crate::http_base::http_base_url(&config.base_url).map_err(LlmError::InvalidConfig)?;
        let endpoint = format!("{base_url}/chat/completions");
        let http = crate::http_base::http_client(config.request_timeout)
            .timeout(config.request_timeout)
            .build()
            .map_err(|e| LlmError::InvalidConfig(format!("http client: {e}")))?;
        Ok(LlmClient { http, endpoint, config })
    }

    /// Where requests go.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The model asked.
    pub fn model(&self) -> &str {
        &self.config.model
    }

    /// Asks the model for a variation of `request.base_prompt` that does what `request.request`
    /// says. The answer is unchecked: pass it to
    /// [`check_variation`](rivvi_domain::prompt::check_variation).
    pub async fn propose_variation(&self, request: &VariationRequest) -> Result<ProposedVariation, LlmError> {
        let span = tracing::info_span!("llm.propose_variation", model = %self.config.model);
        async move {
            let result = self.ask(request).await;
            match &result {
                Ok(proposal) => tracing::info!(answered_by = %proposal.model, "variation proposed"),
                Err(error) => tracing::warn!(error = %error, "no variation"),
            }
            result
        }
        .instrument(span)
        .await
    }

    async fn ask(&self, request: &VariationRequest) -> Result<ProposedVariation, LlmError> {
        let body = chat_request(&self.config.model, request)
            .map_err(|e| LlmError::InvalidConfig(format!("encoding the request: {e}")))?;
        let mut builder = self.http.post(&self.endpoint).json(&body);
        if !self.config.api_key.is_empty() {
            builder = builder.bearer_auth(&self.config.api_key);
        }
        let mut response = builder.send().await.map_err(transport_error)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_limited(&mut response).await?;
        if !status.is_success() {
            return Err(status_error(status, &headers, &body));
        }
        parse_answer(&body)
    }
}

/// The body, refused beyond [`MAX_RESPONSE_BYTES`] (a runaway answer, or not an LLM at all).
async fn read_limited(response: &mut reqwest::Response) -> Result<Vec<u8>, LlmError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(LlmError::Malformed(format!("answer larger than {MAX_RESPONSE_BYTES} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn transport_error(error: reqwest::Error) -> LlmError {
    if error.is_timeout() {
        LlmError::Timeout
    } else if error.is_connect() {
        LlmError::Unavailable(format!("cannot connect: {}", error.without_url()))
    } else {
        LlmError::Unavailable(error.without_url().to_string())
    }
}

/// The error for a non-2xx answer.
fn status_error(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> LlmError {
    let message = serde_json::from_slice::<ErrorResponse>(body)
        .map(|e| e.error.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(body).into_owned());
    let message = cut(message.trim(), MAX_MESSAGE_CHARS);
    match status {
        StatusCode::TOO_MANY_REQUESTS => {
            LlmError::RateLimited { retry_after: retry_after(headers, MAX_RETRY_AFTER) }
        }
        StatusCode::REQUEST_TIMEOUT => LlmError::Unavailable(format!("status 408: {message}")),
        s if s.is_server_error() => LlmError::Unavailable(format!("status {}: {message}", s.as_u16())),
        s => LlmError::Rejected { status: s.as_u16(), message },
    }
}

/// A 2xx body: a chat completion whose first choice's content matches the answer schema.
fn parse_answer(body: &[u8]) -> Result<ProposedVariation, LlmError> {
    let completion: ChatCompletion = serde_json::from_slice(body)
        .map_err(|e| LlmError::Malformed(format!("not a chat completion ({})", position(&e))))?;
    let choice =
        completion.choices.into_iter().next().ok_or_else(|| LlmError::Malformed("no choices".into()))?;
    match choice.finish_reason {
        Some(FinishReason::Length) => return Err(LlmError::Malformed("the answer was cut off".into())),
        Some(FinishReason::ContentFilter) => {
            return Err(LlmError::Malformed("a content filter removed the answer".into()))
        }
        _ => {}
    }
    if choice.message.refusal.is_some_and(|r| !r.trim().is_empty()) {
        return Err(LlmError::Malformed("the model declined to answer".into()));
    }
    let content = choice.message.content.ok_or_else(|| LlmError::Malformed("no content".into()))?;
    let answer: VariationAnswer = serde_json::from_str(&content)
        .map_err(|e| LlmError::Malformed(format!("content does not match the schema ({})", position(&e))))?;
    Ok(ProposedVariation {
        proposed_prompt: answer.proposed_prompt,
        summary: answer.summary,
        model: completion.model,
    })
}

/// Where serde gave up, without its message (which may quote the body).
fn position(error: &serde_json::Error) -> String {
    format!("{:?} error at line {} column {}", error.classify(), error.line(), error.column())
}

/// At most `max` characters, with an ellipsis when cut.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn completion(content: serde_json::Value, finish_reason: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1_764_000_000,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": null},
                "logprobs": null,
                "finish_reason": finish_reason
            }],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            "system_fingerprint": "fp_1"
        }))
        .unwrap()
    }

    fn malformed(result: Result<ProposedVariation, LlmError>) -> String {
        match result {
            Err(LlmError::Malformed(reason)) => reason,
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn an_openai_answer_gives_the_proposal_and_the_answering_model() {
        let content = json!({"proposedPrompt": "Hi {{first_name}}!", "summary": "Warmer."}).to_string();
        let proposal = parse_answer(&completion(json!(content), "stop")).unwrap();
        assert_eq!(
            proposal,
            ProposedVariation {
                proposed_prompt: "Hi {{first_name}}!".into(),
                summary: "Warmer.".into(),
                model: "gpt-4o-mini-2024-07-18".into(),
            }
        );
    }

    #[test]
    fn unusable_answers_are_malformed_without_quoting_them() {
        let secret = "Hi {{first_name}} SECRET PROMPT TEXT";
        let not_json = malformed(parse_answer(&completion(json!(secret), "stop")));
        assert!(not_json.contains("schema") && !not_json.contains("SECRET"), "{not_json}");

        let extra_field = json!({"proposedPrompt": secret, "summary": "s", "extra": 1}).to_string();
        assert!(malformed(parse_answer(&completion(json!(extra_field), "stop"))).contains("schema"));

        let missing_field = json!({"proposedPrompt": secret}).to_string();
        assert!(!malformed(parse_answer(&completion(json!(missing_field), "stop"))).contains("SECRET"));

        let cut_off = json!({"proposedPrompt": "x", "summary": "s"}).to_string();
        assert!(malformed(parse_answer(&completion(json!(cut_off), "length"))).contains("cut off"));

        assert!(malformed(parse_answer(&completion(json!(null), "stop"))).contains("no content"));
        let no_choices = br#"{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[]}"#;
        assert_eq!(malformed(parse_answer(no_choices)), "no choices");
        assert!(malformed(parse_answer(b"<html>SECRET</html>")).contains("not a chat completion"));
    }

    #[test]
    fn a_refusal_is_malformed() {
        let body = serde_json::to_vec(&json!({
            "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "refusal": "I can't"}, "finish_reason": "stop"}]
        }))
        .unwrap();
        assert_eq!(malformed(parse_answer(&body)), "the model declined to answer");
    }

    #[test]
    fn statuses_map_to_errors_with_short_messages() {
        let body = |m: &str| serde_json::to_vec(&json!({"error": {"message": m, "type": "x"}})).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(
            status_error(StatusCode::TOO_MANY_REQUESTS, &headers, &body("slow down")),
            LlmError::RateLimited { retry_after: Some(Duration::from_secs(7)) }
        );
        assert_eq!(
            status_error(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), b""),
            LlmError::RateLimited { retry_after: None }
        );
        assert_eq!(
            status_error(StatusCode::UNAUTHORIZED, &HeaderMap::new(), &body("Incorrect API key")),
            LlmError::Rejected { status: 401, message: "Incorrect API key".into() }
        );
        assert!(matches!(
            status_error(StatusCode::BAD_GATEWAY, &HeaderMap::new(), b"<html>bad gateway</html>"),
            LlmError::Unavailable(m) if m.starts_with("status 502")
        ));
        assert!(matches!(
            status_error(StatusCode::REQUEST_TIMEOUT, &HeaderMap::new(), b""),
            LlmError::Unavailable(_)
        ));
        let huge = "y".repeat(10_000);
        let LlmError::Rejected { message, .. } =
            status_error(StatusCode::BAD_REQUEST, &HeaderMap::new(), &body(&huge))
        else {
            panic!("expected Rejected")
        };
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn cutting_counts_characters_not_bytes() {
        assert_eq!(cut("héllo", 3), "hél…");
        assert_eq!(cut("héllo", 5), "héllo");
    }

    #[test]
    fn a_base_url_must_be_http_and_the_key_stays_out_of_debug() {
        assert!(matches!(
            LlmClient::new(LlmConfig::new("ftp://x", "k", "m")),
            Err(LlmError::InvalidConfig(_))
        ));
        let client = LlmClient::new(LlmConfig::new(" http://127.0.0.1:1/v1/ ", "sk-secret", "m")).unwrap();
        assert_eq!(client.endpoint(), "http://127.0.0.1:1/v1/chat/completions");
        assert!(!format!("{client:?}").contains("sk-secret"));
    }
}
