//! The per-request rspc context and the role checks procedures declare.

use rivvi_domain::ids::OrgId;
use rivvi_domain::Role;

use super::error::ApiResult;
use crate::auth::{Caller, OrgCaller, RequestIdentity};
use crate::state::AppState;

/// Built for each request (or websocket connection) from the verified identity.
pub struct Ctx {
    pub state: AppState,
    pub identity: RequestIdentity,
    pub request_id: Option<String>,
}

impl Ctx {
    /// Any verified caller, with or without an active organization (401 otherwise).
    pub fn caller(&self) -> ApiResult<&Caller> {
        Ok(self.identity.caller()?)
    }

    /// A caller holding at least `needed` in their active organization: 401 without a valid token,
    /// 403 without an active organization or with a lower role.
    pub fn require(&self, needed: Role) -> ApiResult<OrgCaller> {
        Ok(self.identity.require(needed, self.request_id.clone())?)
    }

    /// [`Ctx::require`], acting in the organization `org_id` names when the caller is an
    /// operator (see `services::oversight`); `None` is the caller's own.
    pub async fn require_in(&self, needed: Role, org_id: Option<OrgId>) -> ApiResult<OrgCaller> {
        let caller = self.require(needed)?;
        Ok(crate::services::oversight::acting_in(&self.state, caller, org_id).await?)
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
        request_id: crate::telemetry::request_id(&headers),
    }
}
