//! The HTTP surface: routes and the middleware every request passes through.
//!
//! # Layout
//! - [`router`]: the main listener's routes and middleware; [`serve`]: its accept loop.
//! - [`metrics`]: `GET /metrics` (its own listener) and the per-route measurements;
//!   [`procedures`]: the per-procedure ones.
//! - [`limits`]: rate limits and the query-string limit; [`rpc_guard`]: bad rspc requests.
//! - [`health`], [`uploads`], [`exports`]: plain HTTP routes; [`websocket`]: the rspc socket.

pub mod exports;
pub mod health;
pub mod limits;
pub mod metrics;
pub mod procedures;
pub mod rpc_guard;
pub mod serve;
pub mod uploads;
pub mod websocket;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::api;
use crate::state::AppState;

pub use crate::telemetry::REQUEST_ID_HEADER;

/// The whole application router with its middleware. `GET /metrics` is not on it: see
/// [`metrics::router`], served on a listener of its own.
pub fn router(state: AppState, limiters: Arc<limits::RateLimiters>) -> Router {
    let procedures = api::router();
    let keys = procedures::ProcedureKeys::of(&procedures);
    let websocket = {
        let procedures = procedures.clone();
        let keys = keys.clone();
        move |state, identity, expiry, headers, upgrade| {
            websocket::upgrade(procedures, keys, state, identity, expiry, headers, upgrade)
        }
    };
    // Innermost first: the rate limit needs the caller's organization, so it follows
    // authentication, and it precedes the guard, which reads the body.
    let rpc = Router::new()
        .route("/ws", get(websocket))
        .merge(rspc_axum::endpoint(procedures, api::context::from_request))
        .layer(axum::middleware::from_fn_with_state(state.clone(), rpc_guard::guard))
        .layer(axum::middleware::from_fn_with_state(limiters.clone(), limits::limit_procedures))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::auth::middleware::authenticate))
        // A panicking procedure answers like any other rspc error, not with a dropped connection.
        .layer(CatchPanicLayer::custom(|_| {
            rpc_guard::error_response(StatusCode::INTERNAL_SERVER_ERROR, 500, "internal error")
        }))
        .layer(axum::middleware::from_fn_with_state(keys, procedures::track));
    let webhooks = Router::new()
        .route("/clerk", post(crate::webhooks::clerk::receive))
        .route("/retell", post(crate::webhooks::retell::receive))
        .route("/retell/inbound", post(crate::webhooks::retell_inbound::receive))
        .layer(axum::middleware::from_fn_with_state(limiters, limits::limit_webhooks));

    let mut routes = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .nest("/rspc", rpc)
        .nest("/webhooks", webhooks)
        .merge(uploads::router(&state))
        .merge(exports::router(&state));
    if state.settings.expose_test_routes {
        routes = routes.route("/__test/panic", get(test_panic));
    }
    if let Some(simulator) = &state.simulator {
        routes = routes.nest(
            "/simulator/retell",
            crate::simulator::router(simulator.clone(), state.settings.expose_test_routes),
        );
    }
    if let Some(stand_in) = &state.llm_stand_in {
        routes = routes.nest("/llm-stand-in", crate::llm_stand_in::router(stand_in.clone()));
    }
    let app = routes
        .layer(CatchPanicLayer::custom(|_| internal_error()))
        .layer(axum::middleware::from_fn(limits::limit_query_string))
        .layer(axum::middleware::from_fn(metrics::track));

    // Outermost first: every response, errors included, carries a request id, a trace span and
    // CORS headers (without them a browser reports "Failed to fetch" instead of the 401).
    app.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeRequestUuid))
            .layer(TraceLayer::new_for_http().make_span_with(request_span))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER))
            .layer(cors(&state.settings.cors_origins)),
    )
    .with_state(state)
}

/// Mounted only with `Settings::expose_test_routes`: proves a panicking handler answers a generic
/// 500 and the server keeps serving.
async fn test_panic() -> Response {
    panic!("deliberate panic from the /__test/panic route")
}

fn internal_error() -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(serde_json::json!({"error": "internal error"})))
        .into_response()
}

/// One span per request, named by the matched route rather than the raw URI (which may carry a
/// token in `?token=` for websockets, or ids).
fn request_span<B>(request: &Request<B>) -> tracing::Span {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| request.uri().path().to_owned());
    let request_id =
        request.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    tracing::info_span!("request", method = %request.method(), route = %route, request_id = %request_id)
}

fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            REQUEST_ID_HEADER,
            uploads::FILE_NAME_HEADER,
        ])
        // The export routes' file name, for a browser saving what it fetched.
        .expose_headers([REQUEST_ID_HEADER, header::CONTENT_DISPOSITION])
        .allow_credentials(true)
        .max_age(Duration::from_secs(600))
}
