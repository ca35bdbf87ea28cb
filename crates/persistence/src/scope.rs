//! [`OrgScope`]: which organization a repository call may touch.

use std::fmt;

use rivvi_domain::ids::OrgId;

/// Proof that the caller has been authorized to act inside one organization. Repositories over
/// organization data take one and filter every query by it, so a row of another organization is
/// not found (and its id does not leak).
///
/// There is deliberately no `From<OrgId>`, `Default` or `Deserialize`: the only way to get a scope
/// is [`OrgScope::for_verified_org`], called where the authorization happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrgScope(OrgId);

impl OrgScope {
    /// Scopes calls to `org_id`.
    ///
    /// Call this only where the right to act in the organization has been established:
    /// - the auth layer, after verifying the session token and the caller's membership (or super
    ///   admin status, for admin procedures that take an explicit organization id and audit it);
    /// - a webhook handler, after verifying the signature and resolving the organization from the
    ///   verified payload (for example the called number);
    /// - the engine, for organizations whose runs it is executing (it acts as the system).
    pub fn for_verified_org(org_id: OrgId) -> Self {
        OrgScope(org_id)
    }

    pub fn org_id(&self) -> OrgId {
        self.0
    }
}

impl fmt::Display for OrgScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
