//! The development signing key: lets `rivvi dev-token` mint Clerk-shaped tokens locally.
//!
//! It lives under the data directory and is accepted only when no Clerk key is configured; the
//! server says so loudly at start-up.

use std::path::{Path, PathBuf};

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::RsaPrivateKey;

use super::claims::{CompactOrg, SessionClaims};

pub const DEV_KEY_FILE: &str = "dev-jwt-key.pem";
/// The `kid` dev tokens carry, so they are recognisable in logs.
pub const DEV_KEY_ID: &str = "rivvi-dev";
/// The `azp` dev tokens carry; the Next.js dev server's origin.
pub const DEV_AUTHORIZED_PARTY: &str = "http://localhost:3001";

/// The development RSA key pair, as PEM.
pub struct DevKey {
    private_pem: String,
    public_pem: String,
    pub path: PathBuf,
}

impl DevKey {
    /// Loads the key from the data directory, generating it on first use.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join(DEV_KEY_FILE);
        let private = if path.exists() {
            let pem = std::fs::read_to_string(&path)?;
            RsaPrivateKey::from_pkcs8_pem(&pem)
                .map_err(|e| anyhow::anyhow!("{} is not a PKCS#8 RSA key: {e}", path.display()))?
        } else {
            std::fs::create_dir_all(data_dir)?;
            let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)?;
            let pem = key.to_pkcs8_pem(LineEnding::LF)?;
            write_private(&path, pem.as_bytes())?;
            tracing::warn!(path = %path.display(), "generated a development JWT signing key");
            key
        };
        Ok(Self {
            private_pem: private.to_pkcs8_pem(LineEnding::LF)?.to_string(),
            public_pem: private.to_public_key().to_public_key_pem(LineEnding::LF)?,
            path,
        })
    }

    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }

    /// Signs claims with the development key.
    pub fn sign(&self, claims: &SessionClaims) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(DEV_KEY_ID.into());
        Ok(encode(&header, claims, &EncodingKey::from_rsa_pem(self.private_pem.as_bytes())?)?)
    }
}

/// The claim shape a minted token uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClaimShape {
    V1,
    V2,
}

/// Builds Clerk-shaped session claims for a user acting in an organization.
pub fn session_claims(
    user: &str,
    org: Option<(&str, &str)>,
    shape: ClaimShape,
    ttl: chrono::Duration,
) -> SessionClaims {
    let now = chrono::Utc::now().timestamp();
    let mut claims = SessionClaims {
        sub: user.to_owned(),
        sid: Some(format!("sess_dev_{now}")),
        azp: Some(DEV_AUTHORIZED_PARTY.into()),
        iss: Some("https://rivvi.dev.local".into()),
        iat: Some(now),
        nbf: Some(now - 5),
        exp: now + ttl.num_seconds(),
        ..SessionClaims::default()
    };
    if let Some((org_id, clerk_role)) = org {
        match shape {
            ClaimShape::V1 => {
                claims.org_id = Some(org_id.to_owned());
                claims.org_role = Some(format!("org:{clerk_role}"));
            }
            ClaimShape::V2 => {
                claims.v = Some(2);
                claims.sts = Some("active".into());
                claims.o =
                    Some(CompactOrg { id: org_id.to_owned(), rol: Some(clerk_role.to_owned()), slg: None });
            }
        }
    }
    claims
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    // The private key is readable by its owner only.
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
