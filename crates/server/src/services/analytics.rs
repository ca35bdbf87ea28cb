//! What the organization's campaigns achieved: the organization's totals and days, one campaign's
//! funnel, runs and answers, one run's attempts, and when patients pick up.
//!
//! Counts come from `persistence::analytics` (grouped in the database); what they mean (reached,
//! converted, opted out, every rate) is `rivvi_domain::analytics`, the one definition. Each use
//! case reads in one transaction, within the caller's organization.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use rivvi_domain::analytics::{
    best_hours, is_converted, is_opted_out, FieldDistribution, FieldTally, Funnel, HourCell, OutcomeCounts,
};
use rivvi_domain::campaign::AnalysisField;
use rivvi_domain::ids::{CampaignId, RunId};
use rivvi_domain::lifecycle::RunStatus;
use rivvi_domain::IanaZone;
use rivvi_persistence::analytics::{self, ReachedRow, RunLabel, Slice};
use rivvi_persistence::sealing::Keys;
use rivvi_persistence::{campaigns, organizations, runs, OrgScope};
use sea_orm::{ConnectionTrait, TransactionTrait};

use super::ServiceResult;
use crate::auth::OrgCaller;
use crate::state::AppState;

/// How many campaigns the overview ranks.
pub const TOP_CAMPAIGNS: usize = 5;

/// Local days, both included; either end open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayRange {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// One local day of calls.
#[derive(Debug, Clone, PartialEq)]
pub struct Day {
    pub date: NaiveDate,
    pub calls: OutcomeCounts,
    /// Rows converted by a call that day.
    pub converted: u64,
}

/// A campaign's rows from sheet to answer.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignResult {
    pub campaign_id: CampaignId,
    pub name: String,
    pub funnel: Funnel,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Overview {
    pub zone: IanaZone,
    pub calls: OutcomeCounts,
    pub funnel: Funnel,
    pub days: Vec<Day>,
    /// Campaigns with a reached row, best conversion rate first.
    pub top_campaigns: Vec<CampaignResult>,
}

/// One run beside the others of its campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    pub run_id: RunId,
    pub name: String,
    pub status: RunStatus,
    pub created_at: DateTime<Utc>,
    pub funnel: Funnel,
    pub calls: OutcomeCounts,
}

/// What reached rows answered to one analysis field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldResult {
    pub field: AnalysisField,
    pub distribution: FieldDistribution,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CampaignAnalytics {
    pub campaign_id: CampaignId,
    pub name: String,
    pub main_kpi: Option<String>,
    pub funnel: Funnel,
    pub calls: OutcomeCounts,
    /// Oldest first.
    pub runs: Vec<RunResult>,
    /// The campaign's current analysis fields, in its order.
    pub fields: Vec<FieldResult>,
}

/// Calls of one attempt number and what they added.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptResult {
    pub attempt: u32,
    pub calls: OutcomeCounts,
    /// Rows reached by this attempt or an earlier one.
    pub reached_so_far: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunAnalytics {
    pub run_id: RunId,
    pub campaign_id: CampaignId,
    pub main_kpi: Option<String>,
    pub funnel: Funnel,
    pub calls: OutcomeCounts,
    /// (attempts, rows with that many), fewest first.
    pub attempts_per_row: Vec<(u32, u64)>,
    pub by_attempt: Vec<AttemptResult>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TimeOfDay {
    pub zone: IanaZone,
    /// Every weekday (1 = Monday) and hour, calls or not.
    pub cells: Vec<HourCell>,
    /// Best first.
    pub best_hours: Vec<u32>,
}

pub async fn overview(state: &AppState, caller: &OrgCaller, range: DayRange) -> ServiceResult<Overview> {
    let scope = &caller.scope;
    let txn = state.db.begin().await?;
    let zone = organizations::get(&txn, scope).await?.time_zone;
    let slice = Slice { from: range.from, to: range.to, ..Slice::default() };
    let calls = analytics::outcomes(&txn, scope, &slice).await?;
    let by_day = analytics::outcomes_by_day(&txn, scope, &slice).await?;
    let runs = RunFunnels::read(&txn, scope, &state.keys, &slice).await?;
    let names = analytics::campaign_names(&txn, scope, &runs.campaigns()).await?;
    txn.commit().await?;

    let converted_by_day = runs.converted_by_day();
    let days = by_day
        .into_iter()
        .map(|(date, calls)| Day {
            date,
            calls,
            converted: converted_by_day.get(&date).copied().unwrap_or(0),
        })
        .collect();
    let mut top_campaigns: Vec<CampaignResult> = runs
        .by_campaign()
        .into_iter()
        .filter(|(_, funnel)| funnel.reached > 0)
        .map(|(campaign_id, funnel)| CampaignResult {
            campaign_id,
            name: names.get(&campaign_id).cloned().unwrap_or_default(),
            funnel,
        })
        .collect();
    top_campaigns.sort_by(|a, b| {
        // converted_a / reached_a > converted_b / reached_b, exactly; then more conversions.
        (u128::from(b.funnel.converted) * u128::from(a.funnel.reached))
            .cmp(&(u128::from(a.funnel.converted) * u128::from(b.funnel.reached)))
            .then(b.funnel.converted.cmp(&a.funnel.converted))
            .then(a.name.cmp(&b.name))
    });
    top_campaigns.truncate(TOP_CAMPAIGNS);
    Ok(Overview { zone, calls, funnel: runs.total(), days, top_campaigns })
}

pub async fn campaign(
    state: &AppState,
    caller: &OrgCaller,
    campaign_id: CampaignId,
    range: DayRange,
) -> ServiceResult<CampaignAnalytics> {
    let scope = &caller.scope;
    let txn = state.db.begin().await?;
    let campaign = campaigns::get(&txn, scope, campaign_id).await?;
    let slice = Slice { campaign_id: Some(campaign_id), from: range.from, to: range.to, ..Slice::default() };
    let calls = analytics::outcomes(&txn, scope, &slice).await?;
    let calls_by_run: HashMap<RunId, OutcomeCounts> =
        analytics::outcomes_by_run(&txn, scope, &slice).await?.into_iter().collect();
    let runs = RunFunnels::read(&txn, scope, &state.keys, &slice).await?;
    txn.commit().await?;

    let definition = campaign.definition;
    let mut tallies: Vec<FieldTally> = definition.analysis_fields().iter().map(FieldTally::new).collect();
    for row in &runs.reached {
        for (tally, field) in tallies.iter_mut().zip(definition.analysis_fields()) {
            tally.add(row.analysis.as_ref().and_then(|a| a.get(field.key())));
        }
    }
    let fields = definition
        .analysis_fields()
        .iter()
        .zip(tallies)
        .map(|(field, tally)| FieldResult { field: field.clone(), distribution: tally.finish() })
        .collect();
    let mut run_results: Vec<RunResult> = runs
        .labels
        .values()
        .map(|label| RunResult {
            run_id: label.id,
            name: label.name.clone(),
            status: label.status,
            created_at: label.created_at,
            funnel: runs.funnels.get(&label.id).copied().unwrap_or_default(),
            calls: calls_by_run.get(&label.id).copied().unwrap_or_default(),
        })
        .collect();
    run_results.sort_by_key(|r| (r.created_at, r.run_id.as_uuid()));
    Ok(CampaignAnalytics {
        campaign_id,
        name: definition.name().to_owned(),
        main_kpi: definition.main_kpi().map(|f| f.key().to_owned()),
        funnel: runs.total(),
        calls,
        runs: run_results,
        fields,
    })
}

pub async fn run(
    state: &AppState,
    caller: &OrgCaller,
    run_id: RunId,
    range: DayRange,
) -> ServiceResult<RunAnalytics> {
    let scope = &caller.scope;
    let txn = state.db.begin().await?;
    let run = runs::get(&txn, scope, run_id).await?;
    let slice = Slice { run_id: Some(run_id), from: range.from, to: range.to, ..Slice::default() };
    let calls = analytics::outcomes(&txn, scope, &slice).await?;
    let by_attempt = analytics::outcomes_by_attempt(&txn, scope, &slice).await?;
    let attempts_per_row = analytics::attempts_per_row(&txn, scope, run_id).await?;
    let mut runs = RunFunnels::read(&txn, scope, &state.keys, &slice).await?;
    if runs.labels.is_empty() {
        // A run without calls in the range still names its fields.
        runs.labels = analytics::run_labels(&txn, scope, &HashSet::from([run_id])).await?;
    }
    txn.commit().await?;

    let mut reached_so_far = 0;
    let by_attempt = by_attempt
        .into_iter()
        .map(|(attempt, calls)| {
            // A reached row is never called again, so each reached call is a newly reached row.
            reached_so_far += calls.reached;
            AttemptResult { attempt, calls, reached_so_far }
        })
        .collect();
    Ok(RunAnalytics {
        run_id,
        campaign_id: run.campaign_id,
        main_kpi: runs.labels.get(&run_id).and_then(|l| l.main_kpi().map(str::to_owned)),
        funnel: runs.funnels.get(&run_id).copied().unwrap_or_default(),
        calls,
        attempts_per_row,
        by_attempt,
    })
}

pub async fn time_of_day(
    state: &AppState,
    caller: &OrgCaller,
    campaign_id: Option<CampaignId>,
    range: DayRange,
) -> ServiceResult<TimeOfDay> {
    let scope = &caller.scope;
    let txn = state.db.begin().await?;
    let zone = organizations::get(&txn, scope).await?.time_zone;
    if let Some(id) = campaign_id {
        campaigns::get(&txn, scope, id).await?;
    }
    let slice = Slice { campaign_id, from: range.from, to: range.to, ..Slice::default() };
    let found = analytics::hour_grid(&txn, scope, &slice).await?;
    txn.commit().await?;

    let by_cell: HashMap<(u32, u32), HourCell> = found.iter().map(|c| ((c.weekday, c.hour), *c)).collect();
    let cells = (1..=7)
        .flat_map(|weekday| (0..24).map(move |hour| (weekday, hour)))
        .map(|(weekday, hour)| {
            by_cell.get(&(weekday, hour)).copied().unwrap_or(HourCell {
                weekday,
                hour,
                attempts: 0,
                reached: 0,
            })
        })
        .collect();
    Ok(TimeOfDay { zone, cells, best_hours: best_hours(&found) })
}

/// The funnels of the runs a slice touches, with the reached rows they were counted from.
struct RunFunnels {
    funnels: HashMap<RunId, Funnel>,
    labels: HashMap<RunId, RunLabel>,
    reached: Vec<ReachedRow>,
}

impl RunFunnels {
    async fn read(
        conn: &impl ConnectionTrait,
        scope: &OrgScope,
        keys: &Keys,
        slice: &Slice,
    ) -> ServiceResult<Self> {
        let counts = analytics::row_counts_by_run(conn, scope, slice).await?;
        let reached = analytics::reached_rows(conn, scope, keys, slice).await?;
        let ids: HashSet<RunId> = counts.keys().copied().chain(reached.iter().map(|r| r.run_id)).collect();
        let labels = analytics::run_labels(conn, scope, &ids).await?;
        let mut funnels: HashMap<RunId, Funnel> = counts
            .into_iter()
            .map(|(run, c)| {
                let funnel = Funnel {
                    rows: c.rows,
                    callable: c.callable,
                    dialled: c.dialled,
                    reached: c.reached,
                    ..Funnel::default()
                };
                (run, funnel)
            })
            .collect();
        for row in &reached {
            let kpi = labels.get(&row.run_id).and_then(RunLabel::main_kpi);
            let funnel = funnels.entry(row.run_id).or_default();
            funnel.converted += u64::from(is_converted(kpi, row.analysis.as_ref()));
            funnel.opted_out += u64::from(is_opted_out(row.analysis.as_ref()));
        }
        Ok(RunFunnels { funnels, labels, reached })
    }

    fn total(&self) -> Funnel {
        let mut total = Funnel::default();
        for funnel in self.funnels.values() {
            total.merge(funnel);
        }
        total
    }

    fn campaigns(&self) -> HashSet<CampaignId> {
        self.labels.values().map(|l| l.campaign_id).collect()
    }

    fn by_campaign(&self) -> BTreeMap<CampaignId, Funnel> {
        let mut by_campaign: BTreeMap<CampaignId, Funnel> = BTreeMap::new();
        for (run, funnel) in &self.funnels {
            if let Some(label) = self.labels.get(run) {
                by_campaign.entry(label.campaign_id).or_default().merge(funnel);
            }
        }
        by_campaign
    }

    fn converted_by_day(&self) -> HashMap<NaiveDate, u64> {
        let mut days: HashMap<NaiveDate, u64> = HashMap::new();
        for row in &self.reached {
            let kpi = self.labels.get(&row.run_id).and_then(RunLabel::main_kpi);
            if let (Some(day), true) = (row.day, is_converted(kpi, row.analysis.as_ref())) {
                *days.entry(day).or_default() += 1;
            }
        }
        days
    }
}
