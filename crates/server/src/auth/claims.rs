//! Clerk's session token claims, in both the v1 and v2 organization shapes.

use serde::{Deserialize, Serialize};

/// The claims Rivvi reads from a Clerk session token. Unknown claims are ignored.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct SessionClaims {
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Session status (v2); `pending` sessions have not finished sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sts: Option<String>,
    /// Token format version: absent for v1, 2 for v2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v: Option<u8>,
    // v1 organization claims
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_slug: Option<String>,
    // v2 organization claims
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub o: Option<CompactOrg>,
    // Optional profile claims some Clerk templates add; used to fill just-in-time users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The v2 `o` claim.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct CompactOrg {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slg: Option<String>,
}

/// The active organization as the token states it, whichever shape it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgClaim {
    pub clerk_org_id: String,
    pub clerk_role: String,
    pub slug: Option<String>,
}

impl SessionClaims {
    pub fn active_org(&self) -> Option<OrgClaim> {
        if let Some(o) = &self.o {
            return Some(OrgClaim {
                clerk_org_id: o.id.clone(),
                clerk_role: o.rol.clone().unwrap_or_else(|| "member".into()),
                slug: o.slg.clone(),
            });
        }
        self.org_id.as_ref().map(|id| OrgClaim {
            clerk_org_id: id.clone(),
            clerk_role: self.org_role.clone().unwrap_or_else(|| "org:member".into()),
            slug: self.org_slug.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_and_v2_shapes_name_the_same_active_org() {
        let v1: SessionClaims = serde_json::from_value(serde_json::json!({
            "sub": "user_1", "exp": 1, "org_id": "org_a", "org_role": "org:admin", "org_slug": "a"
        }))
        .unwrap();
        let v2: SessionClaims = serde_json::from_value(serde_json::json!({
            "sub": "user_1", "exp": 1, "v": 2, "o": {"id": "org_a", "rol": "admin", "slg": "a"}
        }))
        .unwrap();
        let (a, b) = (v1.active_org().unwrap(), v2.active_org().unwrap());
        assert_eq!(a.clerk_org_id, b.clerk_org_id);
        assert_eq!(
            rivvi_domain::Role::from_clerk(&a.clerk_role),
            rivvi_domain::Role::from_clerk(&b.clerk_role)
        );
    }

    #[test]
    fn a_token_without_org_claims_has_no_active_org() {
        let claims: SessionClaims =
            serde_json::from_value(serde_json::json!({"sub": "u", "exp": 1})).unwrap();
        assert!(claims.active_org().is_none());
    }
}
