//! Language-model help for prompt writing (DESIGN.md §6): an OpenAI-compatible chat-completions
//! client asking for prompt variations with a JSON-schema structured output, and a built-in
//! stand-in for development and tests. Only campaign texts and the user's request are sent,
//! never patient data ([`VariationRequest`]).
//!
//! # Layout
//! - [`variation`]: [`VariationRequest`], [`ProposedVariation`], the system prompt and the answer
//!   schema.
//! - [`client`]: [`LlmClient`], [`LlmConfig`], [`LlmError`].
//! - [`api`]: OpenAI's chat-completions shapes, shared by the client and the stand-in.
//! - [`stand_in`]: [`LlmStandIn`], a deterministic endpoint with scriptable [`LlmFault`]s.

pub mod api;
pub mod client;
pub mod stand_in;
pub mod variation;

pub use client::{LlmClient, LlmConfig, LlmError};
pub use stand_in::{LlmFault, LlmStandIn, StandInReply};
pub use variation::{ProposedVariation, VariationRequest};
