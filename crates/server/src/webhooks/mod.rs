//! Signed callbacks from providers. Each verifies its signature on the raw body before parsing.

pub mod clerk;
pub mod retell;
pub mod retell_inbound;
pub mod signature;
