//! Who is calling: Clerk session JWTs verified into a [`Caller`].
//!
//! The HTTP layer ([`middleware`]) verifies the token once per request and leaves a
//! [`RequestIdentity`] in the request extensions; procedures then ask for the least role they need.

pub mod claims;
pub mod dev_key;
pub mod middleware;
pub mod resolve;
pub mod verifier;

use rivvi_domain::ids::{OrgId, UserId};
use rivvi_domain::Role;

pub use claims::SessionClaims;
pub use verifier::Authenticator;

/// Why a presented token was not accepted. Reaches the client only as "401 invalid token" with the
/// reason, never with key material.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("malformed authorization header")]
    MalformedHeader,
    #[error("invalid token: {0}")]
    InvalidToken(String),
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("token authorized party is not allowed")]
    UnauthorizedParty,
    #[error("signing keys unavailable")]
    KeysUnavailable,
}

/// The organization a caller is acting in, with the role they hold there.
#[derive(Debug, Clone)]
pub struct ActiveOrg {
    pub org_id: OrgId,
    pub clerk_org_id: String,
    pub role: Role,
}

/// A verified caller, resolved to our own ids (created just in time when new).
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: UserId,
    pub clerk_user_id: String,
    pub org: Option<ActiveOrg>,
}

/// What the authentication layer concluded about a request.
#[derive(Debug, Clone)]
pub enum RequestIdentity {
    /// No credentials were presented.
    Anonymous,
    /// Credentials were presented and refused.
    Rejected(AuthError),
    Caller(Caller),
}
