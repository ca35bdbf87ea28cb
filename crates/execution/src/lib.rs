//! Rivvi's execution layer: the voice provider seam, the Retell HTTP client and webhook
//! primitives, the built-in Retell simulator, the language-model client for prompt variations and
//! its stand-in, and the clock the engine runs on.
//!
//! No HTTP server framework lives here: the server crate mounts the simulator's API
//! (`rivvi_server::simulator`) and the webhook routes.
//!
//! # Layout
//! - [`clock`]: [`Clock`](clock::Clock), with [`SystemClock`](clock::SystemClock) and
//!   [`ManualClock`](clock::ManualClock) for tests.
//! - [`provider`]: [`VoiceProvider`](provider::VoiceProvider), [`CreateCall`](provider::CreateCall),
//!   [`ProviderCall`](provider::ProviderCall), [`ProviderError`](provider::ProviderError) and the
//!   mapping of a finished call to our status and outcome ([`classify`](provider::classify)).
//! - [`retell`]: [`RetellClient`](retell::RetellClient), Retell's request shapes and
//!   [`retell::webhook`] (`x-retell-signature`, call and inbound webhook bodies).
//! - [`simulator`]: [`Simulator`](simulator::Simulator), Retell's API and webhooks with seeded
//!   outcomes on an injected clock.
//! - [`llm`]: [`LlmClient`](llm::LlmClient), prompt variations from an OpenAI-compatible
//!   endpoint, and [`LlmStandIn`](llm::LlmStandIn), its deterministic built-in stand-in.
//! - [`engine`]: [`Engine`](engine::Engine), the run engine: schedule, dispatch, webhook
//!   application and recovery steps, run lifecycle, and the background loop that calls them.
//! - [`bus`]: the event bus between instances (PostgreSQL `LISTEN/NOTIFY`, in-process on
//!   SQLite): ids and kinds of what happened, never patient data.
//! - `http_base` (private): what both HTTP clients share (base URL check, client set-up,
//!   `Retry-After`).
//! - `open_enum` (private): provider strings whose set grows, kept verbatim when unknown.

#![warn(missing_docs)]

#[macro_use]
mod open_enum;

pub mod bus;
pub mod clock;
pub mod engine;
mod http_base;
pub mod llm;
pub mod provider;
pub mod retell;
pub mod simulator;
