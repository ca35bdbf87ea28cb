//! Ingestion end to end: real-looking exports and generated files through the public API.

// Test helpers outside `#[test]` functions unwrap too; a failure there is a failed test.
#![allow(clippy::unwrap_used)]

mod content;
mod corpus;
mod errors;
mod exports;
mod fixtures;
mod formats;
mod generated;
mod languages;
mod mapping;
mod support;

#[path = "../fixtures/expected.rs"]
mod expected;
mod fuzz;
#[path = "../../benches/support/gen.rs"]
#[allow(dead_code)]
mod gen;
#[path = "../corpus/sheets.rs"]
#[allow(dead_code)]
mod sheets;
