//! The Rivvi HTTP host: it wires the domain, persistence, ingestion and execution crates into one
//! axum application and the `rivvi` command line.
//!
//! # Layout
//! Transports (`api`, `http`, `webhooks`) parse and authorize, then call one use case in
//! `services`; `services` calls domain, ingestion, persistence and execution and imports no
//! transport.
//! - [`cli`]: the `rivvi` subcommands (`serve`, `migrate`, `dev-token`, `keys`, `storage`, `purge`,
//!   `demo`, `ingest`, `bindings`).
//! - [`demo`]: `rivvi demo`, the guided tour on a simulated clock.
//! - [`ingest_cli`]: `rivvi ingest preview`, the offline sheet check.
//! - [`keys_cli`]: `rivvi keys status` and `rivvi keys rotate`.
//! - [`purge_cli`]: `rivvi purge [--dry-run]`, the retention step by hand.
//! - [`config`]: settings from the environment, with the embedded development defaults.
//! - [`database`]: connecting and migrating from the settings.
//! - [`app`]: [`app::Application`], the built server that tests start on port 0.
//! - [`state`]: [`state::AppState`], the one cheap-to-clone root of every handler.
//! - [`auth`]: Clerk JWT verification, the caller identity and the role check
//!   ([`auth::OrgCaller`]), and Svix webhook signatures.
//! - [`api`]: the rspc procedure router: wire types and thin handlers, one module per namespace,
//!   and the one map of errors to the wire.
//! - [`http`]: plain HTTP routes (health, uploads, exports), the rspc websocket (token expiry,
//!   subscription refusals), the middleware stack (rate and query-string limits, per-procedure
//!   metrics), the metrics listener's router and the main listener's accept loop.
//! - [`webhooks`]: signed provider callbacks (Clerk, Retell call events and inbound calls): the
//!   signature checked, the body parsed, a use case called.
//! - [`services`]: the use cases every transport calls (transactions, audit entries).
//! - [`storage`]: object storage for uploads, a local directory or S3, every object sealed
//!   (streamed chunked AES-256-GCM, a per-object data key wrapped by `RIVVI_DATA_KEY`).
//! - [`simulator`]: the built-in Retell simulator's HTTP API (mounted when no Retell key is set).
//! - [`llm_stand_in`]: the built-in LLM stand-in's chat-completions API (mounted when no
//!   `LLM_BASE_URL` is set).
//! - [`telemetry`]: tracing set-up, request ids, the panic hook.

// rspc nests each procedure's future in its router types; the default limit (128) is too low to
// lay out the deepest handler futures.
#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod database;
pub mod demo;
pub mod http;
pub mod ingest_cli;
pub mod keys_cli;
pub mod llm_stand_in;
pub mod purge_cli;
pub mod services;
pub mod simulator;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod webhooks;
