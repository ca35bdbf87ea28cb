//! The built-in LLM stand-in: a deterministic OpenAI-compatible chat-completions endpoint for
//! development and tests, so `cargo run` can suggest prompt variations without a provider and
//! tests exercise the production [`LlmClient`](super::LlmClient) over HTTP. No HTTP framework
//! here: `rivvi_server::llm_stand_in` puts [`LlmStandIn::answer`] behind axum.
//!
//! # Behaviour
//! - It answers only prompt-variation requests: the last user message must be a
//!   [`VariationRequest`] as JSON (what the client sends); anything else is a 400.
//! - The proposal is a plausible edit that follows the request and keeps every placeholder: a
//!   request mentioning "warm" or "friendly" gets a warm opening line, "short"/"concise"/"brief" a
//!   line asking for short answers, "formal" a formal-tone line, and every non-blank request a
//!   closing sentence carrying its own wording (braces removed, so it adds no placeholder).
//! - `response_format` is honoured: a `json_schema` must be the variation schema (both fields
//!   required), and the content is then that JSON; `json_object` gets the same JSON; `text` (or
//!   none) gets the proposed prompt as plain text.
//! - Answers have OpenAI's shape: `id`, `object: "chat.completion"`, `created` (from the
//!   injected clock), `model` (as asked), `choices`, `usage` (about four characters a token).
//!
//! # Scripting
//! [`LlmStandIn::script_faults`] queues [`LlmFault`]s; each request that passes authentication
//! takes the next one, whatever it asks, like `Simulator::script_outcomes`. With the queue empty
//! the stand-in answers normally.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::{json, Value};

use super::api::{
    AssistantMessage, ChatCompletion, ChatCompletionRequest, Choice, FinishReason, ResponseFormat, Role,
    Usage,
};
use super::variation::{VariationAnswer, VariationRequest};
use crate::clock::Clock;

/// A misbehaviour for the next request, to test how the client and its callers cope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LlmFault {
    /// The proposal loses every `{{name}}`.
    DropPlaceholder(String),
    /// The proposal gains a sentence using `{{name}}`.
    InventPlaceholder(String),
    /// A 200 whose message content is cut-off JSON.
    InvalidJson,
    /// The normal answer, after this long (beyond the client's timeout, it times out).
    Delay(Duration),
    /// A 429 with `Retry-After: 1`.
    RateLimited,
    /// A 500.
    ServerError,
}

/// What to answer one request with; the HTTP face sends it after `delay`.
#[derive(Debug, Clone, PartialEq)]
pub struct StandInReply {
    /// The HTTP status.
    pub status: u16,
    /// How long to wait before answering.
    pub delay: Duration,
    /// `Retry-After` in seconds, for a 429.
    pub retry_after: Option<u64>,
    /// The JSON body: a chat completion, or `{"error": {…}}`.
    pub body: Value,
}

impl StandInReply {
    fn error(status: u16, kind: &str, code: Option<&str>, message: &str) -> Self {
        StandInReply {
            status,
            delay: Duration::ZERO,
            retry_after: None,
            body: json!({"error": {"message": message, "type": kind, "param": null, "code": code}}),
        }
    }

    /// 401, as OpenAI answers a missing or wrong key.
    pub fn unauthorized() -> Self {
        Self::error(401, "invalid_request_error", Some("invalid_api_key"), "Incorrect API key provided.")
    }
}

/// Opens the prompt when a request asks for warmth.
pub const WARM_OPENING: &str = "Open every call warmly: greet the patient kindly, thank them for their time \
and keep a friendly, unhurried tone throughout.";
const SHORT_LINE: &str = "Keep each answer short: one or two sentences at a time.";
const FORMAL_LINE: &str = "Keep a formal, professional tone throughout the call.";
/// The longest request wording carried into a proposal, in characters.
const MAX_WORDING_CHARS: usize = 300;

struct State {
    faults: VecDeque<LlmFault>,
    requests: u64,
}

/// The stand-in. Share it as `Arc<LlmStandIn>`: the HTTP face and tests hold it.
pub struct LlmStandIn {
    api_key: String,
    clock: Arc<dyn Clock>,
    /// Held only to take a fault and count: never across an await.
    state: Mutex<State>,
}

impl fmt::Debug for LlmStandIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmStandIn").field("api_key", &"***").finish_non_exhaustive()
    }
}

impl LlmStandIn {
    /// A stand-in that accepts `api_key` and dates its answers by `clock`.
    pub fn new(api_key: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        LlmStandIn {
            api_key: api_key.into(),
            clock,
            state: Mutex::new(State { faults: VecDeque::new(), requests: 0 }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every update is a single push, pop or increment: a panic cannot leave it half done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The key clients must present (`Authorization: Bearer`).
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The next requests take these faults, one each, in order.
    pub fn script_faults(&self, faults: impl IntoIterator<Item = LlmFault>) {
        self.state().faults.extend(faults);
    }

    /// Authenticated requests answered so far, faulted ones included.
    pub fn requests(&self) -> u64 {
        self.state().requests
    }

    /// The reply to an authenticated `POST /v1/chat/completions` with `body`.
    pub fn answer(&self, body: &[u8]) -> StandInReply {
        let fault = {
            let mut state = self.state();
            state.requests += 1;
            state.faults.pop_front()
        };
        match fault {
            Some(LlmFault::RateLimited) => {
                let mut reply = StandInReply::error(
                    429,
                    "requests",
                    Some("rate_limit_exceeded"),
                    "Rate limit reached for requests. Please try again in 1s.",
                );
                reply.retry_after = Some(1);
                return reply;
            }
            Some(LlmFault::ServerError) => {
                return StandInReply::error(
                    500,
                    "server_error",
                    None,
                    "The server had an error while processing your request.",
                )
            }
            _ => {}
        }
        let (request, variation) = match read_request(body) {
            Ok(read) => read,
            Err(reply) => return reply,
        };
        let as_json = match &request.response_format {
            None | Some(ResponseFormat::Text) => false,
            Some(ResponseFormat::JsonObject) => true,
            Some(ResponseFormat::JsonSchema { json_schema }) if is_variation_schema(&json_schema.schema) => {
                true
            }
            Some(ResponseFormat::JsonSchema { .. }) => {
                return StandInReply::error(
                    400,
                    "invalid_request_error",
                    None,
                    "the stand-in answers only the prompt-variation schema (proposedPrompt, summary)",
                )
            }
        };

        let mut answer = vary(&variation.base_prompt, &variation.request);
        let mut delay = Duration::ZERO;
        let mut invalid_json = false;
        match fault {
            Some(LlmFault::DropPlaceholder(name)) => {
                answer.proposed_prompt = remove_placeholder(&answer.proposed_prompt, &name)
            }
            Some(LlmFault::InventPlaceholder(name)) => {
                answer.proposed_prompt.push_str(&format!("\n\nMention {{{{{name}}}}} when it helps."))
            }
            Some(LlmFault::InvalidJson) => invalid_json = true,
            Some(LlmFault::Delay(wait)) => delay = wait,
            Some(LlmFault::RateLimited | LlmFault::ServerError) | None => {}
        }
        let content = if invalid_json {
            // Cut off where a model that ran out of tokens would stop: mid-object.
            format!("{{\"proposedPrompt\": {}", Value::String(answer.proposed_prompt))
        } else if as_json {
            json!({"proposedPrompt": answer.proposed_prompt, "summary": answer.summary}).to_string()
        } else {
            answer.proposed_prompt
        };
        let completion = self.completion(&request, content);
        match serde_json::to_value(completion) {
            Ok(body) => StandInReply { status: 200, delay, retry_after: None, body },
            Err(_) => {
                StandInReply::error(500, "server_error", None, "the stand-in could not encode its answer")
            }
        }
    }

    fn completion(&self, request: &ChatCompletionRequest, content: String) -> ChatCompletion {
        let prompt_chars: usize = request.messages.iter().map(|m| m.content.chars().count()).sum();
        let prompt_tokens = tokens(prompt_chars);
        let completion_tokens = tokens(content.chars().count());
        let sequence = self.state().requests;
        ChatCompletion {
            id: format!("chatcmpl-standin-{sequence}"),
            object: "chat.completion".to_owned(),
            created: self.clock.now().timestamp(),
            model: request.model.clone(),
            choices: vec![Choice {
                index: 0,
                message: AssistantMessage { role: Role::Assistant, content: Some(content), refusal: None },
                finish_reason: Some(FinishReason::Stop),
            }],
            usage: Some(Usage {
                prompt_tokens,
                completion_tokens,
                total_tokens: prompt_tokens.saturating_add(completion_tokens),
            }),
        }
    }
}

/// The chat request and the variation request in its last user message, or the 400 to answer.
fn read_request(body: &[u8]) -> Result<(ChatCompletionRequest, VariationRequest), StandInReply> {
    let invalid = |message: &str| StandInReply::error(400, "invalid_request_error", None, message);
    // No serde message: it may quote the body.
    let request = serde_json::from_slice::<ChatCompletionRequest>(body)
        .map_err(|_| invalid("We could not parse the JSON body of your request."))?;
    if request.model.trim().is_empty() {
        return Err(invalid("you must provide a model parameter"));
    }
    let user = request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .ok_or_else(|| invalid("messages must include a user message"))?;
    let variation = serde_json::from_str::<VariationRequest>(&user.content).map_err(|_| {
        invalid(
            "the stand-in answers only prompt-variation requests: the user message must be the request JSON",
        )
    })?;
    Ok((request, variation))
}

/// Whether `schema` asks for exactly the variation answer.
fn is_variation_schema(schema: &Value) -> bool {
    let mut required: Vec<&str> =
        schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    required.sort_unstable();
    required == ["proposedPrompt", "summary"]
}

/// About four characters a token, as OpenAI's rule of thumb.
fn tokens(chars: usize) -> u32 {
    u32::try_from(chars.div_ceil(4)).unwrap_or(u32::MAX)
}

/// The deterministic edit: tone lines the request asks for, then the base prompt, then a sentence
/// carrying the request's wording.
fn vary(base_prompt: &str, request: &str) -> VariationAnswer {
    let wording = wording(request);
    let lower = wording.to_lowercase();
    let asks = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    let mut changes: Vec<String> = Vec::new();
    let mut prompt = String::new();
    if asks(&["warm", "friendl"]) {
        prompt.push_str(WARM_OPENING);
        prompt.push_str("\n\n");
        changes.push("added a warm opening line".to_owned());
    }
    prompt.push_str(base_prompt.trim_end());
    if asks(&["short", "concise", "brief"]) {
        prompt.push_str("\n\n");
        prompt.push_str(SHORT_LINE);
        changes.push("asked for shorter answers".to_owned());
    }
    if asks(&["formal"]) {
        prompt.push_str("\n\n");
        prompt.push_str(FORMAL_LINE);
        changes.push("asked for a formal tone".to_owned());
    }
    if !wording.is_empty() {
        prompt.push_str(&format!("\n\nAs the clinic asked: {wording}."));
        changes.push(format!("added the clinic's request \"{wording}\""));
    }
    let summary = match changes.split_last() {
        None => "No change was requested, so the prompt is unchanged.".to_owned(),
        Some((last, [])) => format!("{}.", capitalize(last)),
        Some((last, rest)) => format!("{} and {last}.", capitalize(&rest.join(", "))),
    };
    VariationAnswer { proposed_prompt: prompt, summary }
}

/// The request as one line without braces (so it cannot add a placeholder), without trailing
/// punctuation, cut to [`MAX_WORDING_CHARS`].
fn wording(request: &str) -> String {
    let line = request.split_whitespace().collect::<Vec<_>>().join(" ").replace(['{', '}'], "");
    let line = line.trim().trim_end_matches(['.', '!', '?', ';', ',', ':']).trim_end();
    line.chars().take(MAX_WORDING_CHARS).collect()
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `text` without any `{{name}}` (spaces inside the braces allowed).
fn remove_placeholder(text: &str, name: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) if after[..end].trim() == name => {
                out.push_str(&rest[..start]);
                rest = &after[end + 2..];
            }
            _ => {
                out.push_str(&rest[..start + 2]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use rivvi_domain::prompt::{check_variation, placeholders, VariationWarningCode};

    use super::*;
    use crate::clock::ManualClock;
    use crate::llm::variation::chat_request;

    const BASE: &str = "You call {{first_name}} from {{organization_name}} about {{ appt_date }}.\n";

    fn stand_in() -> LlmStandIn {
        let at = DateTime::parse_from_rfc3339("2026-03-09T15:00:00Z").unwrap().with_timezone(&Utc);
        LlmStandIn::new("sk-stand-in", Arc::new(ManualClock::new(at)))
    }

    fn variation(request: &str) -> VariationRequest {
        VariationRequest {
            campaign_name: "Reminders".into(),
            base_prompt: BASE.into(),
            declared_placeholders: vec!["appt_date".into()],
            request: request.into(),
        }
    }

    fn body(request: &str) -> Vec<u8> {
        serde_json::to_vec(&chat_request("gpt-test", &variation(request)).unwrap()).unwrap()
    }

    fn content(reply: &StandInReply) -> &str {
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["choices"][0]["message"]["content"].as_str().unwrap()
    }

    fn answer(reply: &StandInReply) -> VariationAnswer {
        serde_json::from_str(content(reply)).unwrap()
    }

    #[test]
    fn a_request_gets_an_edit_carrying_its_wording_that_keeps_every_placeholder() {
        let reply = stand_in().answer(&body("  Mention the new   parking lot on Elm St. "));
        let answer = answer(&reply);
        assert!(answer.proposed_prompt.starts_with(BASE.trim_end()));
        assert!(answer
            .proposed_prompt
            .ends_with("As the clinic asked: Mention the new parking lot on Elm St."));
        assert!(check_variation(&["appt_date".into()], BASE, &answer.proposed_prompt).is_empty());
        assert_eq!(answer.summary, "Added the clinic's request \"Mention the new parking lot on Elm St\".");
    }

    #[test]
    fn warmer_adds_a_warm_opening_line() {
        let answer = answer(&stand_in().answer(&body("Make it warmer and more concise")));
        assert!(answer.proposed_prompt.starts_with(WARM_OPENING));
        assert!(answer.proposed_prompt.contains(SHORT_LINE));
        assert!(answer.summary.starts_with("Added a warm opening line, asked for shorter answers and added"));
        assert_eq!(placeholders(&answer.proposed_prompt), placeholders(BASE));
    }

    #[test]
    fn braces_in_the_request_add_no_placeholder() {
        let answer = answer(&stand_in().answer(&body("say {{insurance_id}} too")));
        assert_eq!(placeholders(&answer.proposed_prompt), placeholders(BASE));
    }

    #[test]
    fn the_answer_has_openais_chat_completion_shape() {
        let reply = stand_in().answer(&body("warmer"));
        let b = &reply.body;
        assert_eq!(b["id"], "chatcmpl-standin-1");
        assert_eq!(b["object"], "chat.completion");
        assert_eq!(b["created"], 1_773_068_400);
        assert_eq!(b["model"], "gpt-test");
        assert_eq!(b["choices"][0]["index"], 0);
        assert_eq!(b["choices"][0]["message"]["role"], "assistant");
        assert_eq!(b["choices"][0]["finish_reason"], "stop");
        let usage = &b["usage"];
        assert!(usage["prompt_tokens"].as_u64().unwrap() > 0);
        assert_eq!(
            usage["total_tokens"].as_u64().unwrap(),
            usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
        );
    }

    #[test]
    fn faults_are_taken_one_per_request_in_order() {
        let stand_in = stand_in();
        stand_in.script_faults([
            LlmFault::DropPlaceholder("appt_date".into()),
            LlmFault::InventPlaceholder("copay".into()),
        ]);

        let dropped = answer(&stand_in.answer(&body("warmer"))).proposed_prompt;
        let warnings = check_variation(&["appt_date".into()], BASE, &dropped);
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].code, VariationWarningCode::PlaceholderDropped);
        assert_eq!(warnings[0].placeholder.as_deref(), Some("appt_date"));

        let invented = answer(&stand_in.answer(&body("warmer"))).proposed_prompt;
        let warnings = check_variation(&["appt_date".into()], BASE, &invented);
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].code, VariationWarningCode::PlaceholderUndeclared);
        assert_eq!(warnings[0].placeholder.as_deref(), Some("copay"));

        let clean = answer(&stand_in.answer(&body("warmer"))).proposed_prompt;
        assert!(check_variation(&["appt_date".into()], BASE, &clean).is_empty());
        assert_eq!(stand_in.requests(), 3);
    }

    #[test]
    fn invalid_json_is_a_200_whose_content_does_not_parse() {
        let stand_in = stand_in();
        stand_in.script_faults([LlmFault::InvalidJson]);
        let reply = stand_in.answer(&body("warmer"));
        assert!(serde_json::from_str::<Value>(content(&reply)).is_err());
    }

    #[test]
    fn delay_answers_normally_after_waiting() {
        let stand_in = stand_in();
        stand_in.script_faults([LlmFault::Delay(Duration::from_millis(1500))]);
        let reply = stand_in.answer(&body("warmer"));
        assert_eq!(reply.delay, Duration::from_millis(1500));
        assert!(answer(&reply).proposed_prompt.starts_with(WARM_OPENING));
    }

    #[test]
    fn rate_limits_and_server_errors_have_openais_error_shape() {
        let stand_in = stand_in();
        stand_in.script_faults([LlmFault::RateLimited, LlmFault::ServerError]);
        let limited = stand_in.answer(&body("warmer"));
        assert_eq!((limited.status, limited.retry_after), (429, Some(1)));
        assert_eq!(limited.body["error"]["code"], "rate_limit_exceeded");
        let failed = stand_in.answer(&body("warmer"));
        assert_eq!(failed.status, 500);
        assert_eq!(failed.body["error"]["type"], "server_error");
    }

    #[test]
    fn without_a_schema_the_content_is_the_prompt_itself() {
        let mut request = chat_request("m", &variation("warmer")).unwrap();
        request.response_format = None;
        let reply = stand_in().answer(&serde_json::to_vec(&request).unwrap());
        assert!(content(&reply).starts_with(WARM_OPENING));
    }

    #[test]
    fn requests_it_cannot_answer_are_400s_that_quote_nothing() {
        let stand_in = stand_in();
        let reply = stand_in.answer(b"{\"model\": \"m\", SECRET");
        assert_eq!(reply.status, 400);
        assert!(!reply.body.to_string().contains("SECRET"));

        let mut other_schema = chat_request("m", &variation("warmer")).unwrap();
        other_schema.response_format = Some(ResponseFormat::JsonSchema {
            json_schema: crate::llm::api::JsonSchemaFormat {
                name: "other".into(),
                strict: Some(true),
                schema: json!({"type": "object", "required": ["answer"]}),
            },
        });
        assert_eq!(stand_in.answer(&serde_json::to_vec(&other_schema).unwrap()).status, 400);

        let mut free_text = chat_request("m", &variation("warmer")).unwrap();
        free_text.messages[1].content = "Write me a poem".into();
        assert_eq!(stand_in.answer(&serde_json::to_vec(&free_text).unwrap()).status, 400);
    }

    #[test]
    fn placeholders_are_removed_whatever_their_spacing() {
        assert_eq!(remove_placeholder("a {{x}} b {{ x }} c {{xy}} {{", "x"), "a  b  c {{xy}} {{");
    }
}
