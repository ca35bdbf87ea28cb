//! Tracing set-up, request ids and the panic hook.

use axum::http::{HeaderMap, HeaderName};
use tracing_subscriber::{fmt, EnvFilter};

/// The header carrying each request's id: set by the HTTP layer when the client sent none,
/// echoed in the response, written to the audit entries the request causes.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The request id the HTTP layer put on a request.
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    headers.get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// Installs the global subscriber: JSON lines in production, human-readable text otherwise.
/// Safe to call more than once (later calls are no-ops), which the tests rely on.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,tower_http=info"));
    let builder = fmt().with_env_filter(filter).with_target(true);
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
    install_panic_hook();
}

/// Logs a panic once, as one tracing event without a backtrace, instead of the default hook's
/// stderr dump; the HTTP layer then answers 500 without repeating it.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".into());
        let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        tracing::error!(panic.message = %message, panic.location = %location, "panic");
    }));
}
