//! A phone call, as the voice provider reports it.

use super::TransitionError;

string_enum! {
    /// The provider's view of a call (Retell's `call_status` values).
    pub enum CallStatus("call status") {
        /// Created at the provider, not yet connected.
        Registered = "registered",
        /// Connected and in progress.
        Ongoing = "ongoing",
        /// Finished after connecting, or finished without a `call_started` event we saw.
        Ended = "ended",
        /// The provider failed during the call.
        Error = "error",
        /// Never connected (no answer, busy, invalid number, dial failure).
        NotConnected = "not_connected",
    }
}

string_enum! {
    /// How a finished call went, for the row, the retry policy and analytics.
    pub enum CallOutcome("call outcome") {
        /// A person answered.
        Reached = "reached",
        /// An answering machine or voicemail answered.
        Voicemail = "voicemail",
        /// Rang out.
        NoAnswer = "no_answer",
        /// Busy line.
        Busy = "busy",
        /// Could not be completed (invalid number, carrier or provider error).
        Failed = "failed",
    }
}

string_enum! {
    /// A provider event about a call.
    pub enum CallEvent("call event") {
        /// `call_started` (registered -> ongoing).
        Start = "start",
        /// `call_ended` (registered or ongoing -> ended). From registered when the start event
        /// was lost or arrived late.
        End = "end",
        /// The provider reported an error (registered or ongoing -> error).
        Fail = "fail",
        /// The call never connected (registered -> not_connected).
        NotConnected = "not_connected",
    }
}

impl CallStatus {
    fn next(self, event: CallEvent) -> Option<CallStatus> {
        use CallEvent as E;
        use CallStatus::*;
        match (self, event) {
            (Registered, E::Start) => Some(Ongoing),
            (Registered | Ongoing, E::End) => Some(Ended),
            (Registered | Ongoing, E::Fail) => Some(Error),
            (Registered, E::NotConnected) => Some(NotConnected),
            _ => None,
        }
    }

    /// The status after `event`, or why it does not apply. A webhook applier should treat a
    /// refused event on a final call as a stale duplicate, not as an error.
    pub fn transition(self, event: CallEvent) -> Result<CallStatus, TransitionError> {
        self.next(event).ok_or(TransitionError {
            machine: "call",
            from: self.as_str(),
            event: event.as_str(),
        })
    }

    /// Whether some event leads from this status to `next`.
    pub fn can_transition_to(self, next: CallStatus) -> bool {
        CallEvent::ALL.iter().any(|&e| self.next(e) == Some(next))
    }

    /// Ended, error or not connected.
    pub fn is_final(self) -> bool {
        matches!(self, CallStatus::Ended | CallStatus::Error | CallStatus::NotConnected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{assert_events, assert_pairs};
    use CallEvent as E;
    use CallStatus::*;

    const TRANSITIONS: &[(CallStatus, CallEvent, CallStatus)] = &[
        (Registered, E::Start, Ongoing),
        (Registered, E::End, Ended),
        (Registered, E::Fail, Error),
        (Registered, E::NotConnected, NotConnected),
        (Ongoing, E::End, Ended),
        (Ongoing, E::Fail, Error),
    ];

    #[test]
    fn every_event_from_every_status_matches_the_table() {
        assert_events(CallStatus::ALL, CallEvent::ALL, TRANSITIONS, CallStatus::transition);
    }

    #[test]
    fn every_status_pair_is_allowed_or_forbidden_as_the_table_says() {
        let allowed: Vec<_> = TRANSITIONS.iter().map(|(f, _, t)| (*f, *t)).collect();
        assert_pairs(CallStatus::ALL, &allowed, CallStatus::can_transition_to);
    }

    #[test]
    fn a_late_start_event_after_the_end_is_refused() {
        assert_eq!(Ended.transition(E::Start).unwrap_err().to_string(), "cannot start a call that is ended");
    }

    #[test]
    fn final_statuses_go_nowhere() {
        for &status in CallStatus::ALL {
            let goes_somewhere = CallStatus::ALL.iter().any(|&to| status.can_transition_to(to));
            assert_eq!(status.is_final(), !goes_somewhere, "{status}");
        }
    }

    #[test]
    fn statuses_and_outcomes_round_trip_through_their_stored_names() {
        for &status in CallStatus::ALL {
            assert_eq!(status.as_str().parse::<CallStatus>(), Ok(status));
        }
        for &outcome in CallOutcome::ALL {
            assert_eq!(outcome.as_str().parse::<CallOutcome>(), Ok(outcome));
        }
        assert_eq!(serde_json::to_value(NotConnected).unwrap(), "not_connected");
        assert_eq!(serde_json::to_value(CallOutcome::NoAnswer).unwrap(), "no_answer");
        assert_eq!(
            "in-progress".parse::<CallStatus>().unwrap_err().to_string(),
            "unknown call status \"in-progress\""
        );
    }
}
