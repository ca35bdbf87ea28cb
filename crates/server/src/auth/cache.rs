//! Verify once, remember briefly: the verified claims of recently seen tokens and the callers they
//! resolved to, so the common request skips both the RS256 check and the resolution transaction.
//!
//! - Tokens are keyed by the SHA-256 of the token (a memory dump holds no usable bearer token)
//!   and never served at or past their `exp`, whatever the cache's own expiry does; a token that
//!   failed verification is never remembered.
//! - Callers are keyed by what resolution reads from the claims (Clerk user, org and role) and
//!   kept [`CALLER_LIFETIME`]. Every identity write on this instance (Clerk webhook, operator
//!   organization changes, just-in-time writes in [`super::resolve`]) clears them all, so a
//!   revocation is immediate here. Other instances learn of it only when their entry lapses:
//!   cross-instance invalidation (PostgreSQL LISTEN/NOTIFY) is issue 13.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::sync::Cache;
use moka::Expiry;
use sha2::{Digest, Sha256};

use super::claims::SessionClaims;
use super::{AuthError, Caller};

/// Distinct tokens remembered at once; beyond it the least useful are evicted (a token costs
/// about 1 KB here, so the bound is ~10 MB).
const MAX_TOKENS: u64 = 10_000;
/// The longest a verified token is remembered, even when its `exp` is further away: bounds how
/// long a signing key rotated out of the JWKS keeps being honoured for an already-seen token.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// Distinct (user, organization, role) callers remembered at once.
const MAX_CALLERS: u64 = 10_000;
/// How long a resolved caller is trusted without asking the database. This is the window in
/// which *another* instance still serves a deleted user or organization (this instance forgets
/// at once); short, because until issue 13 nothing tells the other instances.
pub const CALLER_LIFETIME: Duration = Duration::from_secs(30);

/// The SHA-256 of a presented token.
type TokenKey = [u8; 32];

/// What resolution reads from the claims, and so what a resolved caller depends on (besides the
/// database, whose changes clear the cache).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CallerKey {
    clerk_user_id: String,
    /// The active organization's Clerk id and the Clerk role the token states there.
    org: Option<(String, String)>,
}

impl CallerKey {
    fn of(claims: &SessionClaims) -> Self {
        CallerKey {
            clerk_user_id: claims.sub.clone(),
            org: claims.active_org().map(|o| (o.clerk_org_id, o.clerk_role)),
        }
    }
}

/// A point in the sequence of cache clears, taken before resolving a caller: a caller resolved
/// across a clear may have read what the clear was about, so it is not remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation(u64);

/// The two caches, cheap to clone (every field is a handle); held in [`crate::state::AppState`].
#[derive(Clone)]
pub struct AuthCache {
    tokens: Cache<TokenKey, Arc<SessionClaims>>,
    callers: Cache<CallerKey, Caller>,
    /// Bumped by every clear; see [`Generation`].
    generation: Arc<AtomicU64>,
}

impl Default for AuthCache {
    fn default() -> Self {
        Self::new()
    }
}

impl AuthCache {
    pub fn new() -> Self {
        AuthCache {
            tokens: Cache::builder().max_capacity(MAX_TOKENS).expire_after(UntilExp).build(),
            callers: Cache::builder().max_capacity(MAX_CALLERS).time_to_live(CALLER_LIFETIME).build(),
            generation: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The claims of `token`: remembered ones while `now` (unix seconds) is before their `exp`,
    /// else whatever `verify` answers, remembered only when it accepts and `exp` is still ahead.
    /// A remembered token past `exp` goes back to `verify`, whose clock-skew leeway then decides
    /// exactly as without the cache.
    pub async fn verified<F, Fut>(
        &self,
        token: &str,
        now: i64,
        verify: F,
    ) -> Result<Arc<SessionClaims>, AuthError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<SessionClaims, AuthError>>,
    {
        let key: TokenKey = Sha256::digest(token.as_bytes()).into();
        if let Some(claims) = self.tokens.get(&key) {
            if now < claims.exp {
                count("token", "hit");
                return Ok(claims);
            }
            self.tokens.invalidate(&key);
        }
        count("token", "miss");
        let claims = Arc::new(verify().await?);
        if now < claims.exp {
            self.tokens.insert(key, claims.clone());
        }
        Ok(claims)
    }

    /// The caller these claims resolved to within [`CALLER_LIFETIME`], unless a clear came since.
    pub fn caller(&self, claims: &SessionClaims) -> Option<Caller> {
        let found = self.callers.get(&CallerKey::of(claims));
        count("caller", if found.is_some() { "hit" } else { "miss" });
        found
    }

    /// Taken before resolving a caller, handed back to [`AuthCache::remember_caller`].
    pub fn generation(&self) -> Generation {
        Generation(self.generation.load(Ordering::SeqCst))
    }

    /// Remembers the caller `claims` resolved to, unless the cache was cleared since `seen`.
    pub fn remember_caller(&self, claims: &SessionClaims, caller: &Caller, seen: Generation) {
        let key = CallerKey::of(claims);
        self.callers.insert(key.clone(), caller.clone());
        // Checked after inserting: a clear that bumped the generation before this check is seen
        // here, and one that bumps it after also clears this entry (moka's `invalidate_all`
        // drops everything inserted before it).
        if self.generation() != seen {
            self.callers.invalidate(&key);
        }
    }

    /// Forgets every resolved caller: called after any write to users, organizations or
    /// memberships on this instance. Remembered tokens stay: their claims do not depend on the
    /// database.
    pub fn forget_callers(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.callers.invalidate_all();
    }
}

fn count(cache: &'static str, outcome: &'static str) {
    metrics::counter!("auth_cache_lookups_total", "cache" => cache, "outcome" => outcome).increment(1);
}

/// A token entry lives until its `exp` or [`MAX_TOKEN_LIFETIME`], whichever comes first. This
/// bounds memory; correctness rests on the `exp` check in [`AuthCache::verified`].
struct UntilExp;

impl Expiry<TokenKey, Arc<SessionClaims>> for UntilExp {
    fn expire_after_create(
        &self,
        _key: &TokenKey,
        claims: &Arc<SessionClaims>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(token_lifetime(claims.exp, chrono::Utc::now().timestamp()))
    }
}

fn token_lifetime(exp: i64, now: i64) -> Duration {
    let left = u64::try_from(exp.saturating_sub(now)).unwrap_or(0);
    Duration::from_secs(left).min(MAX_TOKEN_LIFETIME)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::LazyLock;

    use rivvi_domain::ids::UserId;

    use super::*;

    /// The real time: the cache's own expiry (a memory bound) runs on the wall clock; the `exp`
    /// check under test takes `now` from its caller.
    static NOW: LazyLock<i64> = LazyLock::new(|| chrono::Utc::now().timestamp());

    fn claims(user: &str, exp: i64) -> SessionClaims {
        SessionClaims { sub: user.into(), exp, ..Default::default() }
    }

    /// Verifies through `cache`, counting the calls that reach the verifier.
    async fn verify_counted(
        cache: &AuthCache,
        token: &str,
        now: i64,
        answer: Result<SessionClaims, AuthError>,
        calls: &AtomicUsize,
    ) -> Result<Arc<SessionClaims>, AuthError> {
        cache
            .verified(token, now, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                answer
            })
            .await
    }

    fn caller(user: &str) -> Caller {
        Caller { user_id: UserId::new(), clerk_user_id: user.into(), org: None }
    }

    #[tokio::test]
    async fn a_token_is_verified_once_across_many_requests() {
        let cache = AuthCache::new();
        let calls = AtomicUsize::new(0);

        for _ in 0..100 {
            let claims =
                verify_counted(&cache, "tok-a", *NOW, Ok(claims("user_a", *NOW + 60)), &calls).await.unwrap();
            assert_eq!(claims.sub, "user_a");
        }

        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_refused_token_is_not_remembered() {
        let cache = AuthCache::new();
        let calls = AtomicUsize::new(0);

        for _ in 0..3 {
            let refused = verify_counted(&cache, "tok-bad", *NOW, Err(AuthError::Expired), &calls).await;
            assert_eq!(refused.unwrap_err(), AuthError::Expired);
        }

        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_remembered_token_is_not_served_once_its_exp_passes() {
        let cache = AuthCache::new();
        let calls = AtomicUsize::new(0);
        verify_counted(&cache, "tok-a", *NOW, Ok(claims("user_a", *NOW + 30)), &calls).await.unwrap();

        verify_counted(&cache, "tok-a", *NOW + 29, Err(AuthError::Expired), &calls).await.unwrap();
        let after_exp = verify_counted(&cache, "tok-a", *NOW + 30, Err(AuthError::Expired), &calls).await;

        assert_eq!(after_exp.unwrap_err(), AuthError::Expired, "the verifier decides again at exp");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_token_accepted_past_its_exp_within_the_leeway_is_not_remembered() {
        let cache = AuthCache::new();
        let calls = AtomicUsize::new(0);

        for _ in 0..2 {
            verify_counted(&cache, "tok-a", *NOW, Ok(claims("user_a", *NOW - 1)), &calls).await.unwrap();
        }

        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn tokens_are_remembered_apart() {
        let cache = AuthCache::new();
        let calls = AtomicUsize::new(0);
        verify_counted(&cache, "tok-a", *NOW, Ok(claims("user_a", *NOW + 60)), &calls).await.unwrap();

        let b = verify_counted(&cache, "tok-b", *NOW, Ok(claims("user_b", *NOW + 60)), &calls).await.unwrap();

        assert_eq!(b.sub, "user_b");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_token_entry_lives_until_exp_or_five_minutes() {
        assert_eq!(token_lifetime(*NOW + 30, *NOW), Duration::from_secs(30));
        assert_eq!(token_lifetime(*NOW + 3600, *NOW), MAX_TOKEN_LIFETIME);
        assert_eq!(token_lifetime(*NOW - 10, *NOW), Duration::ZERO);
    }

    #[test]
    fn a_caller_is_remembered_per_user_org_and_role() {
        let cache = AuthCache::new();
        let admin = SessionClaims {
            org_id: Some("org_a".into()),
            org_role: Some("org:admin".into()),
            ..claims("user_a", *NOW)
        };
        let member = SessionClaims { org_role: Some("org:member".into()), ..admin.clone() };
        let resolved = caller("user_a");

        cache.remember_caller(&admin, &resolved, cache.generation());

        assert_eq!(cache.caller(&admin).map(|c| c.user_id), Some(resolved.user_id));
        assert!(cache.caller(&member).is_none(), "another role is another caller");
        assert!(cache.caller(&claims("user_a", *NOW)).is_none(), "no org is another caller");
    }

    #[test]
    fn forgetting_callers_drops_every_one() {
        let cache = AuthCache::new();
        let a = claims("user_a", *NOW);
        cache.remember_caller(&a, &caller("user_a"), cache.generation());

        cache.forget_callers();

        assert!(cache.caller(&a).is_none());
    }

    #[test]
    fn a_caller_resolved_across_a_clear_is_not_remembered() {
        let cache = AuthCache::new();
        let a = claims("user_a", *NOW);
        let seen = cache.generation();

        cache.forget_callers();
        cache.remember_caller(&a, &caller("user_a"), seen);

        assert!(cache.caller(&a).is_none());
    }
}
