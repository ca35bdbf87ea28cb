//! Engine tests: each runs on a fresh SQLite database and, when `RIVVI_TEST_DATABASE_URL` is set,
//! again on a fresh PostgreSQL database (`rivvi_persistence::testing::on_each_backend`), with a
//! manual clock and the in-process Retell simulator as the provider.

// Tests may unwrap; `allow-unwrap-in-tests` covers `#[test]` functions but not their helpers.
#![allow(clippy::unwrap_used)]

mod bus;
mod compliance;
mod concurrency;
mod events;
mod inbound;
mod lifecycle;
mod office_hours;
mod opt_out;
mod recovery;
mod retries;
mod run_to_completion;
mod simulation;
mod support;
