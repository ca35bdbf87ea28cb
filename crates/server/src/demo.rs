//! `rivvi demo`: the first hour in one command. It builds the real server in this process, on a
//! free loopback port, with the embedded development defaults (SQLite under the data directory,
//! local files, the built-in Retell simulator) and a simulated clock, then does over HTTP what a
//! clinic and an operator would: a demo clinic with a caller number, an appointment-reminder
//! campaign, a sheet of synthetic patients previewed and made into a run, the run started and
//! followed until it completes, and a summary with the commands to explore the result.
//!
//! No rule is relaxed to make it fast. The clinic keeps a new organization's office hours
//! (Monday to Friday 09:00–17:00 New York), patients are called inside their local 08:00–21:00
//! window, retries wait the campaign's delay. The clock moves in small steps while calls are
//! going and jumps over idle time (nothing in progress, and every waiting row has a known time
//! when it may be dialled, from `runs.getStats`' `waiting`), and says so. That is what makes it
//! finish in seconds at any hour of any day.
//!
//! # Layout
//! - [`DemoOptions`], [`run`]: the command: settings, the in-process server, the tour, shutdown.
//! - `Api`: rspc queries and mutations and `POST /uploads`, over HTTP with a bearer token.
//! - `set_up`: the clinic, its number and the campaign, each reused when a rerun finds it.
//! - `drive`: the run on the simulated clock; [`next_jump`] decides when idle time is skipped.
//! - `Progress`: bars per outcome on a terminal, a line every few seconds otherwise.
//! - `summarize`: outcomes, conversion, calls by hour, and the commands to explore the result.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Timelike as _, Utc};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rivvi_domain::lifecycle::{CallOutcome, RowStatus, RunStatus};
use rivvi_domain::time_zone::IanaZone;
use rivvi_domain::waiting::WaitReason;
use rivvi_execution::clock::{Clock, ManualClock};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::Application;
use crate::auth::dev_key::{session_claims, ClaimShape, DevKey};
use crate::config::{JwtKeySource, MetricsListen, Settings};

/// The demo clinic's Clerk organization id: made just in time by the first request of a token
/// acting in it, found again on a rerun.
pub const DEMO_ORG: &str = "org_rivvi_demo";
const CLINIC_NAME: &str = "Rivvi Demo Clinic";
/// A fictional number (555-01xx), assigned to the clinic as its caller id.
const CALLER_NUMBER: &str = "+12125550100";
const CAMPAIGN_NAME: &str = "Appointment reminders (demo)";
const ADMIN_USER: &str = "user_demo_admin";
const OPERATOR_USER: &str = "user_demo_operator";

/// The bundled sheet: 34 rows of synthetic patients across seven US time zones (area codes of
/// New York, Chicago, Denver, Phoenix, Los Angeles, Anchorage and Honolulu; 555-01xx numbers),
/// with one duplicate and one invalid row, so the preview has something to report.
const SHEET: &[u8] = include_bytes!("../demo/patients.csv");
const SHEET_NAME: &str = "rivvi-demo-patients.csv";

/// Simulated time per step while calls are going: a call rings for seconds and talks for
/// minutes, so ten seconds lets each event land at about its own time.
const STEP: TimeDelta = TimeDelta::seconds(10);
/// Real time between steps by default: time for the simulator's driver (100 ms ticks) and the
/// webhooks it sends to keep up with the clock.
pub const DEFAULT_PACE: Duration = Duration::from_millis(40);
/// The demo gives up (naming what the run was waiting for) past this much real time: it is meant
/// to finish well inside three minutes.
const DEADLINE: Duration = Duration::from_secs(170);
/// A progress line this often when stderr is not a terminal.
const LINE_EVERY: Duration = Duration::from_secs(3);

/// How `rivvi demo` runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Where the simulated clock starts; default now.
    pub start_at: Option<DateTime<Utc>>,
    /// Real time between clock steps while calls are going.
    pub pace: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    // user errors
    #[error("the demo runs on the development defaults, but {0}")]
    NotDevelopment(&'static str),
    // the run
    #[error("the demo run {run_id} stopped as {status} before it completed")]
    RunStopped { run_id: String, status: RunStatus },
    #[error(
        "the demo run {run_id} did not complete within {} s of real time; the simulated clock \
         reads {at}; {last}",
        DEADLINE.as_secs()
    )]
    TooSlow { run_id: String, at: DateTime<Utc>, last: String },
    // internal
    #[error("{key} answered {code}: {message}")]
    Procedure { key: String, code: i64, message: String },
    #[error("{key}: unexpected answer ({reason}): {body}")]
    Unexpected { key: String, reason: String, body: String },
    #[error("{what}")]
    Http {
        what: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("minting a development token")]
    Token(#[source] anyhow::Error),
}

/// Runs the demo: the server in-process, the tour over HTTP, then a clean stop.
pub async fn run(options: DemoOptions) -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    quiet_logs();
    if settings.production {
        return Err(DemoError::NotDevelopment("RIVVI_ENV is production").into());
    }
    if !matches!(settings.auth.jwt_key, JwtKeySource::DevKey) {
        return Err(DemoError::NotDevelopment(
            "a Clerk key is configured (CLERK_JWT_KEY or CLERK_JWKS_URL), so development tokens would be refused",
        )
        .into());
    }
    let explore_at = settings.listen;
    let operator_org =
        settings.auth.operator_org.clone().unwrap_or_else(|| crate::config::DEV_OPERATOR_ORG.to_owned());
    let settings = demo_settings(settings);
    let key = DevKey::load_or_create(&settings.data_dir)?;
    let tokens = Tokens {
        admin: mint(&key, ADMIN_USER, DEMO_ORG)?,
        operator: mint(&key, OPERATOR_USER, &operator_org)?,
    };

    let start = options.start_at.unwrap_or_else(Utc::now);
    let clock = Arc::new(ManualClock::new(start));
    let app = Application::build_with_clock(settings, clock.clone()).await?;
    let api = Api { http: reqwest::Client::new(), base: format!("http://{}", app.address()) };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));

    let toured = tour(&api, &tokens, &clock, &options, explore_at).await;
    let _ = stop.send(());
    let served = server.await;
    toured?;
    served??;
    Ok(())
}

/// `--start-at`: an RFC 3339 instant.
pub fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| format!("expected an RFC 3339 instant such as 2026-12-05T03:00:00Z: {e}"))
}

/// The settings of the in-process server: the environment's (database, data directory, keys),
/// on a free loopback port, always on the built-in simulator, with the engine on.
fn demo_settings(mut settings: Settings) -> Settings {
    settings.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    // Nothing scrapes this short-lived server, and a `cargo run` next to it may hold the port.
    settings.metrics_listen = MetricsListen::Off;
    // The demo's own polling moves simulated time far faster than a person would: the limits
    // meant for a shared server would only slow it down. Nothing else can reach this port.
    settings.rate_limits.rpc = None;
    settings.rate_limits.webhook = None;
    // Synthetic 555 numbers on a simulated clock go to the simulator, never to a real provider.
    settings.retell_api_key = None;
    // One simulated second per second of the clock: calls last as long as real ones, and the
    // demo moves the clock.
    settings.simulator_time_scale = 1.0;
    settings.engine_enabled = true;
    settings
}

/// Logs at `error` unless `RUST_LOG` says otherwise: the server's start-up warnings (development
/// keys, the simulator) are what the demo is about, and would bury its output.
fn quiet_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

struct Tokens {
    /// The clinic's admin.
    admin: String,
    /// A super admin: an admin of the operator organization.
    operator: String,
}

fn mint(key: &DevKey, user: &str, org: &str) -> Result<String, DemoError> {
    let claims = session_claims(user, Some((org, "admin")), ClaimShape::V2, chrono::Duration::hours(1));
    key.sign(&claims).map_err(DemoError::Token)
}

async fn tour(
    api: &Api,
    tokens: &Tokens,
    clock: &ManualClock,
    options: &DemoOptions,
    explore_at: SocketAddr,
) -> anyhow::Result<()> {
    let clinic = set_up(api, tokens).await?;
    // A rerun never starts before an earlier demo's calls: the calls-per-minute limit counts
    // calls placed since a minute ago, and calls from a simulated future would count forever.
    let newest: CallPage = api.query(&tokens.admin, "calls.list", Some(json!({"limit": 1}))).await?;
    let after_earlier = newest.calls.first().map(|c| c.created_at + TimeDelta::minutes(1));
    let moved = after_earlier.filter(|at| *at > clock.now());
    if let Some(at) = moved {
        clock.set(at);
    }
    let start = clock.now();
    println!(
        "Simulated clock: starts {} ({} {}){}; it moves only when the demo moves it.",
        start.format("%a %Y-%m-%d %H:%M UTC"),
        local(start, clinic.zone, "%a %H:%M"),
        clinic.zone.name(),
        if moved.is_some() { ", just after the previous demo's last call" } else { "" },
    );

    let upload = api.upload(&tokens.admin, SHEET_NAME, SHEET.to_vec()).await?;
    let preview: Preview = api
        .query(
            &tokens.admin,
            "runs.preview",
            Some(json!({"campaignId": clinic.campaign_id, "uploadId": upload})),
        )
        .await?;
    print_preview(&preview);
    let name = format!("Demo reminders {}", local(start, clinic.zone, "%Y-%m-%d %H:%M"));
    let request = format!("demo-{}", uuid::Uuid::new_v4().simple());
    let run: Id = api
        .mutation(
            &tokens.admin,
            "runs.create",
            json!({"campaignId": clinic.campaign_id, "uploadId": upload, "name": name, "clientRequestId": request}),
        )
        .await?;
    let started: RunView = api.mutation(&tokens.admin, "runs.start", json!({"id": run.id})).await?;
    println!("Run {} \"{name}\": {}.\n", run.id, started.status);

    let callable = preview.counts.callable_rows;
    let driven = drive(api, &tokens.admin, clock, &run.id, &clinic, callable, options.pace).await?;
    summarize(api, &tokens.admin, clock, &run.id, &clinic, &preview, &driven, explore_at).await
}

// ---------------------------------------------------------------- set-up

struct Clinic {
    zone: IanaZone,
    campaign_id: String,
}

/// The clinic (its name, zone and caller number) and the campaign, made or found again.
async fn set_up(api: &Api, tokens: &Tokens) -> Result<Clinic, DemoError> {
    // The first request of each token makes its user, organization and membership.
    let _operator: Org = api.query(&tokens.operator, "organizations.getCurrent", None).await?;
    let existing: Org = api.query(&tokens.admin, "organizations.getCurrent", None).await?;
    let org: Org = if existing.name == CLINIC_NAME {
        existing
    } else {
        api.mutation(&tokens.admin, "organizations.update", json!({"name": CLINIC_NAME})).await?
    };
    let numbers: Vec<AssignedNumber> = api.query(&tokens.admin, "organizations.phoneNumbers", None).await?;
    if !numbers.iter().any(|n| n.number == CALLER_NUMBER) {
        let assign = json!({"orgId": org.id, "number": CALLER_NUMBER, "purpose": "both"});
        let _: AssignedNumber = api.mutation(&tokens.operator, "admin.phoneNumbers.assign", assign).await?;
    }
    let org: Org = if org.caller_number.as_deref() == Some(CALLER_NUMBER) {
        org
    } else {
        api.mutation(&tokens.admin, "organizations.update", json!({"callerNumber": CALLER_NUMBER})).await?
    };
    println!(
        "Clinic \"{}\" ({DEMO_ORG}, id {}): caller number {CALLER_NUMBER}, office hours {} {}, \
         {} calls at once, {} calls a minute.",
        org.name,
        org.id,
        office_hours_text(&org.office_hours),
        org.time_zone.name(),
        org.concurrent_call_limit,
        org.calls_per_minute,
    );

    let campaigns: CampaignPage =
        api.query(&tokens.operator, "campaigns.list", Some(json!({"orgId": org.id, "limit": 100}))).await?;
    let campaign_id = match campaigns.campaigns.into_iter().find(|c| c.config.name == CAMPAIGN_NAME) {
        Some(found) => {
            println!("Campaign \"{CAMPAIGN_NAME}\" ({}): reused.", found.id);
            found.id
        }
        None => {
            let create = json!({"orgId": org.id, "campaign": reminder_campaign()});
            let created: Id = api.mutation(&tokens.operator, "campaigns.create", create).await?;
            println!(
                "Campaign \"{CAMPAIGN_NAME}\" ({}): created by the operator (a super admin) with a \
                 prompt, a voicemail message and the main KPI \"Appointment confirmed\".",
                created.id
            );
            created.id
        }
    };
    Ok(Clinic { zone: org.time_zone, campaign_id })
}

/// An appointment-reminder campaign: ingestion's built-in variables (so the sheet maps by
/// itself), a prompt that verifies identity before any detail, a voicemail that carries no
/// patient data, and analysis fields with a main KPI. The retry policy is the default one.
fn reminder_campaign() -> Value {
    json!({
        "name": CAMPAIGN_NAME,
        "direction": "outbound",
        // No agentId: Rivvi creates the campaign's Retell LLM and agent, as for a real clinic.
        "basePrompt": "You are a friendly scheduling assistant calling on behalf of {{organization_name}}. \
            Ask for {{first_name}} {{last_name}}; if someone else answers, ask when {{first_name}} can be reached \
            and share no details. Once the patient confirms their date of birth, remind them of their \
            appointment on {{appointmentDate}} at {{appointmentTime}} with {{provider}} at {{location}}. \
            Ask whether they will attend. If they cannot, offer to have the front desk call them to \
            reschedule. If they ask not to be called again, confirm that politely and end the call. \
            This is attempt {{attempt}}.",
        "voicemailMessage": "Hello, this is {{organization_name}} calling with a reminder about an upcoming \
            appointment. Please call us back at {{organization_phone}}. Thank you.",
        "variables": rivvi_ingestion::defaults::appointment_reminder(),
        "analysisFields": [
            {"key": "appt_confirmed", "label": "Appointment confirmed", "fieldType": "boolean", "isMainKpi": true,
             "description": "The patient confirmed they will attend the appointment."},
            {"key": "wants_reschedule", "label": "Wants to reschedule", "fieldType": "boolean",
             "description": "The patient asked to move the appointment."},
            {"key": "callback_time", "label": "Best time to call back", "fieldType": "text",
             "description": "When the patient said the front desk may call back, if they did."}
        ]
    })
}

fn print_preview(preview: &Preview) {
    let c = &preview.counts;
    println!(
        "Sheet {SHEET_NAME}: {} data rows: {} callable, {} invalid, {} duplicate ({} distinct patients).",
        c.data_rows, c.callable_rows, c.invalid_rows, c.duplicate_rows, c.distinct_patients
    );
    println!("  mapping:");
    for column in &preview.mapping {
        println!("    {:<20} -> {:<16} ({})", column.header, column.field, column.method);
    }
    for row in &preview.invalid_rows {
        let problems: Vec<String> = row.errors.iter().map(|e| format!("{}: {}", e.field, e.reason)).collect();
        println!("  row {} not called: {}", row.sheet_row, problems.join("; "));
    }
    for row in &preview.duplicate_rows {
        match row.duplicate_of_sheet_row {
            Some(first) => println!("  row {} not called: the same patient as row {first}", row.sheet_row),
            None => println!("  row {} not called: a duplicate", row.sheet_row),
        }
    }
}

/// `Mon–Fri 09:00–17:00` from the wire form of office hours (days with `open`/`close`, or null).
fn office_hours_text(hours: &Value) -> String {
    const DAYS: [(&str, &str); 7] = [
        ("monday", "Mon"),
        ("tuesday", "Tue"),
        ("wednesday", "Wed"),
        ("thursday", "Thu"),
        ("friday", "Fri"),
        ("saturday", "Sat"),
        ("sunday", "Sun"),
    ];
    let day = |name: &str| {
        let d = hours.get(name)?;
        Some(format!("{}–{}", d.get("open")?.as_str()?, d.get("close")?.as_str()?))
    };
    // Runs of consecutive days with the same hours.
    let mut spans: Vec<(usize, usize, String)> = Vec::new();
    for (i, (name, _)) in DAYS.iter().enumerate() {
        let Some(text) = day(name) else { continue };
        match spans.last_mut() {
            Some((_, end, last)) if *end + 1 == i && *last == text => *end = i,
            _ => spans.push((i, i, text)),
        }
    }
    if spans.is_empty() {
        return "closed every day".to_owned();
    }
    let parts: Vec<String> = spans
        .iter()
        .map(|(first, last, text)| match first == last {
            true => format!("{} {text}", DAYS[*first].1),
            false => format!("{}–{} {text}", DAYS[*first].1, DAYS[*last].1),
        })
        .collect();
    parts.join(", ")
}

// ---------------------------------------------------------------- the run on the clock

/// One skip of idle time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Jump {
    pub to: DateTime<Utc>,
    pub reason: WaitReason,
}

/// Where the clock may jump when nothing is in progress: to the earliest `until` of the waiting
/// groups, when every group that can clear by itself has one in the future. `None` when a group
/// is due now or has no known end (the engine takes it at its next step, in real time), or when
/// nothing waits. Do-not-call rows are skipped when their turn comes: they never hold the clock.
pub fn next_jump(groups: &[Waiting], now: DateTime<Utc>) -> Option<Jump> {
    let mut holding = groups.iter().filter(|g| g.reason != WaitReason::DoNotCall).peekable();
    holding.peek()?;
    let mut earliest: Option<Jump> = None;
    for group in holding {
        let until = group.until.filter(|until| *until > now)?;
        if earliest.is_none_or(|e| until < e.to) {
            earliest = Some(Jump { to: until, reason: group.reason });
        }
    }
    earliest
}

struct Driven {
    started: DateTime<Utc>,
    finished: DateTime<Utc>,
    real: Duration,
    jumps: usize,
}

/// Follows the run until it completes. The clock moves by [`STEP`] while calls are going, waits
/// (in real time) for a dial in flight and for rows the engine will take at its next step, and
/// jumps over idle time.
async fn drive(
    api: &Api,
    token: &str,
    clock: &ManualClock,
    run_id: &str,
    clinic: &Clinic,
    callable: u32,
    pace: Duration,
) -> Result<Driven, DemoError> {
    let real_start = Instant::now();
    let started = clock.now();
    let mut progress = Progress::new(callable, clinic.zone);
    let mut jumps = 0;
    loop {
        let stats: RunStats = api.query(token, "runs.getStats", Some(json!({"id": run_id}))).await?;
        let tally = Tally::of(&all_rows(api, token, run_id).await?);
        let now = clock.now();
        progress.show(&tally, now);
        match stats.run.status {
            RunStatus::Completed => break,
            RunStatus::Running | RunStatus::Ready | RunStatus::Scheduled | RunStatus::Draft => {}
            status @ (RunStatus::Paused | RunStatus::Cancelled | RunStatus::Failed) => {
                progress.finish();
                return Err(DemoError::RunStopped { run_id: run_id.to_owned(), status });
            }
        }
        if real_start.elapsed() > DEADLINE {
            progress.finish();
            let last = format!("rows by status {:?}, waiting {:?}", stats.rows, stats.waiting);
            return Err(DemoError::TooSlow { run_id: run_id.to_owned(), at: now, last });
        }
        let rows_in = |status| stats.rows.iter().filter(|r| r.status == status).map(|r| r.count).sum::<u32>();
        if rows_in(RowStatus::Dialing) > 0 {
            // A create-call request is in flight in real time: moving the clock under it could
            // expire its row's lease before the answer is written.
            tokio::time::sleep(pace).await;
        } else if rows_in(RowStatus::InCall) > 0 {
            clock.advance(STEP);
            tokio::time::sleep(pace).await;
        } else if let Some(jump) = next_jump(&stats.waiting, now) {
            clock.set(jump.to);
            jumps += 1;
            progress.say(&format!(
                "simulated clock: skipped {} to {} {} — {}",
                span(jump.to - now),
                local(jump.to, clinic.zone, "%a %H:%M"),
                clinic.zone.name(),
                reason_text(jump.reason),
            ));
        } else {
            tokio::time::sleep(pace).await;
        }
    }
    progress.finish();
    Ok(Driven { started, finished: clock.now(), real: real_start.elapsed(), jumps })
}

/// Every row of the run (the demo sheet fits a page or two).
async fn all_rows(api: &Api, token: &str, run_id: &str) -> Result<Vec<Row>, DemoError> {
    let mut rows = Vec::new();
    loop {
        let input = json!({"runId": run_id, "limit": 100, "offset": rows.len()});
        let page: RowPage = api.query(token, "runs.getRows", Some(input)).await?;
        rows.extend(page.rows);
        if !page.has_more {
            return Ok(rows);
        }
    }
}

fn reason_text(reason: WaitReason) -> &'static str {
    match reason {
        WaitReason::OutsideOfficeHours => "outside office hours",
        WaitReason::OutsidePatientWindow => "outside the patients' 08:00–21:00 local window",
        WaitReason::RetryScheduled => "waiting for scheduled retries",
        WaitReason::CallsPerMinute => "the calls-per-minute limit",
        WaitReason::ConcurrencyFull => "the concurrent call limit",
        WaitReason::NoCallerNumber => "no caller number",
        WaitReason::DoNotCall => "do not call",
        WaitReason::Due => "due",
    }
}

/// Rows by where they stand, for the bars and the summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Tally {
    reached: u32,
    voicemail: u32,
    no_answer: u32,
    busy: u32,
    failed: u32,
    /// Skipped when their turn came: the number is on the do-not-call list.
    do_not_call: u32,
    cancelled: u32,
    /// Not dialled yet, waiting for a retry, or on a call now.
    pending: u32,
}

impl Tally {
    fn of(rows: &[Row]) -> Tally {
        let mut tally = Tally::default();
        for row in rows {
            match row.status {
                RowStatus::Pending | RowStatus::Dialing | RowStatus::InCall => tally.pending += 1,
                RowStatus::Completed | RowStatus::Failed => match row.outcome {
                    Some(CallOutcome::Reached) => tally.reached += 1,
                    Some(CallOutcome::Voicemail) => tally.voicemail += 1,
                    Some(CallOutcome::NoAnswer) => tally.no_answer += 1,
                    Some(CallOutcome::Busy) => tally.busy += 1,
                    Some(CallOutcome::Failed) | None => tally.failed += 1,
                },
                RowStatus::Skipped if row.skip_reason.as_deref() == Some("do_not_call") => {
                    tally.do_not_call += 1
                }
                // Invalid and duplicate rows were never callable.
                RowStatus::Skipped => {}
                RowStatus::Cancelled => tally.cancelled += 1,
            }
        }
        tally
    }

    fn line(&self) -> String {
        format!(
            "reached {} · voicemail {} · no answer {} · busy/failed {} · pending {}",
            self.reached,
            self.voicemail,
            self.no_answer,
            self.busy + self.failed,
            self.pending
        )
    }
}

/// Live progress: one bar per outcome on a terminal (stderr), otherwise a line every
/// [`LINE_EVERY`]. Narration goes to stdout either way.
enum Progress {
    Bars { multi: MultiProgress, bars: [ProgressBar; 5], clock: ProgressBar, zone: IanaZone },
    Lines { last: Option<Instant>, zone: IanaZone },
}

impl Progress {
    fn new(callable: u32, zone: IanaZone) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress::Lines { last: None, zone };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{prefix:>12} {bar:40.cyan/blue} {pos:>3}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("█▌ ");
        let clock = multi.add(ProgressBar::new_spinner());
        let bars = ["reached", "voicemail", "no answer", "busy/failed", "pending"].map(|label| {
            let bar = multi.add(ProgressBar::new(u64::from(callable)));
            bar.set_style(style.clone());
            bar.set_prefix(label);
            bar
        });
        Progress::Bars { multi, bars, clock, zone }
    }

    fn show(&mut self, tally: &Tally, now: DateTime<Utc>) {
        match self {
            Progress::Bars { bars, clock, zone, .. } => {
                let counts = [
                    tally.reached,
                    tally.voicemail,
                    tally.no_answer,
                    tally.busy + tally.failed,
                    tally.pending,
                ];
                for (bar, count) in bars.iter().zip(counts) {
                    bar.set_position(u64::from(count));
                }
                clock.set_message(format!(
                    "simulated clock: {} {}",
                    local(now, *zone, "%a %H:%M:%S"),
                    zone.name()
                ));
            }
            Progress::Lines { last, zone } => {
                if last.is_none_or(|at| at.elapsed() >= LINE_EVERY) {
                    *last = Some(Instant::now());
                    eprintln!("[{} {}] {}", local(now, *zone, "%a %H:%M"), zone.name(), tally.line());
                }
            }
        }
    }

    /// A line of narration, above the bars.
    fn say(&self, line: &str) {
        match self {
            Progress::Bars { multi, .. } => multi.suspend(|| println!("{line}")),
            Progress::Lines { .. } => println!("{line}"),
        }
    }

    fn finish(&self) {
        if let Progress::Bars { bars, clock, .. } = self {
            for bar in bars {
                bar.abandon();
            }
            clock.finish_and_clear();
        }
    }
}

// ---------------------------------------------------------------- summary

#[allow(clippy::too_many_arguments)]
async fn summarize(
    api: &Api,
    token: &str,
    clock: &ManualClock,
    run_id: &str,
    clinic: &Clinic,
    preview: &Preview,
    driven: &Driven,
    explore_at: SocketAddr,
) -> anyhow::Result<()> {
    // A call's analysis arrives a few simulated seconds after it ends, which may be after its row
    // (and so the run) is final: give the last ones their time, then read until the numbers hold.
    clock.advance(TimeDelta::minutes(1));
    let mut analytics: RunAnalytics;
    let mut previous = None;
    let mut reads = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        analytics = api.query(token, "analytics.run", Some(json!({"runId": run_id}))).await?;
        let key = (analytics.funnel.reached, analytics.funnel.converted, analytics.calls.attempted);
        reads += 1;
        if previous == Some(key) || reads >= 10 {
            break;
        }
        previous = Some(key);
    }
    let tally = Tally::of(&all_rows(api, token, run_id).await?);
    let calls = all_calls(api, token, run_id).await?;
    let zone = clinic.zone;

    println!(
        "\nRun complete: {} of simulated time ({} → {}, {} idle stretches skipped) in {:.1} s of real time.",
        span(driven.finished - driven.started),
        local(driven.started, zone, "%a %H:%M"),
        local(driven.finished, zone, "%a %H:%M"),
        driven.jumps,
        driven.real.as_secs_f64(),
    );
    let mut parts = vec![
        format!("reached {}", tally.reached),
        format!("voicemail {}", tally.voicemail),
        format!("no answer {}", tally.no_answer),
        format!("busy {}", tally.busy),
        format!("failed {}", tally.failed),
        format!("do-not-call {}", tally.do_not_call),
    ];
    if tally.cancelled > 0 {
        parts.push(format!("cancelled {}", tally.cancelled));
    }
    let total = tally.reached
        + tally.voicemail
        + tally.no_answer
        + tally.busy
        + tally.failed
        + tally.do_not_call
        + tally.cancelled;
    println!(
        "Patients by final outcome: {} = {total} of {} callable rows",
        parts.join(" + "),
        preview.counts.callable_rows
    );
    let f = &analytics.funnel;
    let kpi = analytics.main_kpi.as_deref().unwrap_or("main KPI");
    println!(
        "Converted ({kpi} = yes): {} of {} reached{}; {} asked not to be called again.",
        f.converted,
        f.reached,
        percent(f.converted, f.reached),
        f.opted_out
    );
    let c = &analytics.calls;
    println!(
        "Calls placed: {} (reached {}, voicemail {}, no answer {}, busy {}, failed {}); retries went to \
         the patients who did not answer.",
        c.attempted, c.reached, c.voicemail, c.no_answer, c.busy, c.failed
    );
    print_hours(&calls, zone);

    let base = match explore_at.ip().is_unspecified() {
        true => format!("http://127.0.0.1:{}", explore_at.port()),
        false => format!("http://{explore_at}"),
    };
    let reached_call = calls.iter().find(|c| c.outcome == Some(CallOutcome::Reached)).or(calls.first());
    println!("\nExplore the result (same data directory and database):");
    println!("  cargo run                                   # the server on {base}");
    println!("  TOKEN=$(cargo run -q -- dev-token --org {DEMO_ORG} --role admin)");
    println!(
        "  curl -s -G -H \"Authorization: Bearer $TOKEN\" {base}/rspc/runs.getStats --data-urlencode 'input={{\"id\":\"{run_id}\"}}'"
    );
    println!(
        "  curl -s -G -H \"Authorization: Bearer $TOKEN\" {base}/rspc/calls.list --data-urlencode 'input={{\"runId\":\"{run_id}\",\"limit\":10}}'"
    );
    if let Some(call) = reached_call {
        println!(
            "  curl -s -G -H \"Authorization: Bearer $TOKEN\" {base}/rspc/calls.get --data-urlencode 'input={{\"id\":\"{}\"}}'   # transcript and analysis",
            call.id
        );
    }
    println!(
        "  curl -s -H \"Authorization: Bearer $TOKEN\" -o demo-run.csv {base}/exports/runs/{run_id}.csv"
    );
    println!("Run `cargo run -- demo` again for another run of the same clinic and campaign.");
    Ok(())
}

/// Calls by the hour they were placed, in the clinic's zone.
fn print_hours(calls: &[CallSummary], zone: IanaZone) {
    let mut hours: BTreeMap<u32, (u32, u32)> = BTreeMap::new();
    for call in calls {
        let slot = hours.entry(call.created_at.with_timezone(&zone.tz()).hour()).or_default();
        slot.0 += 1;
        if call.outcome == Some(CallOutcome::Reached) {
            slot.1 += 1;
        }
    }
    let widest = hours.values().map(|(n, _)| *n).max().unwrap_or(1).max(1);
    println!("Calls by hour ({}):", zone.name());
    for (hour, (placed, reached)) in hours {
        let bar = "█".repeat(((placed * 30).div_ceil(widest)) as usize);
        let noun = if placed == 1 { "call" } else { "calls" };
        println!("  {hour:02}:00  {bar:<30} {placed:>3} {noun}, {reached} reached");
    }
}

async fn all_calls(api: &Api, token: &str, run_id: &str) -> Result<Vec<CallSummary>, DemoError> {
    let mut calls = Vec::new();
    loop {
        let input = json!({"runId": run_id, "limit": 100, "offset": calls.len()});
        let page: CallPage = api.query(token, "calls.list", Some(input)).await?;
        calls.extend(page.calls);
        if !page.has_more {
            return Ok(calls);
        }
    }
}

fn percent(part: u32, whole: u32) -> String {
    match whole {
        0 => String::new(),
        _ => format!(" ({:.0} %)", f64::from(part) * 100.0 / f64::from(whole)),
    }
}

/// `2 d 11 h`, `1 h 5 min`, `45 min`, `30 s`.
fn span(delta: TimeDelta) -> String {
    let seconds = delta.num_seconds().max(0);
    let (days, hours, minutes) = (seconds / 86_400, seconds % 86_400 / 3_600, seconds % 3_600 / 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

fn local(at: DateTime<Utc>, zone: IanaZone, format: &str) -> String {
    at.with_timezone(&zone.tz()).format(format).to_string()
}

// ---------------------------------------------------------------- HTTP

/// The in-process server over HTTP, as any client reaches it.
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn query<T: DeserializeOwned>(
        &self,
        token: &str,
        key: &str,
        input: Option<Value>,
    ) -> Result<T, DemoError> {
        let mut url = reqwest::Url::parse(&format!("{}/rspc/{key}", self.base)).map_err(|e| {
            DemoError::Unexpected { key: key.to_owned(), reason: e.to_string(), body: String::new() }
        })?;
        if let Some(input) = input {
            url.query_pairs_mut().append_pair("input", &input.to_string());
        }
        let response = self.http.get(url).bearer_auth(token).send().await;
        answer(key, response).await
    }

    async fn mutation<T: DeserializeOwned>(
        &self,
        token: &str,
        key: &str,
        input: Value,
    ) -> Result<T, DemoError> {
        let url = format!("{}/rspc/{key}", self.base);
        let response = self.http.post(url).bearer_auth(token).json(&input).send().await;
        answer(key, response).await
    }

    /// `POST /uploads`; the same bytes again answer the same upload (deduplicated by sha256).
    async fn upload(&self, token: &str, file_name: &str, bytes: Vec<u8>) -> Result<String, DemoError> {
        let key = "POST /uploads";
        let mut url = reqwest::Url::parse(&format!("{}/uploads", self.base)).map_err(|e| {
            DemoError::Unexpected { key: key.to_owned(), reason: e.to_string(), body: String::new() }
        })?;
        url.query_pairs_mut().append_pair("fileName", file_name);
        let response = self
            .http
            .post(url)
            .bearer_auth(token)
            .body(bytes)
            .send()
            .await
            .map_err(|source| DemoError::Http { what: format!("sending {key}"), source })?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|source| DemoError::Http { what: format!("reading the answer to {key}"), source })?;
        let parsed: Result<Uploaded, _> = serde_json::from_str(&body);
        match (status.is_success(), parsed) {
            (true, Ok(uploaded)) => Ok(uploaded.upload_id),
            (_, Err(e)) if status.is_success() => {
                Err(DemoError::Unexpected { key: key.to_owned(), reason: e.to_string(), body })
            }
            _ => Err(DemoError::Procedure {
                key: key.to_owned(),
                code: i64::from(status.as_u16()),
                message: body,
            }),
        }
    }
}

/// rspc's answer: `{"result": {"type": "response", "data": ...}}` or `{"result": {"type":
/// "error", "data": {"code", "message"}}}`.
async fn answer<T: DeserializeOwned>(
    key: &str,
    response: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, DemoError> {
    let response = response.map_err(|source| DemoError::Http { what: format!("sending {key}"), source })?;
    let body = response
        .text()
        .await
        .map_err(|source| DemoError::Http { what: format!("reading the answer to {key}"), source })?;
    let unexpected =
        |reason: String| DemoError::Unexpected { key: key.to_owned(), reason, body: body.clone() };
    let envelope: Envelope = serde_json::from_str(&body).map_err(|e| unexpected(e.to_string()))?;
    match envelope.result {
        RpcResult::Response { data } => serde_json::from_value(data).map_err(|e| unexpected(e.to_string())),
        RpcResult::Error { data } => {
            Err(DemoError::Procedure { key: key.to_owned(), code: data.code, message: data.message })
        }
    }
}

// ---------------------------------------------------------------- wire types (what the demo reads)

#[derive(Deserialize)]
struct Envelope {
    result: RpcResult,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum RpcResult {
    Response { data: Value },
    Error { data: RpcErrorBody },
}

#[derive(Deserialize)]
struct RpcErrorBody {
    code: i64,
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Uploaded {
    upload_id: String,
}

#[derive(Deserialize)]
struct Id {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Org {
    id: String,
    name: String,
    time_zone: IanaZone,
    office_hours: Value,
    caller_number: Option<String>,
    concurrent_call_limit: u32,
    calls_per_minute: u32,
}

#[derive(Deserialize)]
struct AssignedNumber {
    number: String,
}

#[derive(Deserialize)]
struct CampaignPage {
    campaigns: Vec<CampaignItem>,
}

#[derive(Deserialize)]
struct CampaignItem {
    id: String,
    config: CampaignConfig,
}

#[derive(Deserialize)]
struct CampaignConfig {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Preview {
    mapping: Vec<MappedColumn>,
    counts: PreviewCounts,
    invalid_rows: Vec<SheetRow>,
    duplicate_rows: Vec<SheetRow>,
}

#[derive(Deserialize)]
struct MappedColumn {
    header: String,
    field: String,
    method: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PreviewCounts {
    data_rows: u32,
    invalid_rows: u32,
    duplicate_rows: u32,
    callable_rows: u32,
    distinct_patients: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SheetRow {
    sheet_row: u32,
    errors: Vec<FieldProblem>,
    duplicate_of_sheet_row: Option<u32>,
}

#[derive(Deserialize)]
struct FieldProblem {
    field: String,
    reason: String,
}

#[derive(Deserialize)]
struct RunView {
    status: RunStatus,
}

#[derive(Deserialize)]
struct RunStats {
    run: RunView,
    rows: Vec<StatusCount>,
    waiting: Vec<Waiting>,
}

#[derive(Debug, Deserialize)]
struct StatusCount {
    status: RowStatus,
    count: u32,
}

/// One group of `runs.getStats`' `waiting`.
#[derive(Debug, Clone, Deserialize)]
pub struct Waiting {
    pub reason: WaitReason,
    pub rows: u32,
    pub until: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RowPage {
    rows: Vec<Row>,
    has_more: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    status: RowStatus,
    outcome: Option<CallOutcome>,
    skip_reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RunAnalytics {
    main_kpi: Option<String>,
    funnel: Funnel,
    calls: CallCounts,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Funnel {
    reached: u32,
    converted: u32,
    opted_out: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallCounts {
    attempted: u32,
    reached: u32,
    voicemail: u32,
    no_answer: u32,
    busy: u32,
    failed: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallPage {
    calls: Vec<CallSummary>,
    has_more: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallSummary {
    id: String,
    outcome: Option<CallOutcome>,
    created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn group(reason: WaitReason, until: Option<&str>) -> Waiting {
        Waiting { reason, rows: 1, until: until.map(at) }
    }

    #[test]
    fn the_clock_jumps_to_the_earliest_time_a_waiting_row_clears() {
        let now = at("2026-12-05T03:00:00Z");
        let groups = [
            group(WaitReason::RetryScheduled, Some("2026-12-07T16:00:00Z")),
            group(WaitReason::OutsideOfficeHours, Some("2026-12-07T14:00:00Z")),
            group(WaitReason::DoNotCall, None),
        ];

        let jump = next_jump(&groups, now);

        assert_eq!(
            jump,
            Some(Jump { to: at("2026-12-07T14:00:00Z"), reason: WaitReason::OutsideOfficeHours })
        );
    }

    #[test]
    fn the_clock_does_not_jump_over_rows_that_are_due_or_without_a_known_end() {
        let now = at("2026-12-07T14:00:00Z");
        let later = Some("2026-12-07T15:00:00Z");
        for held in [
            group(WaitReason::Due, None),
            group(WaitReason::ConcurrencyFull, None),
            group(WaitReason::NoCallerNumber, None),
            // Clears now: the engine takes it at its next step.
            group(WaitReason::RetryScheduled, Some("2026-12-07T14:00:00Z")),
        ] {
            let groups = [group(WaitReason::OutsidePatientWindow, later), held.clone()];
            assert_eq!(next_jump(&groups, now), None, "{held:?}");
        }
        assert_eq!(next_jump(&[], now), None, "nothing waits");
        assert_eq!(next_jump(&[group(WaitReason::DoNotCall, None)], now), None, "only do-not-call rows");
    }

    #[test]
    fn spans_read_in_the_largest_units() {
        assert_eq!(span(TimeDelta::seconds(45)), "45 s");
        assert_eq!(span(TimeDelta::minutes(65)), "1 h 5 min");
        assert_eq!(span(TimeDelta::hours(59) + TimeDelta::minutes(3)), "2 d 11 h");
        assert_eq!(span(TimeDelta::hours(3)), "3 h");
    }

    #[test]
    fn office_hours_read_as_runs_of_days() {
        let day = json!({"open": "09:00", "close": "17:00"});
        let hours = json!({"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day,
                           "saturday": {"open": "10:00", "close": "12:00"}, "sunday": null, "holidays": []});
        assert_eq!(office_hours_text(&hours), "Mon–Fri 09:00–17:00, Sat 10:00–12:00");
    }

    #[test]
    fn the_bundled_sheet_spans_seven_zones_with_fictional_numbers() {
        let text = std::str::from_utf8(SHEET).unwrap();
        let phones: Vec<&str> = text.lines().skip(1).filter_map(|l| l.split(',').nth(3)).collect();
        for area in ["(212)", "(312)", "(303)", "(602)", "(213)", "(907)", "(808)"] {
            assert!(phones.iter().any(|p| p.starts_with(area)), "{area}");
        }
        assert!(phones.iter().all(|p| p.contains("555-01")), "{phones:?}");
    }
}
