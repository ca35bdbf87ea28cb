//! What a clinic writes when it asks operators for a campaign.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ids::UploadId;
use crate::validation::{multi_line, single_line, ValidationErrors};

/// Longest request name.
pub const MAX_REQUEST_NAME_CHARS: usize = 120;
/// Longest goal.
pub const MAX_GOAL_CHARS: usize = 500;
/// Longest description.
pub const MAX_DESCRIPTION_CHARS: usize = 5_000;
/// Most desired variables, and the longest one.
pub const MAX_DESIRED_VARIABLES: usize = 50;
const MAX_DESIRED_VARIABLE_CHARS: usize = 100;

/// `campaignRequests.create` input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CampaignRequestInput {
    /// What to call the campaign, 1..=120 characters.
    pub name: String,
    /// What a call should achieve ("patients confirm or reschedule"), 1..=500 characters.
    pub goal: String,
    /// Everything operators should know, 1..=5000 characters.
    pub description: String,
    /// Values the clinic's sheets carry that the agent should use ("appointment time"), at
    /// most 50.
    #[serde(default)]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub desired_variables: Vec<String>,
    /// An upload of the clinic's showing what its sheets look like.
    #[serde(default)]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub sample_upload_id: Option<UploadId>,
    /// When the clinic needs it, `YYYY-MM-DD`, not in the past.
    #[serde(default)]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub due_date: Option<String>,
}

/// A checked [`CampaignRequestInput`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidCampaignRequest {
    /// One line, trimmed.
    pub name: String,
    /// What a call should achieve.
    pub goal: String,
    /// What operators should know.
    pub description: String,
    /// Each one line, trimmed.
    pub desired_variables: Vec<String>,
    /// Not checked here: the caller checks it is the organization's own upload.
    pub sample_upload_id: Option<UploadId>,
    /// Today or later.
    pub due_date: Option<NaiveDate>,
}

impl CampaignRequestInput {
    /// Checks every field, reporting all failures at once; `today` bounds the due date.
    pub fn validate(self, today: NaiveDate) -> Result<ValidCampaignRequest, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = errors.check("name", single_line(&self.name, MAX_REQUEST_NAME_CHARS));
        let goal = errors.check("goal", multi_line(&self.goal, MAX_GOAL_CHARS));
        let description = errors.check("description", multi_line(&self.description, MAX_DESCRIPTION_CHARS));
        if self.desired_variables.len() > MAX_DESIRED_VARIABLES {
            errors.push("desiredVariables", format!("must be at most {MAX_DESIRED_VARIABLES}"));
        }
        let mut desired_variables = Vec::new();
        for (i, variable) in self.desired_variables.iter().enumerate() {
            if let Some(v) = errors
                .check(format!("desiredVariables[{i}]"), single_line(variable, MAX_DESIRED_VARIABLE_CHARS))
            {
                desired_variables.push(v);
            }
        }
        let due_date = match self.due_date.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
            None => None,
            Some(text) => match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                Ok(date) if date < today => {
                    errors.push("dueDate", "must not be in the past");
                    None
                }
                Ok(date) => Some(date),
                Err(_) => {
                    errors.push("dueDate", "must be a date such as 2026-12-31");
                    None
                }
            },
        };
        match (name, goal, description) {
            (Some(name), Some(goal), Some(description)) if errors.is_empty() => Ok(ValidCampaignRequest {
                name,
                goal,
                description,
                desired_variables,
                sample_upload_id: self.sample_upload_id,
                due_date,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> CampaignRequestInput {
        CampaignRequestInput {
            name: "Flu shots".into(),
            goal: "Patients book a flu shot".into(),
            description: "Call everyone over 65.".into(),
            desired_variables: vec!["Last visit".into()],
            sample_upload_id: None,
            due_date: Some("2026-12-31".into()),
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 5).unwrap()
    }

    #[test]
    fn a_complete_request_is_valid() {
        let valid = input().validate(today()).unwrap();
        assert_eq!(valid.due_date, NaiveDate::from_ymd_opt(2026, 12, 31));
        assert_eq!(valid.desired_variables, ["Last visit"]);
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = CampaignRequestInput {
            name: " ".into(),
            goal: String::new(),
            description: "x".repeat(MAX_DESCRIPTION_CHARS + 1),
            desired_variables: vec!["ok".into(), "\u{0}".into()],
            sample_upload_id: None,
            due_date: Some("31/12/2026".into()),
        };
        let errors = bad.validate(today()).unwrap_err();
        let fields: Vec<&str> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        for field in ["name", "goal", "description", "desiredVariables[1]", "dueDate"] {
            assert!(fields.contains(&field), "{field} in {fields:?}");
        }
    }

    #[test]
    fn a_due_date_in_the_past_is_refused() {
        let past = CampaignRequestInput { due_date: Some("2026-12-04".into()), ..input() };
        assert!(past.validate(today()).is_err());
    }
}
