//! Real RS256 session tokens in Clerk's v1 and v2 claim shapes, signed with a key generated once
//! per test process (and a second, untrusted key for the wrong-key cases).

use std::sync::LazyLock;

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::RsaPrivateKey;
use serde_json::{json, Value};

use super::FRONTEND_ORIGIN;

struct KeyPair {
    private_pem: String,
    public_pem: String,
    /// The public key's modulus and exponent, base64url, as a JWKS carries them.
    n: String,
    e: String,
}

fn generate() -> KeyPair {
    let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("rsa key");
    use base64::Engine;
    use rsa::traits::PublicKeyParts;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    KeyPair {
        private_pem: key.to_pkcs8_pem(LineEnding::LF).expect("pem").to_string(),
        public_pem: key.to_public_key().to_public_key_pem(LineEnding::LF).expect("pem"),
        n: b64.encode(key.n().to_bytes_be()),
        e: b64.encode(key.e().to_bytes_be()),
    }
}

static TRUSTED: LazyLock<KeyPair> = LazyLock::new(generate);
static UNTRUSTED: LazyLock<KeyPair> = LazyLock::new(generate);

/// The public key the test servers trust (as `CLERK_JWT_KEY`).
pub fn public_pem() -> &'static str {
    &TRUSTED.public_pem
}

/// A JWKS document holding the trusted key under the `kid` test tokens carry, as Clerk serves
/// it at `/.well-known/jwks.json`.
pub fn jwks() -> Value {
    json!({"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": "ins_test", "n": TRUSTED.n, "e": TRUSTED.e}]})
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    V1,
    V2,
}

/// Builds a token; the defaults give a valid v2 token of `user_alice` with no active org.
#[derive(Clone)]
pub struct TokenBuilder {
    user: String,
    org: Option<(String, String)>,
    shape: Shape,
    exp_offset: i64,
    nbf_offset: Option<i64>,
    azp: Option<String>,
    untrusted_key: bool,
    extra: Vec<(String, Value)>,
}

impl TokenBuilder {
    pub fn user(user: &str) -> Self {
        TokenBuilder {
            user: user.to_owned(),
            org: None,
            shape: Shape::V2,
            exp_offset: 600,
            nbf_offset: Some(-5),
            azp: Some(FRONTEND_ORIGIN.to_owned()),
            untrusted_key: false,
            extra: Vec::new(),
        }
    }

    /// Acting in `org` with a Clerk role (`admin` or `member`, without the `org:` prefix).
    pub fn in_org(mut self, org: &str, clerk_role: &str) -> Self {
        self.org = Some((org.to_owned(), clerk_role.to_owned()));
        self
    }

    pub fn shape(mut self, shape: Shape) -> Self {
        self.shape = shape;
        self
    }

    pub fn expires_in(mut self, seconds: i64) -> Self {
        self.exp_offset = seconds;
        self
    }

    pub fn not_before_in(mut self, seconds: i64) -> Self {
        self.nbf_offset = Some(seconds);
        self
    }

    pub fn azp(mut self, azp: &str) -> Self {
        self.azp = Some(azp.to_owned());
        self
    }

    pub fn signed_by_untrusted_key(mut self) -> Self {
        self.untrusted_key = true;
        self
    }

    pub fn claim(mut self, key: &str, value: Value) -> Self {
        self.extra.push((key.to_owned(), value));
        self
    }

    pub fn claims(&self) -> Value {
        let now = chrono::Utc::now().timestamp();
        let mut claims = json!({
            "sub": self.user,
            "sid": "sess_test",
            "iss": "https://clerk.test.local",
            "iat": now,
            "exp": now + self.exp_offset,
        });
        if let Some(nbf) = self.nbf_offset {
            claims["nbf"] = json!(now + nbf);
        }
        if let Some(azp) = &self.azp {
            claims["azp"] = json!(azp);
        }
        if let Some((org, role)) = &self.org {
            match self.shape {
                Shape::V1 => {
                    claims["org_id"] = json!(org);
                    claims["org_role"] = json!(format!("org:{role}"));
                    claims["org_slug"] = json!(org.trim_start_matches("org_"));
                }
                Shape::V2 => {
                    claims["v"] = json!(2);
                    claims["sts"] = json!("active");
                    claims["o"] = json!({"id": org, "rol": role, "slg": org.trim_start_matches("org_")});
                }
            }
        }
        for (key, value) in &self.extra {
            claims[key.as_str()] = value.clone();
        }
        claims
    }

    pub fn sign(&self) -> String {
        let keys = if self.untrusted_key { &*UNTRUSTED } else { &*TRUSTED };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("ins_test".into());
        encode(&header, &self.claims(), &EncodingKey::from_rsa_pem(keys.private_pem.as_bytes()).expect("key"))
            .expect("sign")
    }

    /// Signs HS256 using the trusted *public* key as the HMAC secret: the classic key-confusion attack.
    pub fn sign_hs256_with_public_key(&self) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            &self.claims(),
            &EncodingKey::from_secret(public_pem().as_bytes()),
        )
        .expect("sign")
    }

    /// An unsigned token with `alg: none`.
    pub fn unsigned(&self) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = b64.encode(self.claims().to_string());
        format!("{header}.{payload}.")
    }
}
