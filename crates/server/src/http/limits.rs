//! Request limits, each answered with the JSON error body of the surface it applies to: rate
//! limits (per client address on the webhooks, per organization on the procedures) and the
//! longest query string.
//!
//! Rate limits are token buckets (GCRA, from `governor`) kept in this process: a deployment of
//! several instances allows each client that many requests per instance it reaches.

use std::future::Future;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota};
use rivvi_domain::ids::{OrgId, UserId};

use super::rpc_guard::error_response;
use crate::auth::RequestIdentity;
use crate::config::{IpNetwork, RateLimit, RateLimits};

/// The longest query string served, in bytes. Procedure queries carry their input in
/// `?input=`; none comes near this, and hyper refuses a request line over 64 KiB on its own
/// (answered through `http::serve` with the same message).
pub const QUERY_LIMIT: usize = 16 * 1024;

/// How often buckets that have refilled completely are forgotten, so a scan from many addresses
/// does not keep memory.
const FORGET_FULL_BUCKETS_EVERY: Duration = Duration::from_secs(60);

/// The rate limiters of one server, shared by its routes.
pub struct RateLimiters {
    rpc: Option<Limiter<RpcKey>>,
    webhook: Option<Limiter<IpAddr>>,
    trusted_proxies: Vec<IpNetwork>,
}

/// Whose bucket a procedure call takes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum RpcKey {
    /// Everyone of one organization together: the unit that pays, and that one runaway script
    /// must not let starve the others.
    Org(OrgId),
    /// A verified user with no active organization yet (the organization picker).
    User(UserId),
    /// Unauthenticated or refused credentials: only the address is known.
    Address(IpAddr),
}

struct Limiter<K: Clone + Hash + Eq> {
    buckets: DefaultKeyedRateLimiter<K>,
    limit: RateLimit,
}

impl<K: Clone + Hash + Eq> Limiter<K> {
    fn new(limit: RateLimit) -> Self {
        Self {
            buckets: DefaultKeyedRateLimiter::hashmap(
                Quota::per_minute(limit.per_minute).allow_burst(limit.burst),
            ),
            limit,
        }
    }

    /// `Err(wait)` when `key`'s bucket is empty: how long until it holds a token again.
    fn check(&self, key: &K) -> Result<(), Duration> {
        self.buckets.check_key(key).map_err(|refused| refused.wait_time_from(self.buckets.clock().now()))
    }

    fn forget_full_buckets(&self) {
        self.buckets.retain_recent();
        self.buckets.shrink_to_fit();
    }
}

impl RateLimiters {
    pub fn new(settings: &RateLimits) -> Arc<Self> {
        Arc::new(Self {
            rpc: settings.rpc.map(Limiter::new),
            webhook: settings.webhook.map(Limiter::new),
            trusted_proxies: settings.trusted_proxies.clone(),
        })
    }

    /// Forgets full buckets every `FORGET_FULL_BUCKETS_EVERY` until `shutdown`.
    pub fn spawn_upkeep<F>(self: &Arc<Self>, shutdown: F) -> tokio::task::JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let limiters = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(FORGET_FULL_BUCKETS_EVERY);
            tokio::pin!(shutdown);
            loop {
                tokio::select! {
                    () = &mut shutdown => break,
                    _ = ticks.tick() => {
                        if let Some(rpc) = &limiters.rpc {
                            rpc.forget_full_buckets();
                        }
                        if let Some(webhook) = &limiters.webhook {
                            webhook.forget_full_buckets();
                        }
                    }
                }
            }
        })
    }

    /// The client's address: the socket's peer, or, when the peer is a trusted proxy, the
    /// nearest address in `X-Forwarded-For` that is not one. Each proxy appends the address it
    /// got the request from, so the entries right of the first untrusted one were written by
    /// our proxies and those left of it by whoever sent the request (and may be forged).
    pub fn client_address(&self, request: &Request) -> IpAddr {
        // Always there when served by `http::serve`; a router driven another way (a unit test)
        // shares one bucket.
        let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() else {
            return IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        };
        let mut client = peer.ip().to_canonical();
        if !self.trusted(client) {
            return client;
        }
        let forwarded = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        for hop in forwarded.into_iter().rev() {
            // Garbage where an address should be: the last address we can vouch for is the client.
            let Ok(address) = hop.parse::<IpAddr>() else { break };
            client = address.to_canonical();
            if !self.trusted(client) {
                break;
            }
        }
        client
    }

    fn trusted(&self, address: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|network| network.contains(address))
    }
}

/// The bucket an address draws from: IPv6 by /64, the block one subscriber is given, so that
/// walking through its own addresses does not multiply anyone's allowance.
fn bucket(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !(u128::from(u64::MAX)))),
    }
}

/// Whole seconds to wait, at least one (`Retry-After` has no fractions).
fn retry_after_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

fn with_retry_after(mut response: Response, seconds: u64) -> Response {
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

fn too_many(limit: &RateLimit, per: &str, seconds: u64) -> String {
    format!("too many requests: the limit is {} per minute per {per}; retry in {seconds} s", limit.per_minute)
}

/// `/webhooks/*`: per client address.
pub async fn limit_webhooks(
    State(limiters): State<Arc<RateLimiters>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(limiter) = &limiters.webhook else { return next.run(request).await };
    let address = limiters.client_address(&request);
    match limiter.check(&bucket(address)) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let seconds = retry_after_seconds(wait);
            let message = too_many(&limiter.limit, "address", seconds);
            with_retry_after(crate::webhooks::too_many_requests(message), seconds)
        }
    }
}

/// `/rspc/*`, after authentication: per organization of the caller (see `RpcKey`).
pub async fn limit_procedures(
    State(limiters): State<Arc<RateLimiters>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(limiter) = &limiters.rpc else { return next.run(request).await };
    let (key, per) = match request.extensions().get::<RequestIdentity>() {
        Some(RequestIdentity::Caller(caller)) => match &caller.org {
            Some(org) => (RpcKey::Org(org.org_id), "organization"),
            None => (RpcKey::User(caller.user_id), "user"),
        },
        _ => (RpcKey::Address(bucket(limiters.client_address(&request))), "address"),
    };
    match limiter.check(&key) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let seconds = retry_after_seconds(wait);
            let message = too_many(&limiter.limit, per, seconds);
            with_retry_after(error_response(StatusCode::TOO_MANY_REQUESTS, 429, &message), seconds)
        }
    }
}

/// Every route: a query string over [`QUERY_LIMIT`] gets a 414 in its surface's error shape.
pub async fn limit_query_string(request: Request, next: Next) -> Response {
    let length = request.uri().query().map_or(0, str::len);
    if length <= QUERY_LIMIT {
        return next.run(request).await;
    }
    let message = query_too_long(Some(length));
    if request.uri().path().starts_with("/rspc/") {
        error_response(StatusCode::URI_TOO_LONG, 414, &message)
    } else {
        (StatusCode::URI_TOO_LONG, axum::Json(serde_json::json!({ "error": message }))).into_response()
    }
}

/// The message for a query string of `length` bytes (`None`: refused by hyper before it was
/// measured).
pub fn query_too_long(length: Option<usize>) -> String {
    match length {
        Some(length) => format!("query string too long ({length} bytes): the limit is {QUERY_LIMIT} bytes"),
        None => format!("request line too long: query strings are limited to {QUERY_LIMIT} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_and_is_never_zero() {
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(20)), 1);
        assert_eq!(retry_after_seconds(Duration::from_secs(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1_001)), 2);
        assert_eq!(retry_after_seconds(Duration::from_secs(60)), 60);
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64_block() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(bucket(a), bucket(b));
        assert_ne!(bucket(a), bucket(c));
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(bucket(v4), v4);
    }

    fn limiters(trusted: &[&str]) -> Arc<RateLimiters> {
        RateLimiters::new(&RateLimits {
            rpc: None,
            webhook: None,
            trusted_proxies: trusted.iter().map(|t| IpNetwork::parse(t).unwrap()).collect(),
        })
    }

    fn request(peer: &str, forwarded: Option<&str>) -> Request {
        let mut request = Request::new(axum::body::Body::empty());
        request.extensions_mut().insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 40_000)));
        if let Some(forwarded) = forwarded {
            request.headers_mut().insert("x-forwarded-for", HeaderValue::from_str(forwarded).unwrap());
        }
        request
    }

    #[test]
    fn forwarded_for_is_read_only_from_a_trusted_proxy() {
        let none = limiters(&[]);
        assert_eq!(
            none.client_address(&request("198.51.100.7", Some("203.0.113.1"))).to_string(),
            "198.51.100.7"
        );

        let proxied = limiters(&["10.0.0.0/8"]);
        let client = |peer, forwarded| proxied.client_address(&request(peer, forwarded)).to_string();
        // The client, then two of our proxies; a forged entry left of the client is ignored.
        assert_eq!(client("10.0.0.2", Some("1.2.3.4, 203.0.113.9, 10.0.0.1")), "203.0.113.9");
        assert_eq!(client("10.0.0.2", None), "10.0.0.2");
        assert_eq!(client("10.0.0.2", Some("garbage, 10.0.0.1")), "10.0.0.1");
        assert_eq!(client("198.51.100.7", Some("203.0.113.9")), "198.51.100.7", "untrusted peer");
        assert_eq!(client("::ffff:10.0.0.2", Some("203.0.113.9")), "203.0.113.9", "IPv4-mapped peer");
    }

    #[test]
    fn a_bucket_refuses_past_its_burst_and_says_how_long_to_wait() {
        let limit = RateLimit { per_minute: 60.try_into().unwrap(), burst: 2.try_into().unwrap() };
        let limiter = Limiter::new(limit);
        assert!(limiter.check(&1).is_ok() && limiter.check(&1).is_ok());
        let wait = limiter.check(&1).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1), "{wait:?}");
        assert!(limiter.check(&2).is_ok(), "another key has its own bucket");
    }
}
