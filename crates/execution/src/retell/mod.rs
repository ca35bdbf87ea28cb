//! Retell: the HTTP client, the request shapes and the webhook signature and event types.
//!
//! # Layout
//! - [`client`]: [`RetellClient`], the production [`VoiceProvider`](crate::provider::VoiceProvider).
//! - [`api`]: request bodies in Retell's JSON shape, shared with the simulator.
//! - [`webhook`]: `x-retell-signature` signing and verification, call and inbound webhook bodies.
//! - [`contract`]: every body sent to or answered by Retell, written as TypeScript `satisfies`
//!   the `retell-sdk` types, for `tsc` to check on CI.

pub mod api;
pub mod client;
pub mod contract;
pub mod webhook;

pub use client::{RetellClient, RetellConfig, DEFAULT_VOICE_ID};
