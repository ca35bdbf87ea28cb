//! RS256 verification of Clerk session tokens, from a PEM key, a cached JWKS or the dev key.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use tokio::sync::RwLock;

use super::claims::SessionClaims;
use super::AuthError;
use crate::config::{AuthSettings, JwtKeySource};

/// Clock skew tolerated on `exp` and `nbf`, as Clerk's own SDKs allow.
const LEEWAY_SECONDS: u64 = 5;
/// How long fetched JWKS keys are trusted before a refresh.
const JWKS_TTL: Duration = Duration::from_secs(3600);
/// An unknown `kid` triggers a refresh at most this often, so garbage tokens cannot hammer Clerk.
const JWKS_MIN_REFRESH: Duration = Duration::from_secs(30);

enum Keys {
    Static(Box<DecodingKey>),
    Jwks { url: String, http: reqwest::Client, cache: RwLock<JwksCache> },
}

struct JwksCache {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
}

/// Verifies session tokens. Built once at start-up and shared.
pub struct Authenticator {
    keys: Keys,
    authorized_parties: Vec<String>,
    /// The `iss` every token must carry, when configured.
    issuer: Option<String>,
    operator_org: Option<String>,
}

impl Authenticator {
    /// `dev_public_pem` is the development key's public half; it is used only when no Clerk key is
    /// configured (the configuration guarantees production always has one).
    pub fn new(settings: &AuthSettings, dev_public_pem: Option<&str>) -> anyhow::Result<Self> {
        let keys = match &settings.jwt_key {
            JwtKeySource::Pem(pem) => Keys::Static(Box::new(
                DecodingKey::from_rsa_pem(pem.as_bytes())
                    .map_err(|e| anyhow::anyhow!("CLERK_JWT_KEY is not an RSA public key PEM: {e}"))?,
            )),
            JwtKeySource::Jwks(url) => Keys::Jwks {
                url: url.clone(),
                http: reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?,
                cache: RwLock::new(JwksCache { keys: HashMap::new(), fetched_at: None }),
            },
            JwtKeySource::DevKey => {
                let pem = dev_public_pem.ok_or_else(|| anyhow::anyhow!("development key missing"))?;
                Keys::Static(Box::new(DecodingKey::from_rsa_pem(pem.as_bytes())?))
            }
        };
        Ok(Self {
            keys,
            authorized_parties: settings.authorized_parties.clone(),
            operator_org: settings.operator_org.clone(),
            issuer: settings.issuer.clone(),
        })
    }

    /// The Clerk id of the operator organization, whose members are super admins.
    pub fn operator_org(&self) -> Option<&str> {
        self.operator_org.as_deref()
    }

    /// Verifies signature, algorithm, time window, issuer (when configured) and authorized party.
    pub async fn verify(&self, token: &str) -> Result<SessionClaims, AuthError> {
        let header = decode_header(token).map_err(|e| AuthError::InvalidToken(e.to_string()))?;
        // Only RS256 is accepted: this rules out `alg: none` and HS256 signed with the public key.
        if header.alg != Algorithm::RS256 {
            return Err(AuthError::InvalidToken(format!("algorithm {:?} is not accepted", header.alg)));
        }
        let key = self.key_for(header.kid.as_deref()).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        if let Some(issuer) = &self.issuer {
            // `iss` becomes required too: a token without one is refused.
            validation.set_required_spec_claims(&["exp", "sub", "iss"]);
            validation.set_issuer(&[issuer.as_str(), &format!("{issuer}/")]);
        }
        let data = decode::<SessionClaims>(token, &key, &validation).map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::ImmatureSignature => AuthError::NotYetValid,
            _ => AuthError::InvalidToken(e.to_string()),
        })?;
        let claims = data.claims;
        if let Some(azp) = &claims.azp {
            let azp = azp.trim_end_matches('/');
            if !self.authorized_parties.is_empty() && !self.authorized_parties.iter().any(|p| p == azp) {
                return Err(AuthError::UnauthorizedParty);
            }
        }
        if claims.sts.as_deref() == Some("pending") {
            return Err(AuthError::InvalidToken("session is pending".into()));
        }
        Ok(claims)
    }

    async fn key_for(&self, kid: Option<&str>) -> Result<DecodingKey, AuthError> {
        match &self.keys {
            Keys::Static(key) => Ok((**key).clone()),
            Keys::Jwks { url, http, cache } => {
                let kid = kid.ok_or_else(|| AuthError::InvalidToken("token has no kid".into()))?;
                {
                    let cache = cache.read().await;
                    let fresh = cache.fetched_at.is_some_and(|at| at.elapsed() < JWKS_TTL);
                    if let (true, Some(key)) = (fresh, cache.keys.get(kid)) {
                        return Ok(key.clone());
                    }
                }
                let mut cache = cache.write().await;
                let may_refresh = cache.fetched_at.is_none_or(|at| at.elapsed() >= JWKS_MIN_REFRESH);
                if may_refresh {
                    match fetch_jwks(http, url).await {
                        Ok(keys) => {
                            cache.keys = keys;
                            cache.fetched_at = Some(Instant::now());
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "fetching Clerk JWKS failed");
                            if cache.keys.is_empty() {
                                return Err(AuthError::KeysUnavailable);
                            }
                        }
                    }
                }
                cache.keys.get(kid).cloned().ok_or_else(|| AuthError::InvalidToken("unknown kid".into()))
            }
        }
    }
}

async fn fetch_jwks(http: &reqwest::Client, url: &str) -> anyhow::Result<HashMap<String, DecodingKey>> {
    let set: JwkSet = http.get(url).send().await?.error_for_status()?.json().await?;
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        if let (Some(kid), Ok(key)) = (jwk.common.key_id.clone(), DecodingKey::from_jwk(jwk)) {
            keys.insert(kid, key);
        }
    }
    Ok(keys)
}
