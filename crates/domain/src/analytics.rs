//! What a campaign achieved: one definition of each measure, used by every analytics procedure
//! and export.
//!
//! Calls and rows are counted, never averaged: every rate is a count over a count, computed here
//! from the counts it reports, so a rate over a week is the week's counts divided, not the mean
//! of seven daily rates.
//!
//! - **attempted**: outbound calls placed (one per attempt of a row).
//! - **reached / voicemail / no answer / busy / failed**: the call's outcome, which the execution
//!   crate classifies once from the provider's status, disconnection reason and `in_voicemail`
//!   (`execution::provider::outcome`) and stores on the call; a call still in progress has none.
//! - **reached rows**: rows whose outcome is `reached` (a person answered; a reached row is never
//!   retried, so it is reached at most once).
//! - **converted**: reached rows whose analysis gives the campaign's main KPI field the value
//!   `true` (the main KPI is always a boolean field, see [`crate::campaign::AnalysisField`]).
//!   **Conversion rate** = converted rows / reached rows.
//! - **opted out**: rows whose analysis sets the built-in [`OPTED_OUT_FIELD`] to `true`.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::campaign::{AnalysisField, AnalysisFieldType};
use crate::lifecycle::CallOutcome;

/// The analysis key under which a call reports that the patient asked not to be called again.
pub const OPTED_OUT_FIELD: &str = "opted_out";

/// `numerator / denominator`, or `None` when nothing was counted (a rate of nothing is unknown,
/// not zero).
pub fn rate(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

/// Whether an analysis value means "yes": a JSON `true`, or the text `true`/`yes` (providers and
/// LLM extractions sometimes answer booleans as text).
pub fn is_yes(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "yes"),
        _ => false,
    }
}

/// Whether a row's analysis (its fields by key) counts as converted under `main_kpi`. Without a
/// main KPI nothing converts.
pub fn is_converted(main_kpi: Option<&str>, analysis: Option<&Value>) -> bool {
    match (main_kpi, analysis) {
        (Some(key), Some(analysis)) => is_yes(analysis.get(key)),
        _ => false,
    }
}

/// Whether a row's analysis says the patient opted out.
pub fn is_opted_out(analysis: Option<&Value>) -> bool {
    analysis.is_some_and(|a| is_yes(a.get(OPTED_OUT_FIELD)))
}

/// Calls by how they ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutcomeCounts {
    /// Calls placed, ended or not.
    pub attempted: u64,
    /// A person answered.
    pub reached: u64,
    /// An answering machine or voicemail answered.
    pub voicemail: u64,
    /// Rang out.
    pub no_answer: u64,
    /// Busy line.
    pub busy: u64,
    /// Could not be completed.
    pub failed: u64,
}

impl OutcomeCounts {
    /// Counts `calls` calls that ended with `outcome` (`None`: still in progress, attempted only).
    pub fn add(&mut self, outcome: Option<CallOutcome>, calls: u64) {
        self.attempted += calls;
        let slot = match outcome {
            Some(CallOutcome::Reached) => &mut self.reached,
            Some(CallOutcome::Voicemail) => &mut self.voicemail,
            Some(CallOutcome::NoAnswer) => &mut self.no_answer,
            Some(CallOutcome::Busy) => &mut self.busy,
            Some(CallOutcome::Failed) => &mut self.failed,
            None => return,
        };
        *slot += calls;
    }

    /// Adds another set of counts.
    pub fn merge(&mut self, other: &OutcomeCounts) {
        self.attempted += other.attempted;
        self.reached += other.reached;
        self.voicemail += other.voicemail;
        self.no_answer += other.no_answer;
        self.busy += other.busy;
        self.failed += other.failed;
    }

    /// Reached calls / attempted calls.
    pub fn reach_rate(&self) -> Option<f64> {
        rate(self.reached, self.attempted)
    }
}

/// From the sheet to the answer, in rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Funnel {
    /// Every row of the sheet(s).
    pub rows: u64,
    /// Rows not skipped at import or by the do-not-call list (invalid, duplicate, on the list).
    pub callable: u64,
    /// Rows with at least one call placed.
    pub dialled: u64,
    /// Rows a person answered.
    pub reached: u64,
    /// Reached rows whose main KPI is `true`.
    pub converted: u64,
    /// Rows whose analysis says the patient opted out.
    pub opted_out: u64,
}

impl Funnel {
    /// Reached rows / dialled rows.
    pub fn reach_rate(&self) -> Option<f64> {
        rate(self.reached, self.dialled)
    }

    /// Converted rows / reached rows.
    pub fn conversion_rate(&self) -> Option<f64> {
        rate(self.converted, self.reached)
    }

    /// Adds another funnel.
    pub fn merge(&mut self, other: &Funnel) {
        self.rows += other.rows;
        self.callable += other.callable;
        self.dialled += other.dialled;
        self.reached += other.reached;
        self.converted += other.converted;
        self.opted_out += other.opted_out;
    }
}

/// What the rows answered to one analysis field.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldDistribution {
    /// Yes/no: `yes / answered` is the rate.
    Boolean {
        /// Rows that answered the field.
        answered: u64,
        /// Rows that answered yes.
        yes: u64,
        /// `yes / answered`.
        rate: Option<f64>,
    },
    /// One count per option in the field's order, then values outside the options under `other`.
    Enum {
        /// Rows that answered the field.
        answered: u64,
        /// Per option, in the field's order.
        counts: Vec<OptionCount>,
        /// Answers outside the options.
        other: u64,
    },
    /// Numeric answers (numbers, or text that parses as one).
    Number {
        /// Rows with a numeric answer.
        answered: u64,
        /// The smallest answer.
        min: Option<f64>,
        /// The largest answer.
        max: Option<f64>,
        /// The mean answer.
        mean: Option<f64>,
    },
    /// Free text or dates: how many rows gave a non-empty answer.
    Answered {
        /// Rows with a non-empty answer.
        answered: u64,
    },
}

/// One option of an enum field and how many rows answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionCount {
    /// The option as the field declares it.
    pub option: String,
    /// Rows that answered it (case-insensitively).
    pub count: u64,
}

/// Accumulates one field's answers over rows.
#[derive(Debug, Clone)]
pub struct FieldTally {
    field_type: AnalysisFieldType,
    options: Vec<String>,
    answered: u64,
    yes: u64,
    by_option: BTreeMap<usize, u64>,
    other: u64,
    sum: f64,
    min: Option<f64>,
    max: Option<f64>,
}

impl FieldTally {
    /// An empty tally for `field`.
    pub fn new(field: &AnalysisField) -> Self {
        FieldTally {
            field_type: field.field_type(),
            options: field.options().to_vec(),
            answered: 0,
            yes: 0,
            by_option: BTreeMap::new(),
            other: 0,
            sum: 0.0,
            min: None,
            max: None,
        }
    }

    /// Counts one row's value for the field (`None`, JSON null or empty text: not answered).
    pub fn add(&mut self, value: Option<&Value>) {
        let value = match value {
            None | Some(Value::Null) => return,
            Some(Value::String(s)) if s.trim().is_empty() => return,
            Some(v) => v,
        };
        match self.field_type {
            AnalysisFieldType::Boolean => {
                self.answered += 1;
                self.yes += u64::from(is_yes(Some(value)));
            }
            AnalysisFieldType::Enum => {
                self.answered += 1;
                let text = match value {
                    Value::String(s) => s.trim().to_owned(),
                    other => other.to_string(),
                };
                match self.options.iter().position(|o| o.eq_ignore_ascii_case(&text)) {
                    Some(i) => *self.by_option.entry(i).or_default() += 1,
                    None => self.other += 1,
                }
            }
            AnalysisFieldType::Number => {
                let number = match value {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
                    _ => None,
                };
                if let Some(n) = number {
                    self.answered += 1;
                    self.sum += n;
                    self.min = Some(self.min.map_or(n, |m| m.min(n)));
                    self.max = Some(self.max.map_or(n, |m| m.max(n)));
                }
            }
            AnalysisFieldType::Text | AnalysisFieldType::Date => self.answered += 1,
        }
    }

    /// The distribution of what was counted.
    pub fn finish(self) -> FieldDistribution {
        match self.field_type {
            AnalysisFieldType::Boolean => FieldDistribution::Boolean {
                answered: self.answered,
                yes: self.yes,
                rate: rate(self.yes, self.answered),
            },
            AnalysisFieldType::Enum => FieldDistribution::Enum {
                answered: self.answered,
                counts: self
                    .options
                    .iter()
                    .enumerate()
                    .map(|(i, option)| OptionCount {
                        option: option.clone(),
                        count: self.by_option.get(&i).copied().unwrap_or(0),
                    })
                    .collect(),
                other: self.other,
            },
            AnalysisFieldType::Number => FieldDistribution::Number {
                answered: self.answered,
                min: self.min,
                max: self.max,
                mean: (self.answered > 0).then(|| self.sum / self.answered as f64),
            },
            AnalysisFieldType::Text | AnalysisFieldType::Date => {
                FieldDistribution::Answered { answered: self.answered }
            }
        }
    }
}

/// Attempts and reached calls in one local hour of one weekday.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HourCell {
    /// ISO 8601: 1 = Monday … 7 = Sunday.
    pub weekday: u32,
    /// 0..=23, in the organization's zone.
    pub hour: u32,
    /// Calls placed in the hour.
    pub attempts: u64,
    /// Of which a person answered.
    pub reached: u64,
}

/// How many best hours [`best_hours`] names.
pub const BEST_HOURS: usize = 3;

/// The local hours of day (over all weekdays) with the highest reach rate, best first: at most
/// [`BEST_HOURS`]. An hour qualifies with at least 5% of all attempts (and at least one), so a
/// single lucky call does not name an hour; ties go to the hour with more attempts, then the
/// earlier hour.
pub fn best_hours(cells: &[HourCell]) -> Vec<u32> {
    let mut by_hour: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    for cell in cells {
        let entry = by_hour.entry(cell.hour).or_default();
        entry.0 += cell.attempts;
        entry.1 += cell.reached;
    }
    let total: u64 = by_hour.values().map(|(a, _)| a).sum();
    let floor = total.div_ceil(20).max(1);
    let mut ranked: Vec<(u32, u64, u64)> = by_hour
        .into_iter()
        .filter(|(_, (attempts, _))| *attempts >= floor)
        .map(|(hour, (attempts, reached))| (hour, attempts, reached))
        .collect();
    // reached_a / attempts_a > reached_b / attempts_b, compared exactly in integers.
    ranked.sort_by(|a, b| {
        (u128::from(b.2) * u128::from(a.1))
            .cmp(&(u128::from(a.2) * u128::from(b.1)))
            .then(b.1.cmp(&a.1))
            .then(a.0.cmp(&b.0))
    });
    ranked.into_iter().take(BEST_HOURS).map(|(hour, _, _)| hour).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::campaign::AnalysisFieldInput;

    fn field(field_type: AnalysisFieldType, options: &[&str]) -> AnalysisField {
        AnalysisFieldInput {
            key: "f".into(),
            label: "F".into(),
            field_type,
            options: options.iter().map(|o| o.to_string()).collect(),
            is_main_kpi: false,
            description: None,
        }
        .try_into()
        .unwrap()
    }

    #[test]
    fn rates_are_counts_over_counts_and_unknown_without_a_denominator() {
        assert_eq!(rate(1, 4), Some(0.25));
        assert_eq!(rate(0, 0), None);
        let mut week = OutcomeCounts::default();
        // Monday 1 of 1 reached, Tuesday 1 of 9: the week is 2 of 10, not the mean 55%.
        let monday = OutcomeCounts { attempted: 1, reached: 1, ..Default::default() };
        let tuesday = OutcomeCounts { attempted: 9, reached: 1, no_answer: 8, ..Default::default() };
        week.merge(&monday);
        week.merge(&tuesday);
        assert_eq!(week.reach_rate(), Some(0.2));
    }

    #[test]
    fn outcomes_count_into_their_slot_and_in_progress_calls_only_as_attempts() {
        let mut counts = OutcomeCounts::default();
        counts.add(Some(CallOutcome::Reached), 3);
        counts.add(Some(CallOutcome::Voicemail), 2);
        counts.add(Some(CallOutcome::NoAnswer), 1);
        counts.add(Some(CallOutcome::Busy), 1);
        counts.add(Some(CallOutcome::Failed), 1);
        counts.add(None, 2);
        assert_eq!(
            counts,
            OutcomeCounts { attempted: 10, reached: 3, voicemail: 2, no_answer: 1, busy: 1, failed: 1 }
        );
    }

    #[test]
    fn conversion_reads_the_main_kpi_as_a_yes() {
        let analysis = json!({"confirmed": true, "opted_out": "Yes", "other": false});
        assert!(is_converted(Some("confirmed"), Some(&analysis)));
        assert!(!is_converted(Some("other"), Some(&analysis)));
        assert!(!is_converted(Some("missing"), Some(&analysis)));
        assert!(!is_converted(None, Some(&analysis)));
        assert!(!is_converted(Some("confirmed"), None));
        assert!(is_opted_out(Some(&analysis)));
        assert!(!is_opted_out(Some(&json!({"opted_out": false}))));
        let funnel = Funnel { rows: 10, callable: 8, dialled: 8, reached: 4, converted: 1, opted_out: 0 };
        assert_eq!(funnel.conversion_rate(), Some(0.25));
        assert_eq!(funnel.reach_rate(), Some(0.5));
    }

    #[test]
    fn distributions_follow_the_field_type() {
        let mut enums = FieldTally::new(&field(AnalysisFieldType::Enum, &["morning", "evening"]));
        for v in [json!("Morning"), json!("evening"), json!("night"), json!(""), Value::Null] {
            enums.add(Some(&v));
        }
        enums.add(None);
        assert_eq!(
            enums.finish(),
            FieldDistribution::Enum {
                answered: 3,
                counts: vec![
                    OptionCount { option: "morning".into(), count: 1 },
                    OptionCount { option: "evening".into(), count: 1 }
                ],
                other: 1
            }
        );
        let mut numbers = FieldTally::new(&field(AnalysisFieldType::Number, &[]));
        for v in [json!(2), json!("4.5"), json!("n/a"), json!(-1)] {
            numbers.add(Some(&v));
        }
        assert_eq!(
            numbers.finish(),
            FieldDistribution::Number { answered: 3, min: Some(-1.0), max: Some(4.5), mean: Some(5.5 / 3.0) }
        );
        let mut booleans = FieldTally::new(&field(AnalysisFieldType::Boolean, &[]));
        for v in [json!(true), json!(false), json!("yes"), json!(false)] {
            booleans.add(Some(&v));
        }
        assert_eq!(booleans.finish(), FieldDistribution::Boolean { answered: 4, yes: 2, rate: Some(0.5) });
        let mut text = FieldTally::new(&field(AnalysisFieldType::Text, &[]));
        text.add(Some(&json!("call back Tuesday")));
        text.add(Some(&json!("  ")));
        assert_eq!(text.finish(), FieldDistribution::Answered { answered: 1 });
    }

    #[test]
    fn best_hours_rank_by_reach_rate_among_hours_with_enough_attempts() {
        let cell = |weekday, hour, attempts, reached| HourCell { weekday, hour, attempts, reached };
        let cells = [
            cell(1, 9, 10, 2),
            cell(2, 9, 10, 4),   // 09: 6 of 20
            cell(1, 10, 20, 10), // 10: 10 of 20
            cell(3, 14, 19, 19), // 14: 19 of 19
            cell(4, 17, 1, 1),   // 17: 1 of 1, under 5% of 60 attempts
            cell(5, 18, 0, 0),
        ];
        assert_eq!(best_hours(&cells), vec![14, 10, 9]);
        assert_eq!(best_hours(&[]), Vec::<u32>::new());
    }
}
