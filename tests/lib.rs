//! Rivvi integration test support.
