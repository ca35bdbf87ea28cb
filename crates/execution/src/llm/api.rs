//! The subset of OpenAI's chat-completions wire format we use, shared by the client and the
//! stand-in (as `retell::api` is shared with the Retell simulator). Fields we do not use are
//! left out; compatible servers that omit `id`, `created` or `usage` still parse.

use serde::{Deserialize, Serialize};

/// `POST /chat/completions` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionRequest {
    /// The model to answer with.
    pub model: String,
    /// The conversation, system message first.
    pub messages: Vec<ChatMessage>,
    /// How the answer must be shaped; plain text when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions from us.
    System,
    /// OpenAI's newer name for system instructions.
    Developer,
    /// The request.
    User,
    /// The model's answer.
    Assistant,
}

/// One message of a request (text content only: we never send images or tool calls).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: Role,
    /// What it says.
    pub content: String,
}

/// `response_format`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Free text.
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON matching a schema (OpenAI's structured outputs).
    JsonSchema {
        /// The schema and its name.
        json_schema: JsonSchemaFormat,
    },
}

/// `response_format.json_schema`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSchemaFormat {
    /// A name for the schema (`[a-zA-Z0-9_-]`, at most 64 characters).
    pub name: String,
    /// Whether the model must follow the schema exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    /// The JSON Schema of the answer.
    pub schema: serde_json::Value,
}

/// A `chat.completion` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletion {
    /// `chatcmpl-…`.
    #[serde(default)]
    pub id: String,
    /// Always `chat.completion`.
    #[serde(default)]
    pub object: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: i64,
    /// The model that answered (may be more specific than the one asked for).
    #[serde(default)]
    pub model: String,
    /// The answers; we ask for one.
    pub choices: Vec<Choice>,
    /// Token counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// One answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// Its position among the choices.
    #[serde(default)]
    pub index: u32,
    /// The model's message.
    pub message: AssistantMessage,
    /// Why the model stopped; `length` means the answer was cut off.
    #[serde(default)]
    pub finish_reason: Option<FinishReason>,
}

/// The model's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssistantMessage {
    /// Always `assistant`.
    pub role: Role,
    /// The answer; absent when the model refused.
    #[serde(default)]
    pub content: Option<String>,
    /// Why the model declined, when it did (structured outputs report refusals here).
    #[serde(default)]
    pub refusal: Option<String>,
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// A natural end.
    Stop,
    /// The token limit cut the answer off.
    Length,
    /// A content filter removed the answer.
    ContentFilter,
    /// The model called a tool (we offer none).
    ToolCalls,
    /// Anything a compatible server may add.
    #[serde(other)]
    Other,
}

/// Token counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the request.
    pub prompt_tokens: u32,
    /// Tokens in the answer.
    pub completion_tokens: u32,
    /// Both.
    pub total_tokens: u32,
}

/// An error answer: `{"error": {"message", "type", "param", "code"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The error.
    pub error: ErrorObject,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorObject {
    /// A sentence.
    #[serde(default)]
    pub message: String,
    /// `invalid_request_error`, `rate_limit_error`, `server_error`, …
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// The request field at fault, if any.
    #[serde(default)]
    pub param: Option<String>,
    /// A machine code such as `rate_limit_exceeded`.
    #[serde(default)]
    pub code: Option<String>,
}
