//! The Rivvi HTTP host: it wires the domain, persistence, ingestion and execution crates into one
//! axum application and the `rivvi` command line.
//!
//! # Layout
//! - [`cli`]: the `rivvi` subcommands (`serve`, `migrate`, `dev-token`, `ingest`, `bindings`).
//! - [`ingest_cli`]: `rivvi ingest preview`, the offline sheet check.
//! - [`config`]: settings from the environment, with the embedded development defaults.
//! - [`app`]: [`app::Application`], the built server that tests start on port 0.
//! - [`state`]: [`state::AppState`], the one cheap-to-clone root of every handler.
//! - [`api`]: the rspc procedure router: wire types and thin handlers, one module per namespace,
//!   and the one map of errors to the wire.
//! - [`services`]: the use cases every transport calls (transactions, audit entries).
//! - [`auth`]: Clerk JWT verification and the caller identity.
//! - [`http`]: plain HTTP routes (health, uploads) and the middleware stack.
//! - [`storage`]: object storage for uploads, a local directory or S3.
//! - [`simulator`]: the built-in Retell simulator's HTTP API (mounted when no Retell key is set).
//! - [`webhooks`]: signed provider callbacks (Clerk, Retell call events and inbound calls): the
//!   signature checked, the body parsed, a use case called.

// rspc nests each procedure's future in its router types; the default limit (128) is too low to lay out
// the deepest handler futures.
#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod database;
pub mod http;
pub mod ingest_cli;
pub mod services;
pub mod simulator;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod webhooks;
