//! The per-request rspc context and the role checks procedures declare.

use rivvi_domain::ids::UserId;
use rivvi_domain::Role;
use rivvi_persistence::OrgScope;

use super::error::{ApiError, ApiResult};
use crate::auth::{Caller, RequestIdentity};
use crate::state::AppState;

/// Built for each request (or websocket connection) from the verified identity.
pub struct Ctx {
    pub state: AppState,
    pub identity: RequestIdentity,
    pub request_id: Option<String>,
}

/// A caller acting inside their active organization, with the role they hold there.
#[derive(Debug, Clone)]
pub struct OrgCaller {
    pub scope: OrgScope,
    pub user_id: UserId,
    /// The Clerk user id, which labels the caller in the audit log.
    pub clerk_user_id: String,
    pub role: Role,
}

impl Ctx {
    /// Any verified caller, with or without an active organization (401 otherwise).
    pub fn caller(&self) -> ApiResult<&Caller> {
        match &self.identity {
            RequestIdentity::Caller(caller) => Ok(caller),
            RequestIdentity::Anonymous => Err(ApiError::Unauthenticated),
            RequestIdentity::Rejected(reason) => Err(ApiError::InvalidCredentials(reason.clone())),
        }
    }

    /// A caller holding at least `needed` in their active organization: 401 without a valid token,
    /// 403 without an active organization or with a lower role.
    pub fn require(&self, needed: Role) -> ApiResult<OrgCaller> {
        let caller = self.caller()?;
        let org = caller.org.as_ref().ok_or(ApiError::NoActiveOrganization)?;
        if !org.role.allows(needed) {
            return Err(ApiError::Forbidden(needed.as_str()));
        }
        Ok(OrgCaller {
            scope: OrgScope::for_verified_org(org.org_id),
            user_id: caller.user_id,
            clerk_user_id: caller.clerk_user_id.clone(),
            role: org.role,
        })
    }
}

/// The rspc context function: reads what the authentication layer left in the request.
pub fn from_request(
    axum::extract::State(state): axum::extract::State<AppState>,
    identity: Option<axum::Extension<RequestIdentity>>,
    headers: axum::http::HeaderMap,
) -> Ctx {
    Ctx {
        state,
        identity: identity.map(|axum::Extension(i)| i).unwrap_or(RequestIdentity::Anonymous),
        request_id: headers
            .get(crate::http::REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}
