//! Who is calling: Clerk session JWTs verified into a [`Caller`].
//!
//! The HTTP layer ([`middleware`]) verifies the token and resolves the caller (both remembered
//! briefly in [`cache`]) and leaves a [`RequestIdentity`] in the request extensions; procedures
//! then ask for the least role they need.

pub mod cache;
pub mod claims;
pub mod dev_key;
pub mod middleware;
pub mod resolve;
pub mod svix;
pub mod verifier;

use rivvi_domain::ids::{OrgId, UserId};
use rivvi_domain::Role;
use rivvi_persistence::audit::AuditActor;
use rivvi_persistence::OrgScope;

pub use cache::AuthCache;
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

/// Why a request may not do what it asked. Mapped to the wire once, in `api::error`.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AccessError {
    #[error("authentication required")]
    Unauthenticated,
    #[error("{0}")]
    InvalidCredentials(AuthError),
    #[error("no active organization: select an organization first")]
    NoActiveOrganization,
    #[error("requires the {0} role")]
    Forbidden(&'static str),
}

/// A caller acting inside their active organization, with the role they hold there: what every
/// use case in [`crate::services`] is given once the transport has checked the role.
#[derive(Debug, Clone)]
pub struct OrgCaller {
    pub scope: OrgScope,
    pub user_id: UserId,
    /// The Clerk user id, which labels the caller in the audit log.
    pub clerk_user_id: String,
    pub role: Role,
    /// The request's `x-request-id`, written to the audit entries it causes.
    pub request_id: Option<String>,
}

impl OrgCaller {
    /// Who the caller is, for the audit log: super admins are marked as such wherever they act.
    pub fn audit_actor(&self) -> AuditActor {
        let label = self.clerk_user_id.clone();
        match self.role {
            Role::SuperAdmin => AuditActor::SuperAdmin { user_id: self.user_id, label },
            Role::Admin | Role::Member => AuditActor::User { user_id: self.user_id, label },
        }
    }
}

impl RequestIdentity {
    /// Any verified caller, with or without an active organization.
    pub fn caller(&self) -> Result<&Caller, AccessError> {
        match self {
            RequestIdentity::Caller(caller) => Ok(caller),
            RequestIdentity::Anonymous => Err(AccessError::Unauthenticated),
            RequestIdentity::Rejected(reason) => Err(AccessError::InvalidCredentials(reason.clone())),
        }
    }

    /// A caller holding at least `needed` in their active organization: unauthenticated without a
    /// valid token, forbidden without an active organization or with a lower role.
    pub fn require(&self, needed: Role, request_id: Option<String>) -> Result<OrgCaller, AccessError> {
        let caller = self.caller()?;
        let org = caller.org.as_ref().ok_or(AccessError::NoActiveOrganization)?;
        if !org.role.allows(needed) {
            return Err(AccessError::Forbidden(needed.as_str()));
        }
        Ok(OrgCaller {
            scope: OrgScope::for_verified_org(org.org_id),
            user_id: caller.user_id,
            clerk_user_id: caller.clerk_user_id.clone(),
            role: org.role,
            request_id,
        })
    }
}

/// Whether `headers` carry `Authorization: Bearer <expected>`, compared in constant time: how
/// the built-in provider stand-ins (Retell simulator, LLM stand-in) check the API key they
/// were given, as the real providers do.
pub fn bearer_matches(headers: &axum::http::HeaderMap, expected: &str) -> bool {
    use subtle::ConstantTimeEq;
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    !presented.is_empty() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}
