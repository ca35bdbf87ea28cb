//! Roles inside an organization, ordered from least to most privileged.

use serde::{Deserialize, Serialize};

/// What a caller may do. `SuperAdmin` is not a Clerk role: it is any member whose active
/// organization is the operator organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Clinic staff: uploads, runs, analytics, exports.
    Member,
    /// An organization admin: also settings, members and the do-not-call list.
    Admin,
    /// A Rivvi operator: campaigns and every organization.
    SuperAdmin,
}

impl Role {
    /// Maps a Clerk organization role (`org:admin` in v1 tokens, `admin` in v2) to ours.
    /// Unknown custom roles get the least privilege.
    pub fn from_clerk(role: &str) -> Role {
        match role.strip_prefix("org:").unwrap_or(role) {
            "admin" => Role::Admin,
            _ => Role::Member,
        }
    }

    /// Whether this role grants at least `needed`.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }

    /// The stable name used in tokens, logs and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::SuperAdmin => "super_admin",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clerk_roles_map_with_or_without_the_org_prefix() {
        assert_eq!(Role::from_clerk("org:admin"), Role::Admin);
        assert_eq!(Role::from_clerk("admin"), Role::Admin);
        assert_eq!(Role::from_clerk("org:member"), Role::Member);
        assert_eq!(Role::from_clerk("org:billing_manager"), Role::Member);
    }

    #[test]
    fn a_role_allows_itself_and_everything_below() {
        assert!(Role::SuperAdmin.allows(Role::Admin));
        assert!(Role::Admin.allows(Role::Member));
        assert!(!Role::Member.allows(Role::Admin));
        assert!(!Role::Admin.allows(Role::SuperAdmin));
    }
}
