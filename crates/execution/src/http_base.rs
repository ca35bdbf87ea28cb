//! What the HTTP provider clients (Retell, an OpenAI-compatible endpoint) share: the base URL as
//! configured (trimmed, without a trailing slash, and `http(s)://` only, so a typo fails at
//! start-up) and how their HTTP client is set up.

use std::time::Duration;

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

#[cfg(test)]
mod tests {
    use super::http_base_url;

    #[test]
    fn a_base_url_is_trimmed_and_must_be_http() {
        assert_eq!(http_base_url(" https://api.example/v1/ ").unwrap(), "https://api.example/v1");
        assert!(http_base_url("ftp://x").is_err());
        assert!(http_base_url("").is_err());
    }
}
