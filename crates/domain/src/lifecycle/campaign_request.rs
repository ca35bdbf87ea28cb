//! A campaign request: a clinic asks for a campaign, an operator builds it (or declines).

use super::TransitionError;

string_enum! {
    /// Where a campaign request is.
    pub enum CampaignRequestStatus("campaign request status") {
        /// Asked for; no operator has taken it yet.
        Pending = "pending",
        /// An operator is building the campaign.
        InProgress = "in_progress",
        /// Declined, with a note saying why.
        Rejected = "rejected",
        /// The campaign built for it exists and is linked.
        Fulfilled = "fulfilled",
    }
}

string_enum! {
    /// Something an operator does to a request.
    pub enum CampaignRequestEvent("campaign request event") {
        /// Starts building it (pending -> in progress).
        Take = "take",
        /// Declines it (pending or in progress -> rejected).
        Reject = "reject",
        /// Links the campaign built for it (pending or in progress -> fulfilled).
        Fulfil = "fulfil",
    }
}

impl CampaignRequestStatus {
    fn next(self, event: CampaignRequestEvent) -> Option<CampaignRequestStatus> {
        use CampaignRequestEvent as E;
        use CampaignRequestStatus::*;
        match (self, event) {
            (Pending, E::Take) => Some(InProgress),
            (Pending | InProgress, E::Reject) => Some(Rejected),
            (Pending | InProgress, E::Fulfil) => Some(Fulfilled),
            _ => None,
        }
    }

    /// The status after `event`, or why it does not apply.
    pub fn transition(self, event: CampaignRequestEvent) -> Result<CampaignRequestStatus, TransitionError> {
        self.next(event).ok_or(TransitionError {
            machine: "campaign request",
            from: self.as_str(),
            event: event.as_str(),
        })
    }

    /// Whether some event leads from this status to `next`.
    pub fn can_transition_to(self, next: CampaignRequestStatus) -> bool {
        CampaignRequestEvent::ALL.iter().any(|&e| self.next(e) == Some(next))
    }

    /// Rejected or fulfilled: nothing moves it any more.
    pub fn is_final(self) -> bool {
        matches!(self, CampaignRequestStatus::Rejected | CampaignRequestStatus::Fulfilled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{assert_events, assert_pairs};
    use CampaignRequestEvent as E;
    use CampaignRequestStatus::*;

    /// Every allowed (from, event, to); everything else is refused.
    const TRANSITIONS: &[(CampaignRequestStatus, CampaignRequestEvent, CampaignRequestStatus)] = &[
        (Pending, E::Take, InProgress),
        (Pending, E::Reject, Rejected),
        (Pending, E::Fulfil, Fulfilled),
        (InProgress, E::Reject, Rejected),
        (InProgress, E::Fulfil, Fulfilled),
    ];

    #[test]
    fn every_event_from_every_status_matches_the_table() {
        assert_events(
            CampaignRequestStatus::ALL,
            CampaignRequestEvent::ALL,
            TRANSITIONS,
            CampaignRequestStatus::transition,
        );
    }

    #[test]
    fn every_status_pair_is_allowed_or_forbidden_as_the_table_says() {
        let allowed: Vec<_> = TRANSITIONS.iter().map(|(f, _, t)| (*f, *t)).collect();
        assert_pairs(CampaignRequestStatus::ALL, &allowed, CampaignRequestStatus::can_transition_to);
    }

    #[test]
    fn final_statuses_go_nowhere() {
        for &status in CampaignRequestStatus::ALL {
            let goes_somewhere = CampaignRequestStatus::ALL.iter().any(|&to| status.can_transition_to(to));
            assert_eq!(status.is_final(), !goes_somewhere, "{status}");
        }
    }

    #[test]
    fn refusals_say_what_was_attempted() {
        let err = Fulfilled.transition(E::Reject).unwrap_err();
        assert_eq!(err.to_string(), "cannot reject a campaign request that is fulfilled");
    }
}
