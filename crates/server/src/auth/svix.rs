//! Svix webhook signatures (Clerk signs its webhooks with Svix), verified on the raw body before
//! anything is parsed.

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = hmac::Hmac<Sha256>;

/// Signatures older or newer than this are refused, which bounds the replay window to what the
/// idempotency table remembers.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("malformed {0} header")]
    Malformed(&'static str),
    #[error("timestamp outside the allowed window")]
    StaleTimestamp,
    #[error("signature does not match")]
    Mismatch,
}

/// Svix (Clerk): `v1,<base64 HMAC-SHA256("{id}.{timestamp}.{body}")>`, several space-separated
/// during secret rotation; the key is the base64 part of `whsec_…`.
pub fn verify_svix(
    secret: &str,
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now_unix: i64,
) -> Result<(), SignatureError> {
    let sent_at: i64 = timestamp.trim().parse().map_err(|_| SignatureError::Malformed("svix-timestamp"))?;
    if (now_unix - sent_at).abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::StaleTimestamp);
    }
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim().trim_start_matches("whsec_"))
        .map_err(|_| SignatureError::Malformed("signing secret"))?;
    let mut mac =
        HmacSha256::new_from_slice(&key).map_err(|_| SignatureError::Malformed("signing secret"))?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.trim().as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    let matched = signatures
        .split_whitespace()
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .any(|candidate| bool::from(candidate.as_slice().ct_eq(expected.as_slice())));
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Produces a Svix signature header value; used by tests and the local tooling that replays events.
pub fn sign_svix(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, SignatureError> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim().trim_start_matches("whsec_"))
        .map_err(|_| SignatureError::Malformed("signing secret"))?;
    let mut mac =
        HmacSha256::new_from_slice(&key).map_err(|_| SignatureError::Malformed("signing secret"))?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Ok(format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn a_signature_made_with_the_secret_verifies() {
        let sig = sign_svix(SECRET, "msg_1", 1_700_000_000, b"{}").unwrap();
        assert_eq!(verify_svix(SECRET, "msg_1", "1700000000", &sig, b"{}", 1_700_000_010), Ok(()));
    }

    #[test]
    fn any_one_of_several_rotating_signatures_is_enough() {
        let sig = sign_svix(SECRET, "msg_1", 1_700_000_000, b"{}").unwrap();
        let header = format!("v1,bm90IGl0 {sig}");
        assert_eq!(verify_svix(SECRET, "msg_1", "1700000000", &header, b"{}", 1_700_000_000), Ok(()));
    }

    #[test]
    fn a_changed_body_id_or_timestamp_fails() {
        let sig = sign_svix(SECRET, "msg_1", 1_700_000_000, b"{}").unwrap();
        let now = 1_700_000_000;
        assert_eq!(
            verify_svix(SECRET, "msg_1", "1700000000", &sig, b"{ }", now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_svix(SECRET, "msg_2", "1700000000", &sig, b"{}", now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_svix(SECRET, "msg_1", "1700000001", &sig, b"{}", now),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_stale_timestamp_fails_even_with_a_good_signature() {
        let sig = sign_svix(SECRET, "msg_1", 1_700_000_000, b"{}").unwrap();
        assert_eq!(
            verify_svix(SECRET, "msg_1", "1700000000", &sig, b"{}", 1_700_000_000 + 301),
            Err(SignatureError::StaleTimestamp)
        );
    }
}
