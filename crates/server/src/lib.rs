//! The Rivvi HTTP host: it wires the domain, persistence, ingestion and execution crates into one
//! axum application and the `rivvi` command line.
//!
//! # Layout
//! - [`cli`]: the `rivvi` subcommands (`serve`, `migrate`, `dev-token`, `ingest`, `bindings`).
//! - [`ingest_cli`]: `rivvi ingest preview`, the offline sheet check.
//! - [`config`]: settings from the environment, with the embedded development defaults.
//! - [`app`]: [`app::Application`], the built server that tests start on port 0.
//! - [`state`]: [`state::AppState`], the one cheap-to-clone root of every handler.
//! - [`api`]: the rspc procedure router, one module per namespace, and its error mapping.
//! - [`auth`]: Clerk JWT verification and the caller identity.
//! - [`http`]: plain HTTP routes (health, uploads) and the middleware stack.
//! - [`storage`]: object storage for uploads, a local directory or S3.
//! - [`simulator`]: the built-in Retell simulator's HTTP API (mounted when no Retell key is set).
//! - [`webhooks`]: signed provider callbacks (Clerk).

pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod database;
pub mod http;
pub mod ingest_cli;
pub mod simulator;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod webhooks;
