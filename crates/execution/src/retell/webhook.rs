//! Retell's webhooks: the `x-retell-signature` scheme and the event bodies.
//!
//! Signature: `x-retell-signature: v=<unix ms>,d=<hex HMAC-SHA256(key = API key, message = raw
//! body followed by the decimal ms string)>`, as `retell-sdk`'s `lib/webhook_auth` signs and
//! verifies it. Verify the raw bytes before parsing anything.

use std::collections::BTreeMap;

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::provider::ProviderCall;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-retell-signature";

/// Signatures further than this from now (either way) are refused, bounding replays to what the
/// webhook idempotency table remembers. Retell's SDK uses the same five minutes.
pub const TOLERANCE_MS: i64 = 5 * 60 * 1000;

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Not `v=<digits>,d=<64 hex>`.
    #[error("malformed x-retell-signature header")]
    Malformed,
    /// The timestamp is more than five minutes away from now.
    #[error("x-retell-signature timestamp outside the allowed window")]
    Stale,
    /// The digest does not match the body.
    #[error("x-retell-signature does not match the body")]
    Mismatch,
}

/// The header value Retell would send for `body` at `unix_ms`.
pub fn sign(api_key: &str, body: &[u8], unix_ms: i64) -> String {
    let digest = digest(api_key, body, unix_ms);
    let mut out = format!("v={unix_ms},d=");
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// Checks `header` against the raw `body` with the API key, refusing timestamps more than
/// [`TOLERANCE_MS`] from `now_ms`. The digest comparison is constant-time. Answers when the
/// provider signed it (unix ms), which tells how long the webhook took to arrive.
pub fn verify(api_key: &str, header: &str, body: &[u8], now_ms: i64) -> Result<i64, SignatureError> {
    let (sent_ms, sent_digest) = parse_header(header)?;
    if now_ms.abs_diff(sent_ms) > TOLERANCE_MS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let expected = digest(api_key, body, sent_ms);
    if bool::from(expected.as_slice().ct_eq(sent_digest.as_slice())) {
        Ok(sent_ms)
    } else {
        Err(SignatureError::Mismatch)
    }
}

fn digest(api_key: &str, body: &[u8], unix_ms: i64) -> [u8; 32] {
    let mut mac = match Hmac::<Sha256>::new_from_slice(api_key.as_bytes()) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this arm only satisfies the signature of the API.
        Err(_) => return [0; 32],
    };
    mac.update(body);
    mac.update(unix_ms.to_string().as_bytes());
    mac.finalize().into_bytes().into()
}

fn parse_header(header: &str) -> Result<(i64, [u8; 32]), SignatureError> {
    let mut sent_ms = None;
    let mut sent_digest = None;
    for part in header.trim().split(',') {
        match part.trim().split_once('=') {
            Some(("v", v)) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
                sent_ms = v.parse::<i64>().ok();
            }
            Some(("d", d)) => sent_digest = decode_hex32(d),
            _ => return Err(SignatureError::Malformed),
        }
    }
    match (sent_ms, sent_digest) {
        (Some(ms), Some(d)) => Ok((ms, d)),
        _ => Err(SignatureError::Malformed),
    }
}

fn decode_hex32(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

open_enum! {
    /// The `event` of a call webhook. Retell sends more kinds than these (transcript and
    /// transfer updates); they parse as `Other` so a handler can acknowledge and ignore them.
    pub enum CallEventKind {
        /// The call connected (not sent when the dial fails).
        CallStarted = "call_started",
        /// The call finished, connected or not.
        CallEnded = "call_ended",
        /// Post-call analysis is ready.
        CallAnalyzed = "call_analyzed",
    }
}

/// A call webhook: `{"event": "...", "call": {...}}`. One Retell page spells the key
/// `event_type`; both are accepted, `event` is written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallEvent {
    /// What happened.
    #[serde(alias = "event_type")]
    pub event: CallEventKind,
    /// The call as of this event.
    pub call: ProviderCall,
}

/// The inbound call webhook (per phone number), sent before the call is answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundRequest {
    /// `call_inbound`.
    pub event: String,
    /// The call being answered.
    pub call_inbound: InboundCall,
}

/// The call in an [`InboundRequest`] (it has no call id yet).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundCall {
    /// The agent bound to the called number, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// That agent's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_version: Option<i64>,
    /// The caller (the patient, PHI), E.164.
    pub from_number: String,
    /// The organization's number that was called, E.164.
    pub to_number: String,
}

/// Our answer to an [`InboundRequest`], due within Retell's 10 s budget.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InboundResponse {
    /// How to handle the call.
    pub call_inbound: InboundAnswer,
}

/// The body of an [`InboundResponse`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InboundAnswer {
    /// Answer with this agent instead of the number's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_agent_id: Option<String>,
    /// This published version of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_agent_version: Option<u32>,
    /// Prompt variables for the inbound agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_variables: Option<BTreeMap<String, String>>,
    /// Stored on the call and echoed in its webhooks (ids only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rivvi_domain::lifecycle::CallStatus;
    use serde_json::json;

    const KEY: &str = "key_4f2b9c1d8e7a";
    const BODY: &str = r#"{"event":"call_started","call":{"call_id":"call_3f9a","call_status":"ongoing"}}"#;
    const MS: i64 = 1_767_225_600_000;
    /// `python3 -c 'import hmac,hashlib; print(hmac.new(KEY, BODY + b"1767225600000",
    /// hashlib.sha256).hexdigest())'`, computed outside this code.
    const PYTHON_DIGEST: &str = "140b0c93cf88b3b3c69f8829ae5564be92cc3139e5c70554489395fa693c2195";

    #[test]
    fn signing_matches_an_independently_computed_vector() {
        assert_eq!(sign(KEY, BODY.as_bytes(), MS), format!("v={MS},d={PYTHON_DIGEST}"));
    }

    #[test]
    fn the_independent_vector_verifies_within_five_minutes_either_way() {
        let header = format!("v={MS},d={PYTHON_DIGEST}");
        for now in [MS, MS + TOLERANCE_MS, MS - TOLERANCE_MS] {
            assert_eq!(verify(KEY, &header, BODY.as_bytes(), now), Ok(MS), "{now}");
        }
        let upper = format!("v={MS},d={}", PYTHON_DIGEST.to_uppercase());
        assert_eq!(verify(KEY, &upper, BODY.as_bytes(), MS), Ok(MS));
    }

    #[test]
    fn stale_or_future_timestamps_are_refused() {
        let header = sign(KEY, BODY.as_bytes(), MS);
        for now in [MS + TOLERANCE_MS + 1, MS - TOLERANCE_MS - 1] {
            assert_eq!(verify(KEY, &header, BODY.as_bytes(), now), Err(SignatureError::Stale));
        }
    }

    #[test]
    fn a_changed_body_key_or_timestamp_does_not_match() {
        let header = sign(KEY, BODY.as_bytes(), MS);
        let tampered = BODY.replace("ongoing", "ended");
        assert_eq!(verify(KEY, &header, tampered.as_bytes(), MS), Err(SignatureError::Mismatch));
        assert_eq!(verify("key_other", &header, BODY.as_bytes(), MS), Err(SignatureError::Mismatch));
        let moved = header.replace(&MS.to_string(), &(MS + 1).to_string());
        assert_eq!(verify(KEY, &moved, BODY.as_bytes(), MS), Err(SignatureError::Mismatch));
    }

    #[test]
    fn malformed_headers_are_refused() {
        let d = PYTHON_DIGEST;
        for header in [
            "",
            "garbage",
            &format!("v=,d={d}"),
            &format!("v=-5,d={d}"),
            &format!("v={MS}"),
            &format!("d={d}"),
            &format!("v={MS},d={}", &d[..62]),
            &format!("v={MS},d={}zz", &d[..62]),
            &format!("v={MS},d={d},x=1"),
        ] {
            assert_eq!(verify(KEY, header, BODY.as_bytes(), MS), Err(SignatureError::Malformed), "{header}");
        }
    }

    #[test]
    fn call_events_accept_event_or_event_type_and_keep_unknown_kinds() {
        let call = json!({"call_id": "call_1", "call_status": "ended"});
        let a: CallEvent = serde_json::from_value(json!({"event": "call_ended", "call": call})).unwrap();
        let b: CallEvent = serde_json::from_value(json!({"event_type": "call_ended", "call": call})).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.event, CallEventKind::CallEnded);
        assert_eq!(a.call.call_status, CallStatus::Ended);
        let other: CallEvent =
            serde_json::from_value(json!({"event": "transcript_updated", "call": call})).unwrap();
        assert_eq!(other.event, CallEventKind::Other("transcript_updated".into()));
        assert_eq!(serde_json::to_value(&a).unwrap()["event"], "call_ended");
    }

    #[test]
    fn inbound_shapes_match_retell() {
        let request: InboundRequest = serde_json::from_value(json!({
            "event": "call_inbound",
            "call_inbound": {"agent_id": "agent_1", "agent_version": 2, "from_number": "+13125550143", "to_number": "+13125550100"}
        }))
        .unwrap();
        assert_eq!(request.call_inbound.to_number, "+13125550100");
        let answer = InboundResponse {
            call_inbound: InboundAnswer {
                override_agent_id: None,
                override_agent_version: None,
                dynamic_variables: Some(BTreeMap::from([("caller_known".into(), "false".into())])),
                metadata: None,
            },
        };
        assert_eq!(
            serde_json::to_value(&answer).unwrap(),
            json!({"call_inbound": {"dynamic_variables": {"caller_known": "false"}}})
        );
    }
}
