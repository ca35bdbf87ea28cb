//! The per-request rspc context and the role checks procedures declare.

use crate::auth::RequestIdentity;
use crate::state::AppState;

/// Built for each request (or websocket connection) from the verified identity.
pub struct Ctx {
    pub state: AppState,
    pub identity: RequestIdentity,
    pub request_id: Option<String>,
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
