//! [`Stored`]: a validated value read back from where only validated values are written.
//!
//! Trusted types deserialize through their validation (an API input or a file is checked on the
//! way in). What the database holds was validated when it was written, so a repository reads it
//! as `Stored<T>`, which takes `T`'s serialized form field for field and checks nothing again:
//! reading a campaign costs a decode, not a second validation.

/// A `T` decoded from the form `T` serializes to, without validating it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored<T>(pub T);

impl<T> Stored<T> {
    /// The value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Stored;
    use crate::campaign::{AnalysisField, NewCampaign, VariableDefinition};
    use crate::retry::RetryPolicy;

    #[test]
    fn what_a_campaign_serializes_to_reads_back_as_the_same_values() {
        let campaign = serde_json::from_value::<NewCampaign>(serde_json::json!({
            "name": "Reminders",
            "direction": "outbound",
            "agentId": "agent_123",
            "basePrompt": "Hi {{firstName}}, about {{appt_date}}.",
            "variables": [
                {"key": "firstName", "label": "First name", "fieldType": "name", "role": "firstName"},
                {"key": "primaryPhone", "label": "Phone", "fieldType": "phone", "required": true,
                 "role": "phone", "aliases": ["Mobile #"]},
                {"key": "appt_date", "label": "Appointment", "fieldType": "date"}
            ],
            "analysisFields": [
                {"key": "confirmed", "label": "Confirmed", "fieldType": "boolean", "isMainKpi": true},
                {"key": "reason", "label": "Reason", "fieldType": "enum", "options": ["sick", "travel"],
                 "description": "why they cannot come"}
            ],
            "retryPolicy": {"maxAttempts": 2, "retryOn": ["no_answer", "busy"], "delayMinutes": 30}
        }))
        .unwrap()
        .validate()
        .unwrap();

        let variables: Vec<Stored<VariableDefinition>> =
            serde_json::from_value(serde_json::to_value(campaign.variables()).unwrap()).unwrap();
        let fields: Vec<Stored<AnalysisField>> =
            serde_json::from_value(serde_json::to_value(campaign.analysis_fields()).unwrap()).unwrap();
        let policy: Stored<RetryPolicy> =
            serde_json::from_value(serde_json::to_value(campaign.retry_policy()).unwrap()).unwrap();

        assert_eq!(variables.into_iter().map(Stored::into_inner).collect::<Vec<_>>(), campaign.variables());
        assert_eq!(
            fields.into_iter().map(Stored::into_inner).collect::<Vec<_>>(),
            campaign.analysis_fields()
        );
        assert_eq!(&policy.into_inner(), campaign.retry_policy());
    }

    #[test]
    fn a_stored_value_is_not_validated_again() {
        // A key the validation refuses (not an identifier) reads back as stored: the decode checks
        // shapes and types only.
        let stored =
            serde_json::json!({"key": "Not A Key", "label": "x", "fieldType": "text", "required": false});
        let variable: Stored<VariableDefinition> = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(variable.0.key(), "Not A Key");
        assert!(serde_json::from_value::<VariableDefinition>(stored).is_err());
    }
}
