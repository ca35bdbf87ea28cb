//! What the HTTP provider clients (Retell, an OpenAI-compatible endpoint) share: the base URL as
//! configured (trimmed, without a trailing slash, and `http(s)://` only, so a typo fails at
//! start-up), how their HTTP client is set up, and how they read `Retry-After`.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// A client builder that gives up connecting after `request_timeout` or 5 s, whichever is
/// shorter, and names Rivvi and its version to the provider.
pub(crate) fn http_client(request_timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(request_timeout.min(Duration::from_secs(5)))
        .user_agent(concat!("rivvi/", env!("CARGO_PKG_VERSION")))
}

/// `raw` ready to have paths appended, or why it cannot be used.
pub(crate) fn http_base_url(raw: &str) -> Result<String, String> {
    let base = raw.trim().trim_end_matches('/');
    if base.starts_with("http://") || base.starts_with("https://") {
        Ok(base.to_owned())
    } else {
        Err(format!("base url must be http(s): {base}"))
    }
}

/// `Retry-After` as seconds or as an HTTP date (a date in the past is no wait), capped at `cap`;
/// `None` when absent or unreadable.
pub(crate) fn retry_after(headers: &HeaderMap, cap: Duration) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
            (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates_and_is_capped() {
        let cap = Duration::from_secs(5);
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers, cap), None);
        headers.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&headers, cap), Some(Duration::from_secs(2)));
        headers.insert(RETRY_AFTER, "120".parse().unwrap());
        assert_eq!(retry_after(&headers, cap), Some(cap));
        headers.insert(RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&headers, cap), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers, cap), None);
    }

    #[test]
    fn a_base_url_is_trimmed_and_must_be_http() {
        assert_eq!(http_base_url(" https://api.example/v1/ ").unwrap(), "https://api.example/v1");
        assert!(http_base_url("ftp://x").is_err());
        assert!(http_base_url("").is_err());
    }
}
