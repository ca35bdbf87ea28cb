//! From the provider's `call_status` + `disconnection_reason` + `in_voicemail` to our
//! [`CallStatus`] and [`CallOutcome`].

use rivvi_domain::lifecycle::{CallOutcome, CallStatus};

use super::DisconnectionReason;

/// How a finished call ended, in our terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FinishedCall {
    /// Final status: `ended`, `error` or `not_connected`.
    pub status: CallStatus,
    /// What happened, for the row, the retry policy and analytics.
    pub outcome: CallOutcome,
}

/// Classifies a call; `None` while it is `registered` or `ongoing` (whatever the reason says).
///
/// | disconnection_reason | status | outcome |
/// |---|---|---|
/// | `dial_no_answer` | not_connected | no_answer |
/// | `dial_busy`, `user_declined` | not_connected | busy |
/// | `dial_failed`, `invalid_destination`, `telephony_provider_permission_denied`, `telephony_provider_unavailable`, `sip_routing_error`, `marked_as_spam`, `concurrency_limit_reached`, `no_concurrency_fallback`, `no_valid_payment`, `registered_call_timeout` | not_connected | failed |
/// | `voicemail_reached`, `machine_detected`, `ivr_reached` | ended | voicemail |
/// | `user_hangup`, `agent_hangup`, `call_transfer`, `inactivity`, `max_duration_reached`, `transfer_bridged`, `transfer_cancelled`, `manual_stopped`, `call_take_over` | ended | reached, or voicemail when `in_voicemail` |
/// | `scam_detected` | the provider's | failed |
/// | `error_*` (known or not) | error | failed |
/// | none or another unknown reason | the provider's | `ended`: reached, or voicemail when `in_voicemail`; `error`/`not_connected`: failed |
///
/// Decisions:
/// - Never-connected reasons force `not_connected` even when the provider says `ended` (Retell
///   has reported dial failures both ways), because the retry policy retries a failed call only
///   when it never connected ([`rivvi_domain::retry::RetryableOutcome::from_call`]).
/// - `user_declined` (the callee rejected the call) counts as busy: the line was actively
///   refused, and a later attempt may succeed.
/// - `ivr_reached` and `machine_detected` count as voicemail: a machine answered, not a person.
/// - `in_voicemail` arrives only with `call_analyzed`, so re-classify when it comes: a
///   `user_hangup` can turn out to have been a voicemail greeting.
pub fn classify(
    status: CallStatus,
    reason: Option<&DisconnectionReason>,
    in_voicemail: Option<bool>,
) -> Option<FinishedCall> {
    use CallOutcome as O;
    use DisconnectionReason as R;
    if !status.is_final() {
        return None;
    }
    let finished = |status, outcome| Some(FinishedCall { status, outcome });
    let answered = |status| {
        let outcome = if in_voicemail == Some(true) { O::Voicemail } else { O::Reached };
        finished(status, outcome)
    };
    let Some(reason) = reason else {
        return by_status(status, in_voicemail);
    };
    match reason {
        R::DialNoAnswer => finished(CallStatus::NotConnected, O::NoAnswer),
        R::DialBusy | R::UserDeclined => finished(CallStatus::NotConnected, O::Busy),
        R::DialFailed
        | R::InvalidDestination
        | R::TelephonyProviderPermissionDenied
        | R::TelephonyProviderUnavailable
        | R::SipRoutingError
        | R::MarkedAsSpam
        | R::ConcurrencyLimitReached
        | R::NoConcurrencyFallback
        | R::NoValidPayment
        | R::RegisteredCallTimeout => finished(CallStatus::NotConnected, O::Failed),
        R::VoicemailReached | R::MachineDetected | R::IvrReached => finished(CallStatus::Ended, O::Voicemail),
        R::UserHangup
        | R::AgentHangup
        | R::CallTransfer
        | R::Inactivity
        | R::MaxDurationReached
        | R::TransferBridged
        | R::TransferCancelled
        | R::ManualStopped
        | R::CallTakeOver => answered(CallStatus::Ended),
        R::ScamDetected => finished(status, O::Failed),
        R::ErrorLlmWebsocketOpen
        | R::ErrorLlmWebsocketLostConnection
        | R::ErrorLlmWebsocketRuntime
        | R::ErrorLlmWebsocketCorruptPayload
        | R::ErrorNoAudioReceived
        | R::ErrorAsr
        | R::ErrorRetell
        | R::ErrorUnknown
        | R::ErrorUserNotJoined => finished(CallStatus::Error, O::Failed),
        R::Other(s) if s.starts_with("error_") => finished(CallStatus::Error, O::Failed),
        R::Other(_) => by_status(status, in_voicemail),
    }
}

fn by_status(status: CallStatus, in_voicemail: Option<bool>) -> Option<FinishedCall> {
    let outcome = match status {
        CallStatus::Ended if in_voicemail == Some(true) => CallOutcome::Voicemail,
        CallStatus::Ended => CallOutcome::Reached,
        _ => CallOutcome::Failed,
    };
    Some(FinishedCall { status, outcome })
}

#[cfg(test)]
mod tests {
    use super::*;
    use CallOutcome as O;
    use CallStatus as S;
    use DisconnectionReason as R;

    /// Every known reason, as reported on an `ended` call without voicemail detection.
    const TABLE: &[(R, S, O)] = &[
        (R::UserHangup, S::Ended, O::Reached),
        (R::AgentHangup, S::Ended, O::Reached),
        (R::CallTransfer, S::Ended, O::Reached),
        (R::VoicemailReached, S::Ended, O::Voicemail),
        (R::MachineDetected, S::Ended, O::Voicemail),
        (R::IvrReached, S::Ended, O::Voicemail),
        (R::Inactivity, S::Ended, O::Reached),
        (R::MaxDurationReached, S::Ended, O::Reached),
        (R::ConcurrencyLimitReached, S::NotConnected, O::Failed),
        (R::NoConcurrencyFallback, S::NotConnected, O::Failed),
        (R::NoValidPayment, S::NotConnected, O::Failed),
        (R::ScamDetected, S::Ended, O::Failed),
        (R::DialBusy, S::NotConnected, O::Busy),
        (R::DialFailed, S::NotConnected, O::Failed),
        (R::DialNoAnswer, S::NotConnected, O::NoAnswer),
        (R::InvalidDestination, S::NotConnected, O::Failed),
        (R::TelephonyProviderPermissionDenied, S::NotConnected, O::Failed),
        (R::TelephonyProviderUnavailable, S::NotConnected, O::Failed),
        (R::SipRoutingError, S::NotConnected, O::Failed),
        (R::MarkedAsSpam, S::NotConnected, O::Failed),
        (R::UserDeclined, S::NotConnected, O::Busy),
        (R::ErrorLlmWebsocketOpen, S::Error, O::Failed),
        (R::ErrorLlmWebsocketLostConnection, S::Error, O::Failed),
        (R::ErrorLlmWebsocketRuntime, S::Error, O::Failed),
        (R::ErrorLlmWebsocketCorruptPayload, S::Error, O::Failed),
        (R::ErrorNoAudioReceived, S::Error, O::Failed),
        (R::ErrorAsr, S::Error, O::Failed),
        (R::ErrorRetell, S::Error, O::Failed),
        (R::ErrorUnknown, S::Error, O::Failed),
        (R::ErrorUserNotJoined, S::Error, O::Failed),
        (R::RegisteredCallTimeout, S::NotConnected, O::Failed),
        (R::TransferBridged, S::Ended, O::Reached),
        (R::TransferCancelled, S::Ended, O::Reached),
        (R::ManualStopped, S::Ended, O::Reached),
        (R::CallTakeOver, S::Ended, O::Reached),
    ];

    #[test]
    fn every_known_disconnection_reason_is_classified_as_the_table_says() {
        assert_eq!(TABLE.len(), R::KNOWN.len(), "the table must cover every known reason");
        for reason in R::KNOWN {
            let (_, status, outcome) = TABLE.iter().find(|(r, _, _)| r == reason).unwrap();
            let got = classify(S::Ended, Some(reason), Some(false));
            assert_eq!(got, Some(FinishedCall { status: *status, outcome: *outcome }), "{reason}");
        }
    }

    #[test]
    fn dial_failures_are_not_connected_whatever_status_the_provider_reports() {
        for status in [S::Ended, S::NotConnected, S::Error] {
            let got = classify(status, Some(&R::DialNoAnswer), None).unwrap();
            assert_eq!(got, FinishedCall { status: S::NotConnected, outcome: O::NoAnswer }, "{status}");
        }
    }

    #[test]
    fn voicemail_detected_by_analysis_turns_an_answered_call_into_voicemail() {
        let got = classify(S::Ended, Some(&R::UserHangup), Some(true)).unwrap();
        assert_eq!(got.outcome, O::Voicemail);
        let got = classify(S::Ended, None, Some(true)).unwrap();
        assert_eq!(got.outcome, O::Voicemail);
    }

    #[test]
    fn unfinished_calls_have_no_outcome_yet() {
        for status in [S::Registered, S::Ongoing] {
            assert_eq!(classify(status, Some(&R::UserHangup), None), None, "{status}");
        }
    }

    #[test]
    fn unknown_reasons_fall_back_on_the_status() {
        let new_error = R::Other("error_new_thing".into());
        let new_reason = R::Other("something_new".into());
        let cases = [
            (S::Ended, &new_error, S::Error, O::Failed),
            (S::Ended, &new_reason, S::Ended, O::Reached),
            (S::NotConnected, &new_reason, S::NotConnected, O::Failed),
            (S::Error, &new_reason, S::Error, O::Failed),
        ];
        for (status, reason, want_status, want_outcome) in cases {
            let got = classify(status, Some(reason), None);
            assert_eq!(got, Some(FinishedCall { status: want_status, outcome: want_outcome }), "{reason}");
        }
        assert_eq!(classify(S::Error, None, None).map(|f| f.outcome), Some(O::Failed));
    }
}
