//! A campaign's retry policy: which call outcomes earn another attempt, how many, and when.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::lifecycle::{CallOutcome, CallStatus};
use crate::stored::Stored;
use crate::validation::ValidationErrors;

string_enum! {
    /// A call outcome the retry policy may answer with another attempt.
    pub enum RetryableOutcome("retryable outcome") {
        /// Rang out without an answer.
        NoAnswer = "no_answer",
        /// The line was busy.
        Busy = "busy",
        /// An answering machine or voicemail picked up.
        Voicemail = "voicemail",
        /// The call could not be placed (carrier or provider failure before ringing).
        DialFailed = "dial_failed",
    }
}

impl RetryableOutcome {
    /// Which retryable outcome, if any, a finished call represents. A call that failed before it
    /// connected is a dial failure; one that failed mid-conversation is not retried (the patient
    /// was reached).
    pub fn from_call(status: CallStatus, outcome: CallOutcome) -> Option<RetryableOutcome> {
        match outcome {
            CallOutcome::NoAnswer => Some(RetryableOutcome::NoAnswer),
            CallOutcome::Busy => Some(RetryableOutcome::Busy),
            CallOutcome::Voicemail => Some(RetryableOutcome::Voicemail),
            CallOutcome::Failed if status == CallStatus::NotConnected => Some(RetryableOutcome::DialFailed),
            CallOutcome::Failed | CallOutcome::Reached => None,
        }
    }
}

/// Retry limits.
pub mod limits {
    /// Attempts per row, the first call included.
    pub const MAX_ATTEMPTS: std::ops::RangeInclusive<u32> = 1..=10;
    /// Minutes between attempts (up to a week).
    pub const DELAY_MINUTES: std::ops::RangeInclusive<u32> = 1..=10_080;
}

/// A validated retry policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase", try_from = "RetryPolicyInput")]
pub struct RetryPolicy {
    max_attempts: u32,
    retry_on: Vec<RetryableOutcome>,
    delay_minutes: u32,
}

/// What to do with a row after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Put the row back to pending, due at this instant.
    RetryAt(DateTime<Utc>),
    /// The outcome is final: complete or fail the row.
    Final,
}

impl RetryPolicy {
    /// Attempts per row, the first call included (1..=10).
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Outcomes that earn another attempt, without duplicates.
    pub fn retry_on(&self) -> &[RetryableOutcome] {
        &self.retry_on
    }

    /// Minutes between attempts (1..=10080).
    pub fn delay_minutes(&self) -> u32 {
        self.delay_minutes
    }

    /// Decides after attempt number `attempts_made` (1 for the first call) ended with `outcome`
    /// at `now`. `None` means the outcome is not retryable at all (the patient was reached).
    pub fn decide(
        &self,
        outcome: Option<RetryableOutcome>,
        attempts_made: u32,
        now: DateTime<Utc>,
    ) -> RetryDecision {
        match outcome {
            Some(o) if self.retry_on.contains(&o) && attempts_made < self.max_attempts => {
                RetryDecision::RetryAt(now + TimeDelta::minutes(i64::from(self.delay_minutes)))
            }
            _ => RetryDecision::Final,
        }
    }
}

/// [`RetryPolicy`]'s serialized form, field for field.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredRetryPolicy {
    max_attempts: u32,
    retry_on: Vec<RetryableOutcome>,
    delay_minutes: u32,
}

impl<'de> Deserialize<'de> for Stored<RetryPolicy> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = StoredRetryPolicy::deserialize(deserializer)?;
        Ok(Stored(RetryPolicy {
            max_attempts: s.max_attempts,
            retry_on: s.retry_on,
            delay_minutes: s.delay_minutes,
        }))
    }
}

impl Default for RetryPolicy {
    /// Three attempts, an hour apart, after no answer, busy or a dial failure (not voicemail:
    /// a message was left).
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            retry_on: vec![RetryableOutcome::NoAnswer, RetryableOutcome::Busy, RetryableOutcome::DialFailed],
            delay_minutes: 60,
        }
    }
}

/// The wire form of [`RetryPolicy`], before validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryPolicyInput {
    /// Attempts per row, the first call included, 1..=10.
    pub max_attempts: i32,
    /// Outcomes that earn another attempt (may be empty: never retry).
    pub retry_on: Vec<RetryableOutcome>,
    /// Minutes between attempts, 1..=10080.
    pub delay_minutes: i32,
}

impl RetryPolicyInput {
    /// Validates, with errors at `maxAttempts`, `retryOn` and `delayMinutes`.
    pub fn validate(self) -> Result<RetryPolicy, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let in_range = |v: i32, range: &std::ops::RangeInclusive<u32>| {
            u32::try_from(v).ok().filter(|v| range.contains(v))
        };
        let max_attempts = in_range(self.max_attempts, &limits::MAX_ATTEMPTS);
        if max_attempts.is_none() {
            errors.push("maxAttempts", format_args!("must be between 1 and {}", limits::MAX_ATTEMPTS.end()));
        }
        let delay_minutes = in_range(self.delay_minutes, &limits::DELAY_MINUTES);
        if delay_minutes.is_none() {
            errors.push(
                "delayMinutes",
                format_args!("must be between 1 and {} (one week)", limits::DELAY_MINUTES.end()),
            );
        }
        let mut retry_on = Vec::with_capacity(self.retry_on.len());
        for (i, outcome) in self.retry_on.into_iter().enumerate() {
            if retry_on.contains(&outcome) {
                errors.push(format!("retryOn[{i}]"), format_args!("repeats {outcome}"));
            } else {
                retry_on.push(outcome);
            }
        }
        match (max_attempts, delay_minutes) {
            (Some(max_attempts), Some(delay_minutes)) => {
                errors.finish(RetryPolicy { max_attempts, retry_on, delay_minutes })
            }
            _ => Err(errors),
        }
    }
}

impl TryFrom<RetryPolicyInput> for RetryPolicy {
    type Error = ValidationErrors;
    fn try_from(input: RetryPolicyInput) -> Result<Self, Self::Error> {
        input.validate()
    }
}

impl From<&RetryPolicy> for RetryPolicyInput {
    fn from(p: &RetryPolicy) -> Self {
        RetryPolicyInput {
            max_attempts: p.max_attempts as i32,
            retry_on: p.retry_on.clone(),
            delay_minutes: p.delay_minutes as i32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-09T15:00:00Z").unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_default_retries_three_times_an_hour_apart_but_not_after_voicemail() {
        let p = RetryPolicy::default();
        assert_eq!(p.max_attempts(), 3);
        assert_eq!(p.delay_minutes(), 60);
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"maxAttempts": 3, "retryOn": ["no_answer", "busy", "dial_failed"], "delayMinutes": 60})
        );
        assert_eq!(p.decide(Some(RetryableOutcome::Voicemail), 1, now()), RetryDecision::Final);
    }

    #[test]
    fn decisions_follow_the_outcome_and_the_attempts_left() {
        let p = RetryPolicy::default();
        let later = now() + TimeDelta::minutes(60);
        let cases = [
            (Some(RetryableOutcome::NoAnswer), 1, RetryDecision::RetryAt(later)),
            (Some(RetryableOutcome::Busy), 2, RetryDecision::RetryAt(later)),
            (Some(RetryableOutcome::DialFailed), 2, RetryDecision::RetryAt(later)),
            (Some(RetryableOutcome::NoAnswer), 3, RetryDecision::Final),
            (Some(RetryableOutcome::NoAnswer), 4, RetryDecision::Final),
            (Some(RetryableOutcome::Voicemail), 1, RetryDecision::Final),
            (None, 1, RetryDecision::Final),
        ];
        for (outcome, attempts, expected) in cases {
            assert_eq!(p.decide(outcome, attempts, now()), expected, "{outcome:?} after {attempts}");
        }
    }

    #[test]
    fn call_outcomes_map_to_retryable_outcomes() {
        use CallOutcome as O;
        use CallStatus as S;
        let cases = [
            (S::Ended, O::NoAnswer, Some(RetryableOutcome::NoAnswer)),
            (S::NotConnected, O::NoAnswer, Some(RetryableOutcome::NoAnswer)),
            (S::NotConnected, O::Busy, Some(RetryableOutcome::Busy)),
            (S::Ended, O::Voicemail, Some(RetryableOutcome::Voicemail)),
            (S::NotConnected, O::Failed, Some(RetryableOutcome::DialFailed)),
            (S::Error, O::Failed, None),
            (S::Ended, O::Failed, None),
            (S::Ended, O::Reached, None),
        ];
        for (status, outcome, expected) in cases {
            assert_eq!(RetryableOutcome::from_call(status, outcome), expected, "{status} {outcome}");
        }
    }

    #[test]
    fn invalid_policies_name_each_field() {
        let input: RetryPolicyInput = serde_json::from_value(json!({
            "maxAttempts": 11, "retryOn": ["busy", "busy"], "delayMinutes": 0
        }))
        .unwrap();
        let errors = input.validate().unwrap_err();
        assert_eq!(errors.reason_for("maxAttempts"), Some("must be between 1 and 10"));
        assert_eq!(errors.reason_for("delayMinutes"), Some("must be between 1 and 10080 (one week)"));
        assert_eq!(errors.reason_for("retryOn[1]"), Some("repeats busy"));
    }

    #[test]
    fn bounds_are_inclusive() {
        for (max_attempts, delay_minutes, ok) in
            [(1, 1, true), (10, 10_080, true), (0, 60, false), (3, 10_081, false)]
        {
            let input = RetryPolicyInput { max_attempts, retry_on: vec![], delay_minutes };
            assert_eq!(input.validate().is_ok(), ok, "{max_attempts} {delay_minutes}");
        }
    }

    #[test]
    fn unknown_outcomes_are_a_deserialization_error() {
        let result = serde_json::from_value::<RetryPolicyInput>(
            json!({"maxAttempts": 3, "retryOn": ["hangup"], "delayMinutes": 5}),
        );
        assert!(result.is_err());
    }

    #[test]
    fn a_stored_policy_is_revalidated_when_read() {
        let stored = json!({"maxAttempts": 3, "retryOn": ["busy"], "delayMinutes": 30});
        assert_eq!(serde_json::from_value::<RetryPolicy>(stored).unwrap().delay_minutes(), 30);
        assert!(serde_json::from_value::<RetryPolicy>(
            json!({"maxAttempts": 0, "retryOn": [], "delayMinutes": 30})
        )
        .is_err());
    }
}
