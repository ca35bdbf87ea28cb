//! `analytics.*`: what the organization's campaigns achieved (members; operators may name an
//! organization with `orgId`, audited there like other operator reads).
//!
//! Every measure has one definition (`rivvi_domain::analytics`): calls are counted by outcome,
//! rows from sheet to answer (rows → callable → dialled → reached → converted), and every rate is
//! a count over a count (null when nothing was counted). `from`/`to` are local dates in the
//! organization's zone, both included: they select calls by the day they were placed; rows count
//! through those calls (dialled, reached and converted rows are rows with such a call), and
//! `rows`/`callable` count every row of the runs that placed a call in the range.

use chrono::{DateTime, NaiveDate, Utc};
use rivvi_domain::analytics::{FieldDistribution, Funnel, OutcomeCounts};
use rivvi_domain::campaign::AnalysisFieldType;
use rivvi_domain::ids::{CampaignId, OrgId, RunId};
use rivvi_domain::lifecycle::RunStatus;
use rivvi_domain::Role;
use rspc::{Router, RouterBuilder};
use serde::{Deserialize, Serialize};
use specta::Type;

use super::error::{ApiError, ApiResult};
use super::paging::count;
use super::Ctx;
use crate::services::analytics::{
    self, AttemptResult, CampaignResult, Day, DayRange, FieldResult, RunResult,
};

pub fn mount() -> RouterBuilder<Ctx> {
    Router::<Ctx>::new()
        .query("overview", procedure!(overview))
        .query("campaign", procedure!(campaign))
        .query("run", procedure!(run))
        .query("timeOfDay", procedure!(time_of_day))
}

// ---------------------------------------------------------------- inputs

/// An analytics input: its own fields, then the range of local days and the organization every
/// analytics procedure takes. (Field types are spelled as tokens, `Id` or `Option<Id>`, so that
/// `#[specta(optional)]` can see the `Option`.)
macro_rules! analytics_input {
    ($(#[$meta:meta])* $name:ident { $($(#[$field_meta:meta])* $field:ident: $ty:ident $(<$inner:ident>)?),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Deserialize, Type)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        pub struct $name {
            $($(#[$field_meta])* pub $field: $ty $(<$inner>)?,)*
            /// First local day included (`YYYY-MM-DD`, the organization's zone).
            #[specta(optional)]
            pub from: Option<NaiveDate>,
            /// Last local day included.
            #[specta(optional)]
            pub to: Option<NaiveDate>,
            /// Operators only: act in this organization.
            #[specta(optional)]
            pub org_id: Option<OrgId>,
        }
    };
}

analytics_input!(
    /// The organization's analytics over an optional range of local days.
    #[derive(Default)]
    AnalyticsOverviewInput {}
);

analytics_input!(CampaignAnalyticsInput { campaign_id: CampaignId });

analytics_input!(RunAnalyticsInput { run_id: RunId });

analytics_input!(
    #[derive(Default)]
    TimeOfDayInput {
        /// One campaign's calls; default every campaign's.
        #[specta(optional)]
        campaign_id: Option<CampaignId>,
    }
);

// ---------------------------------------------------------------- outputs

/// Calls by how they ended.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CallCounts {
    /// Calls placed (one per attempt of a row).
    pub attempted: u32,
    /// A person answered.
    pub reached: u32,
    pub voicemail: u32,
    pub no_answer: u32,
    pub busy: u32,
    pub failed: u32,
    /// `reached / attempted`; null without calls.
    pub reach_rate: Option<f64>,
}

/// Rows from sheet to answer.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RowFunnel {
    pub rows: u32,
    /// Not skipped (invalid, duplicate, do-not-call).
    pub callable: u32,
    /// With at least one call.
    pub dialled: u32,
    /// A person answered.
    pub reached: u32,
    /// Reached, and the main KPI is true.
    pub converted: u32,
    /// The call's analysis says the patient asked not to be called.
    pub opted_out: u32,
    /// `reached / dialled`.
    pub reach_rate: Option<f64>,
    /// `converted / reached`.
    pub conversion_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DayPoint {
    /// Local date in the organization's zone.
    pub date: NaiveDate,
    pub calls: CallCounts,
    /// Rows converted by a call that day.
    pub converted: u32,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CampaignConversion {
    pub campaign_id: CampaignId,
    pub name: String,
    pub funnel: RowFunnel,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsOverview {
    /// The zone `from`, `to` and every date are in.
    pub time_zone: String,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub calls: CallCounts,
    pub funnel: RowFunnel,
    /// One point per local day with calls, earliest first.
    pub days: Vec<DayPoint>,
    /// Up to five campaigns with a reached row, best conversion rate first.
    pub top_campaigns: Vec<CampaignConversion>,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RunComparison {
    pub run_id: RunId,
    pub name: String,
    pub status: RunStatus,
    pub created_at: DateTime<Utc>,
    pub funnel: RowFunnel,
    pub calls: CallCounts,
}

/// How often one option of an enum field was answered.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct OptionShare {
    pub option: String,
    pub count: u32,
}

/// What reached rows answered to one field, by the field's type.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Distribution {
    /// `rate` = yes / answered.
    Boolean {
        answered: u32,
        yes: u32,
        rate: Option<f64>,
    },
    /// One count per option in the field's order; `other` counts answers outside them.
    Enum {
        answered: u32,
        counts: Vec<OptionShare>,
        other: u32,
    },
    Number {
        answered: u32,
        min: Option<f64>,
        max: Option<f64>,
        mean: Option<f64>,
    },
    /// Text and date fields: rows with an answer.
    Answered {
        answered: u32,
    },
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct FieldAnswers {
    pub key: String,
    pub label: String,
    pub field_type: AnalysisFieldType,
    pub is_main_kpi: bool,
    pub distribution: Distribution,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CampaignAnalytics {
    pub campaign_id: CampaignId,
    pub name: String,
    /// The analysis field conversion counts; null when the campaign has none.
    pub main_kpi: Option<String>,
    pub funnel: RowFunnel,
    pub calls: CallCounts,
    /// The campaign's runs with calls in the range (every run without a range), oldest first.
    pub runs: Vec<RunComparison>,
    /// Every analysis field of the campaign, over the reached rows.
    pub fields: Vec<FieldAnswers>,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AttemptsShare {
    /// Calls placed for the row (0: never called).
    pub attempts: u32,
    pub rows: u32,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AttemptOutcomes {
    /// 1 = the first call of a row.
    pub attempt: u32,
    pub calls: CallCounts,
    /// Rows reached by this attempt or an earlier one.
    pub reached_so_far: u32,
    /// `reachedSoFar / dialled rows`: what retries up to this one add.
    pub reach_rate_so_far: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RunAnalytics {
    pub run_id: RunId,
    pub campaign_id: CampaignId,
    pub main_kpi: Option<String>,
    pub funnel: RowFunnel,
    pub calls: CallCounts,
    pub attempts_per_row: Vec<AttemptsShare>,
    pub by_attempt: Vec<AttemptOutcomes>,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct HourSlot {
    /// ISO 8601: 1 = Monday … 7 = Sunday.
    pub weekday: u32,
    /// 0..=23 in the organization's zone.
    pub hour: u32,
    pub attempts: u32,
    pub reached: u32,
    pub reach_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct BestHour {
    pub hour: u32,
    pub attempts: u32,
    pub reached: u32,
    pub reach_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct TimeOfDayGrid {
    pub time_zone: String,
    /// 7 × 24 cells, Monday 00:00 first.
    pub cells: Vec<HourSlot>,
    /// Up to three hours of day with the best reach rate (each with at least 5% of the calls),
    /// best first, over every weekday.
    pub best_hours: Vec<BestHour>,
}

// ---------------------------------------------------------------- procedures

async fn overview(ctx: &Ctx, input: AnalyticsOverviewInput) -> ApiResult<AnalyticsOverview> {
    let caller = ctx.require_in(Role::Member, input.org_id).await?;
    let range = day_range(input.from, input.to)?;
    let found = analytics::overview(&ctx.state, &caller, range).await?;
    Ok(AnalyticsOverview {
        time_zone: found.zone.name().to_owned(),
        from: range.from,
        to: range.to,
        calls: call_counts(&found.calls),
        funnel: row_funnel(&found.funnel),
        days: found.days.iter().map(day_point).collect(),
        top_campaigns: found.top_campaigns.iter().map(campaign_conversion).collect(),
    })
}

async fn campaign(ctx: &Ctx, input: CampaignAnalyticsInput) -> ApiResult<CampaignAnalytics> {
    let caller = ctx.require_in(Role::Member, input.org_id).await?;
    let range = day_range(input.from, input.to)?;
    let found = analytics::campaign(&ctx.state, &caller, input.campaign_id, range).await?;
    Ok(CampaignAnalytics {
        campaign_id: found.campaign_id,
        name: found.name,
        main_kpi: found.main_kpi,
        funnel: row_funnel(&found.funnel),
        calls: call_counts(&found.calls),
        runs: found.runs.iter().map(run_comparison).collect(),
        fields: found.fields.iter().map(field_answers).collect(),
    })
}

async fn run(ctx: &Ctx, input: RunAnalyticsInput) -> ApiResult<RunAnalytics> {
    let caller = ctx.require_in(Role::Member, input.org_id).await?;
    let range = day_range(input.from, input.to)?;
    let found = analytics::run(&ctx.state, &caller, input.run_id, range).await?;
    let dialled = found.funnel.dialled;
    Ok(RunAnalytics {
        run_id: found.run_id,
        campaign_id: found.campaign_id,
        main_kpi: found.main_kpi,
        funnel: row_funnel(&found.funnel),
        calls: call_counts(&found.calls),
        attempts_per_row: found
            .attempts_per_row
            .iter()
            .map(|&(attempts, rows)| AttemptsShare { attempts, rows: count(rows) })
            .collect(),
        by_attempt: found.by_attempt.iter().map(|a| attempt_outcomes(a, dialled)).collect(),
    })
}

async fn time_of_day(ctx: &Ctx, input: TimeOfDayInput) -> ApiResult<TimeOfDayGrid> {
    let caller = ctx.require_in(Role::Member, input.org_id).await?;
    let range = day_range(input.from, input.to)?;
    let found = analytics::time_of_day(&ctx.state, &caller, input.campaign_id, range).await?;
    let best_hours = found
        .best_hours
        .iter()
        .map(|&hour| {
            let (attempts, reached) = found
                .cells
                .iter()
                .filter(|c| c.hour == hour)
                .fold((0, 0), |(a, r), c| (a + c.attempts, r + c.reached));
            BestHour {
                hour,
                attempts: count(attempts),
                reached: count(reached),
                reach_rate: rivvi_domain::analytics::rate(reached, attempts),
            }
        })
        .collect();
    Ok(TimeOfDayGrid {
        time_zone: found.zone.name().to_owned(),
        cells: found
            .cells
            .iter()
            .map(|c| HourSlot {
                weekday: c.weekday,
                hour: c.hour,
                attempts: count(c.attempts),
                reached: count(c.reached),
                reach_rate: rivvi_domain::analytics::rate(c.reached, c.attempts),
            })
            .collect(),
        best_hours,
    })
}

// ---------------------------------------------------------------- mapping

/// `to` before `from` is a 400 naming `to`.
fn day_range(from: Option<NaiveDate>, to: Option<NaiveDate>) -> ApiResult<DayRange> {
    match (from, to) {
        (Some(from), Some(to)) if to < from => Err(ApiError::invalid("to", "must not be before from")),
        _ => Ok(DayRange { from, to }),
    }
}

fn call_counts(c: &OutcomeCounts) -> CallCounts {
    CallCounts {
        attempted: count(c.attempted),
        reached: count(c.reached),
        voicemail: count(c.voicemail),
        no_answer: count(c.no_answer),
        busy: count(c.busy),
        failed: count(c.failed),
        reach_rate: c.reach_rate(),
    }
}

fn row_funnel(f: &Funnel) -> RowFunnel {
    RowFunnel {
        rows: count(f.rows),
        callable: count(f.callable),
        dialled: count(f.dialled),
        reached: count(f.reached),
        converted: count(f.converted),
        opted_out: count(f.opted_out),
        reach_rate: f.reach_rate(),
        conversion_rate: f.conversion_rate(),
    }
}

fn day_point(d: &Day) -> DayPoint {
    DayPoint { date: d.date, calls: call_counts(&d.calls), converted: count(d.converted) }
}

fn campaign_conversion(c: &CampaignResult) -> CampaignConversion {
    CampaignConversion { campaign_id: c.campaign_id, name: c.name.clone(), funnel: row_funnel(&c.funnel) }
}

fn run_comparison(r: &RunResult) -> RunComparison {
    RunComparison {
        run_id: r.run_id,
        name: r.name.clone(),
        status: r.status,
        created_at: r.created_at,
        funnel: row_funnel(&r.funnel),
        calls: call_counts(&r.calls),
    }
}

fn field_answers(f: &FieldResult) -> FieldAnswers {
    let distribution = match &f.distribution {
        FieldDistribution::Boolean { answered, yes, rate } => {
            Distribution::Boolean { answered: count(*answered), yes: count(*yes), rate: *rate }
        }
        FieldDistribution::Enum { answered, counts, other } => Distribution::Enum {
            answered: count(*answered),
            counts: counts
                .iter()
                .map(|o| OptionShare { option: o.option.clone(), count: count(o.count) })
                .collect(),
            other: count(*other),
        },
        FieldDistribution::Number { answered, min, max, mean } => {
            Distribution::Number { answered: count(*answered), min: *min, max: *max, mean: *mean }
        }
        FieldDistribution::Answered { answered } => Distribution::Answered { answered: count(*answered) },
    };
    FieldAnswers {
        key: f.field.key().to_owned(),
        label: f.field.label().to_owned(),
        field_type: f.field.field_type(),
        is_main_kpi: f.field.is_main_kpi(),
        distribution,
    }
}

fn attempt_outcomes(a: &AttemptResult, dialled: u64) -> AttemptOutcomes {
    AttemptOutcomes {
        attempt: a.attempt,
        calls: call_counts(&a.calls),
        reached_so_far: count(a.reached_so_far),
        reach_rate_so_far: rivvi_domain::analytics::rate(a.reached_so_far, dialled),
    }
}
