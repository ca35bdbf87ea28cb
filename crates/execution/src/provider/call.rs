//! The provider's call object, in Retell's shape (`PhoneCallResponse` in `retell-sdk` 5.x).

use std::collections::BTreeMap;
use std::fmt;

use rivvi_domain::campaign::Direction;
use rivvi_domain::lifecycle::CallStatus;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::CallMetadata;

open_enum! {
    /// Why a call ended (Retell's `disconnection_reason`). Retell adds reasons over time; unknown
    /// ones are kept in [`DisconnectionReason::Other`] and classified by the call status (see
    /// [`classify`](super::classify)).
    pub enum DisconnectionReason {
        /// The callee hung up.
        UserHangup = "user_hangup",
        /// The agent ended the call.
        AgentHangup = "agent_hangup",
        /// The agent transferred the call.
        CallTransfer = "call_transfer",
        /// A voicemail greeting was detected.
        VoicemailReached = "voicemail_reached",
        /// An answering machine was detected.
        MachineDetected = "machine_detected",
        /// An IVR (phone menu) answered.
        IvrReached = "ivr_reached",
        /// Nobody spoke for too long.
        Inactivity = "inactivity",
        /// The call hit the agent's maximum duration.
        MaxDurationReached = "max_duration_reached",
        /// The account's concurrency limit was reached; the call was not placed.
        ConcurrencyLimitReached = "concurrency_limit_reached",
        /// No concurrency and no fallback; the call was not placed.
        NoConcurrencyFallback = "no_concurrency_fallback",
        /// The account has no valid payment method; the call was not placed.
        NoValidPayment = "no_valid_payment",
        /// Retell flagged the call as a scam.
        ScamDetected = "scam_detected",
        /// The line was busy.
        DialBusy = "dial_busy",
        /// The carrier could not place the call.
        DialFailed = "dial_failed",
        /// Rang out.
        DialNoAnswer = "dial_no_answer",
        /// The number cannot be called.
        InvalidDestination = "invalid_destination",
        /// The telephony provider refused the call.
        TelephonyProviderPermissionDenied = "telephony_provider_permission_denied",
        /// The telephony provider was unavailable.
        TelephonyProviderUnavailable = "telephony_provider_unavailable",
        /// SIP routing failed.
        SipRoutingError = "sip_routing_error",
        /// The carrier marked the caller number as spam.
        MarkedAsSpam = "marked_as_spam",
        /// The callee rejected the call.
        UserDeclined = "user_declined",
        /// Retell: the LLM websocket could not be opened.
        ErrorLlmWebsocketOpen = "error_llm_websocket_open",
        /// Retell: the LLM websocket connection was lost.
        ErrorLlmWebsocketLostConnection = "error_llm_websocket_lost_connection",
        /// Retell: the LLM websocket failed at run time.
        ErrorLlmWebsocketRuntime = "error_llm_websocket_runtime",
        /// Retell: the LLM websocket sent a corrupt payload.
        ErrorLlmWebsocketCorruptPayload = "error_llm_websocket_corrupt_payload",
        /// Retell: no audio was received.
        ErrorNoAudioReceived = "error_no_audio_received",
        /// Retell: speech recognition failed.
        ErrorAsr = "error_asr",
        /// Retell: an internal error.
        ErrorRetell = "error_retell",
        /// Retell: an unknown error.
        ErrorUnknown = "error_unknown",
        /// Retell: the user never joined (web calls).
        ErrorUserNotJoined = "error_user_not_joined",
        /// The registered call was never started.
        RegisteredCallTimeout = "registered_call_timeout",
        /// A transfer was bridged.
        TransferBridged = "transfer_bridged",
        /// A transfer was cancelled.
        TransferCancelled = "transfer_cancelled",
        /// Stopped by hand from Retell's dashboard or API.
        ManualStopped = "manual_stopped",
        /// A human took the call over.
        CallTakeOver = "call_take_over",
    }
}

/// A call as the provider reports it, from `create-phone-call`, `get-call` and call webhooks.
/// Fields that Retell fills only later (timestamps, transcript, analysis) are optional.
///
/// `Debug` prints ids, status and reason only: numbers, transcript, dynamic variables and
/// analysis are PHI.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderCall {
    /// Retell's id, `call_…`.
    pub call_id: String,
    /// The agent that handled the call.
    #[serde(default)]
    pub agent_id: String,
    /// The agent's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_version: Option<i64>,
    /// `phone_call` for everything Rivvi places or answers.
    #[serde(default = "phone_call")]
    pub call_type: String,
    /// `registered`, `ongoing`, `ended`, `error` or `not_connected`.
    pub call_status: CallStatus,
    /// Inbound or outbound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// The caller number, E.164.
    #[serde(default)]
    pub from_number: String,
    /// The called number, E.164.
    #[serde(default)]
    pub to_number: String,
    /// When the call connected, Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_timestamp: Option<i64>,
    /// When the call ended, Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_timestamp: Option<i64>,
    /// How long the conversation lasted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    /// The conversation as text (PHI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript: Option<String>,
    /// Where the recording is (PHI behind it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_url: Option<String>,
    /// Why the call ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnection_reason: Option<DisconnectionReason>,
    /// What we sent in `metadata` (for Rivvi's calls, a [`CallMetadata`]); any JSON for calls
    /// placed by someone else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// The dynamic variables the call was made with (PHI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retell_llm_dynamic_variables: Option<BTreeMap<String, String>>,
    /// Post-call analysis, present from the `call_analyzed` event on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_analysis: Option<CallAnalysis>,
}

fn phone_call() -> String {
    "phone_call".to_owned()
}

impl ProviderCall {
    /// The ids Rivvi put in `metadata`, when this is one of our outbound calls.
    pub fn rivvi_metadata(&self) -> Option<CallMetadata> {
        self.metadata.as_ref().and_then(|m| serde_json::from_value(m.clone()).ok())
    }

    /// Our status and outcome for this call, or `None` while it is not finished (see
    /// [`classify`](super::classify)).
    pub fn finished(&self) -> Option<super::FinishedCall> {
        super::classify(
            self.call_status,
            self.disconnection_reason.as_ref(),
            self.call_analysis.as_ref().and_then(|a| a.in_voicemail),
        )
    }
}

impl fmt::Debug for ProviderCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderCall")
            .field("call_id", &self.call_id)
            .field("agent_id", &self.agent_id)
            .field("call_status", &self.call_status)
            .field("direction", &self.direction)
            .field("start_timestamp", &self.start_timestamp)
            .field("end_timestamp", &self.end_timestamp)
            .field("duration_ms", &self.duration_ms)
            .field("disconnection_reason", &self.disconnection_reason)
            .field("metadata", &self.rivvi_metadata())
            .field("call_analysis", &self.call_analysis.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// Retell's post-call analysis.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CallAnalysis {
    /// A short summary of the conversation (PHI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_summary: Option<String>,
    /// Whether the call reached voicemail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_voicemail: Option<bool>,
    /// `Positive`, `Negative`, `Neutral` or `Unknown` (kept as a string: an open set upstream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_sentiment: Option<String>,
    /// Whether the agent completed its task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_successful: Option<bool>,
    /// The campaign's analysis fields, by key. Empty when the call never connected; `null` or a
    /// non-object from the provider reads as empty.
    #[serde(default, deserialize_with = "object_or_empty")]
    pub custom_analysis_data: Map<String, Value>,
}

impl fmt::Debug for CallAnalysis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallAnalysis")
            .field("in_voicemail", &self.in_voicemail)
            .field("user_sentiment", &self.user_sentiment)
            .field("call_successful", &self.call_successful)
            .field("custom_analysis_keys", &self.custom_analysis_data.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn object_or_empty<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Map<String, Value>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Object(map) => map,
        _ => Map::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_retell_call_object_parses_and_keeps_unknown_reasons() {
        let call: ProviderCall = serde_json::from_value(json!({
            "call_id": "call_1", "agent_id": "agent_1", "agent_version": 3, "call_type": "phone_call",
            "call_status": "ended", "direction": "outbound",
            "from_number": "+13125550100", "to_number": "+13125550143",
            "start_timestamp": 1_700_000_000_000_i64, "end_timestamp": 1_700_000_090_000_i64,
            "duration_ms": 90_000, "disconnection_reason": "brand_new_reason",
            "latency": {"e2e": {}}, "call_cost": {"combined_cost": 12},
            "call_analysis": {"in_voicemail": false, "custom_analysis_data": null}
        }))
        .unwrap();
        assert_eq!(call.call_status, CallStatus::Ended);
        assert_eq!(call.disconnection_reason, Some(DisconnectionReason::Other("brand_new_reason".into())));
        assert!(call.call_analysis.unwrap().custom_analysis_data.is_empty());
    }

    #[test]
    fn known_reasons_round_trip_through_their_spelling() {
        for reason in DisconnectionReason::KNOWN {
            assert_eq!(&DisconnectionReason::parse(reason.as_str()), reason);
            assert_eq!(serde_json::to_value(reason).unwrap(), reason.as_str());
        }
    }

    #[test]
    fn debug_output_carries_no_phi() {
        let call: ProviderCall = serde_json::from_value(json!({
            "call_id": "call_1", "call_status": "ended", "from_number": "+13125550100",
            "to_number": "+13125550143", "transcript": "Agent: Hi Maria",
            "retell_llm_dynamic_variables": {"first_name": "Maria"},
            "call_analysis": {"call_summary": "Maria confirmed"}
        }))
        .unwrap();
        let debug = format!("{call:?}");
        assert!(debug.contains("call_1"));
        for phi in ["5550143", "Maria"] {
            assert!(!debug.contains(phi), "{debug}");
        }
    }
}
