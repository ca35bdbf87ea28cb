//! The authentication layer: verifies the presented token (or finds it verified in the cache) and
//! leaves a [`RequestIdentity`] in the request extensions for the rspc context.
//!
//! The token is read from `Authorization: Bearer`, else the `__session` cookie Clerk sets, else a
//! `token` query parameter (browsers cannot set headers on a websocket upgrade).

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;

use super::{resolve, AuthError, RequestIdentity};
use crate::http::rpc_guard::error_response;
use crate::state::AppState;

/// When the token a request presented expires (unix seconds): a websocket opened with it closes
/// then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenExpiry(pub i64);

pub async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let (identity, expiry) = match presented_token(request.headers(), request.uri()) {
        Err(err) => (RequestIdentity::Rejected(err), None),
        Ok(None) => (RequestIdentity::Anonymous, None),
        Ok(Some(token)) => match identify(&state, &token).await {
            Ok(identified) => identified,
            Err(err) => {
                tracing::error!(error = ?err, "resolving the caller failed");
                return error_response(StatusCode::INTERNAL_SERVER_ERROR, 500, "internal error");
            }
        },
    };
    request.extensions_mut().insert(identity);
    if let Some(expiry) = expiry {
        request.extensions_mut().insert(expiry);
    }
    next.run(request).await
}

/// Who presented `token`: verified and resolved through [`AuthCache`](super::AuthCache), which
/// remembers only accepted tokens and resolved callers (a deleted user is asked again each time).
async fn identify(state: &AppState, token: &str) -> anyhow::Result<(RequestIdentity, Option<TokenExpiry>)> {
    // The wall clock, as the verifier's own `exp` check uses, not the injectable `state.clock`.
    let now = chrono::Utc::now().timestamp();
    let claims = match state.auth_cache.verified(token, now, || state.auth.verify(token)).await {
        Ok(claims) => claims,
        Err(err) => return Ok((RequestIdentity::Rejected(err), None)),
    };
    let expiry = Some(TokenExpiry(claims.exp));
    if let Some(caller) = state.auth_cache.caller(&claims) {
        return Ok((RequestIdentity::Caller(caller), expiry));
    }
    let seen = state.auth_cache.generation();
    Ok(match resolve::caller(state, &claims).await? {
        Ok(caller) => {
            state.auth_cache.remember_caller(&claims, &caller, seen);
            (RequestIdentity::Caller(caller), expiry)
        }
        Err(refused) => (RequestIdentity::Rejected(refused), None),
    })
}

fn presented_token(headers: &HeaderMap, uri: &Uri) -> Result<Option<String>, AuthError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| AuthError::MalformedHeader)?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::MalformedHeader)?;
        return Ok(Some(token.to_owned()));
    }
    if let Some(token) = session_cookie(headers) {
        return Ok(Some(token));
    }
    Ok(uri.query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "token").map(|(_, v)| v.into_owned())
    }))
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "__session")
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(header::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        map
    }

    #[test]
    fn the_bearer_header_wins_over_cookie_and_query() {
        let uri: Uri = "/rspc/ws?token=q".parse().unwrap();
        let h = headers(&[("authorization", "Bearer h"), ("cookie", "__session=c")]);
        assert_eq!(presented_token(&h, &uri).unwrap().as_deref(), Some("h"));
    }

    #[test]
    fn the_session_cookie_and_the_query_token_are_accepted() {
        let uri: Uri = "/rspc/ws?token=q".parse().unwrap();
        assert_eq!(
            presented_token(&headers(&[("cookie", "a=b; __session=c")]), &uri).unwrap().as_deref(),
            Some("c")
        );
        assert_eq!(presented_token(&HeaderMap::new(), &uri).unwrap().as_deref(), Some("q"));
    }

    #[test]
    fn a_non_bearer_authorization_header_is_rejected() {
        let uri: Uri = "/".parse().unwrap();
        assert_eq!(
            presented_token(&headers(&[("authorization", "Basic abc")]), &uri),
            Err(AuthError::MalformedHeader)
        );
        assert_eq!(
            presented_token(&headers(&[("authorization", "Bearer ")]), &uri),
            Err(AuthError::MalformedHeader)
        );
    }
}
