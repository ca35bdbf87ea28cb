//! How one simulated call goes: its outcome, timeline, transcript and analysis, all drawn from a
//! seeded generator when the call is created, so the webhooks and `get-call` can replay it.

use std::collections::BTreeMap;

use rivvi_domain::analytics::OPTED_OUT_FIELD;
use rivvi_domain::campaign::Direction;
use rivvi_domain::lifecycle::{CallOutcome, CallStatus};
use serde_json::{Map, Value};

use crate::provider::{AnalysisFieldSpec, AnalysisKind, CallAnalysis, DisconnectionReason, ProviderCall};
use crate::retell::webhook::CallEventKind;

/// A small deterministic generator (SplitMix64): the same seed gives the same numbers on every
/// platform and release, which a dependency's generator does not promise.
#[derive(Debug, Clone)]
pub(super) struct Rng(u64);

impl Rng {
    /// A generator for one call, from the simulator seed and a key naming the call.
    pub(super) fn for_key(seed: u64, key: &[u8]) -> Self {
        // FNV-1a over the key, then mixed with the seed.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for &byte in key {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        let mut rng = Rng(seed ^ hash.rotate_left(17));
        rng.next_u64();
        rng
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi` (`lo` when the range is empty).
    pub(super) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = hi.abs_diff(lo).saturating_add(1);
        lo.saturating_add_unsigned(self.next_u64() % span)
    }

    /// True with probability `percent`/100.
    pub(super) fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub(super) fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            return None;
        }
        let len = u64::try_from(items.len()).unwrap_or(u64::MAX);
        items.get(usize::try_from(self.next_u64() % len).unwrap_or(0))
    }
}

/// Where a call is in its life at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Stage {
    Registered,
    Ongoing,
    Ended,
    Analyzed,
}

/// One call's whole simulated life, fixed at creation.
#[derive(Clone)]
pub(super) struct SimCall {
    /// The registered call object: ids, numbers, agent, metadata, variables.
    pub(super) base: ProviderCall,
    pub(super) outcome: CallOutcome,
    /// Clock instants (Unix ms, already compressed by the time scale).
    pub(super) start_ms: Option<i64>,
    pub(super) end_ms: i64,
    pub(super) analyzed_ms: i64,
    /// The simulated conversation length (not compressed: what a real call would report).
    pub(super) duration_ms: Option<i64>,
    pub(super) reason: DisconnectionReason,
    pub(super) transcript: Option<String>,
    pub(super) recording_url: Option<String>,
    pub(super) analysis: CallAnalysis,
    /// Deliver `call_started` right after `call_ended` instead of before it.
    pub(super) reorder: bool,
}

/// What [`plan`] needs besides the generator.
pub(super) struct PlanInput<'a> {
    pub(super) base: ProviderCall,
    pub(super) outcome: CallOutcome,
    pub(super) created_ms: i64,
    pub(super) time_scale: f64,
    pub(super) fields: &'a [AnalysisFieldSpec],
    pub(super) reorder_allowed: bool,
    /// The agent version's prompt and voicemail text, when the call runs on one.
    pub(super) script: Option<AgentScript<'a>>,
    /// The patient asks not to be called again (reached calls only): the transcript says so and
    /// the opt-out field is true.
    pub(super) opts_out: bool,
}

/// What the agent version of a call says.
#[derive(Debug, Clone, Copy)]
pub(super) struct AgentScript<'a> {
    pub(super) prompt: &'a str,
    pub(super) voicemail_message: Option<&'a str>,
}

impl AgentScript<'_> {
    /// The prompt's first non-blank line, `{{placeholders}}` filled from the call's variables
    /// (left as written when a variable is missing).
    fn opening_line(&self, variables: Option<&BTreeMap<String, String>>) -> Option<String> {
        let line = self.prompt.lines().map(str::trim).find(|l| !l.is_empty())?;
        let mut out = line.to_owned();
        for name in rivvi_domain::prompt::placeholders(line) {
            if let Some(value) = variables.and_then(|v| v.get(&name)) {
                for written in [format!("{{{{{name}}}}}"), format!("{{{{ {name} }}}}")] {
                    out = out.replace(&written, value);
                }
            }
        }
        Some(out)
    }
}

/// Draws the call's timeline and content. Simulated durations are in real-call seconds and are
/// divided by the time scale on the clock.
pub(super) fn plan(input: PlanInput<'_>, rng: &mut Rng) -> SimCall {
    let PlanInput { base, outcome, created_ms, time_scale, fields, reorder_allowed, script, opts_out } =
        input;
    let opts_out = opts_out && outcome == CallOutcome::Reached;
    let opening = script
        .and_then(|s| s.opening_line(base.retell_llm_dynamic_variables.as_ref()))
        .map(|line| format!("Agent: {line}\n"))
        .unwrap_or_default();
    let at = |simulated_ms: i64| created_ms.saturating_add(compress(simulated_ms, time_scale));
    let first_name = first_name(base.retell_llm_dynamic_variables.as_ref());
    let connected = matches!(outcome, CallOutcome::Reached | CallOutcome::Voicemail);

    let (ring_ms, talk_ms) = match outcome {
        CallOutcome::Reached => (rng.range(4_000, 20_000), rng.range(30_000, 240_000)),
        CallOutcome::Voicemail => (rng.range(15_000, 30_000), rng.range(15_000, 40_000)),
        CallOutcome::NoAnswer => (rng.range(30_000, 45_000), 0),
        CallOutcome::Busy => (rng.range(2_000, 5_000), 0),
        CallOutcome::Failed => (rng.range(1_000, 3_000), 0),
    };
    let analysis_delay_ms = rng.range(2_000, 6_000);
    let start_ms = connected.then(|| at(ring_ms));
    let end_ms = at(ring_ms + talk_ms);
    let analyzed_ms = at(ring_ms + talk_ms + analysis_delay_ms);

    let reason = match outcome {
        CallOutcome::Reached if rng.chance(50) => DisconnectionReason::UserHangup,
        CallOutcome::Reached => DisconnectionReason::AgentHangup,
        CallOutcome::Voicemail => DisconnectionReason::VoicemailReached,
        CallOutcome::NoAnswer => DisconnectionReason::DialNoAnswer,
        CallOutcome::Busy => DisconnectionReason::DialBusy,
        CallOutcome::Failed => DisconnectionReason::DialFailed,
    };
    let transcript = match outcome {
        CallOutcome::Reached if opts_out => Some(format!(
            "{opening}Agent: Hi, is this {first_name}?\nUser: Yes, speaking.\n\
             Agent: I'm calling from your care team about your upcoming visit.\n\
             User: Please stop calling me.\n\
             Agent: Understood, we won't call you again. Goodbye.\n"
        )),
        CallOutcome::Reached => Some(format!(
            "{opening}Agent: Hi, is this {first_name}?\nUser: Yes, speaking.\n\
             Agent: I'm calling from your care team about your upcoming visit. Can you make it?\n\
             User: Yes, that works for me.\nAgent: Thank you, goodbye.\n"
        )),
        CallOutcome::Voicemail => Some(match script.and_then(|s| s.voicemail_message) {
            Some(message) => format!("Agent: {}\n", message.trim()),
            None => format!(
                "Agent: Hi {first_name}, this is a message from your care team. \
                 Please call us back when you can. Goodbye.\n"
            ),
        }),
        _ => None,
    };
    let analysis = analysis(outcome, fields, &first_name, created_ms, opts_out, rng);
    let reorder = reorder_allowed && connected && rng.chance(34);
    let recording_url =
        connected.then(|| format!("https://simulator.invalid/recordings/{}.wav", base.call_id));
    SimCall {
        base,
        outcome,
        start_ms,
        end_ms,
        analyzed_ms,
        duration_ms: connected.then_some(talk_ms),
        reason,
        transcript,
        recording_url,
        analysis,
        reorder,
    }
}

fn compress(simulated_ms: i64, time_scale: f64) -> i64 {
    // Rounded, never negative; the float is a plain duration well inside i64.
    let scaled = (simulated_ms as f64 / time_scale).round() as i64;
    scaled.max(0)
}

/// The patient's first name from the dynamic variables: the only PHI a transcript may carry.
fn first_name(variables: Option<&BTreeMap<String, String>>) -> String {
    variables
        .and_then(|v| v.get("first_name").or_else(|| v.get("patient_first_name")))
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "there".to_owned())
}

fn analysis(
    outcome: CallOutcome,
    fields: &[AnalysisFieldSpec],
    first_name: &str,
    created_ms: i64,
    opts_out: bool,
    rng: &mut Rng,
) -> CallAnalysis {
    let mut custom = Map::new();
    match outcome {
        CallOutcome::Reached => {
            for field in fields {
                // Never drawn: a random opt-out would put random patients on the do-not-call
                // list in every demo run. Only a scripted patient opts out.
                let value = if field.key == OPTED_OUT_FIELD {
                    Value::Bool(opts_out)
                } else {
                    value_for(&field.kind, created_ms, rng)
                };
                custom.insert(field.key.clone(), value);
            }
            let sentiment =
                rng.pick(&["Positive", "Positive", "Neutral", "Negative"]).copied().unwrap_or("Neutral");
            CallAnalysis {
                call_summary: Some(format!(
                    "The agent reached {first_name} and went through the call; the patient responded."
                )),
                in_voicemail: Some(false),
                user_sentiment: Some(sentiment.to_owned()),
                call_successful: Some(rng.chance(80)),
                custom_analysis_data: custom,
            }
        }
        CallOutcome::Voicemail => {
            // Nothing was said by the patient: yes/no fields are "no", the others not extracted.
            for field in fields.iter().filter(|f| f.kind == AnalysisKind::Boolean) {
                custom.insert(field.key.clone(), Value::Bool(false));
            }
            CallAnalysis {
                call_summary: Some("The call reached voicemail and the agent left a message.".to_owned()),
                in_voicemail: Some(true),
                user_sentiment: Some("Unknown".to_owned()),
                call_successful: Some(false),
                custom_analysis_data: custom,
            }
        }
        _ => CallAnalysis {
            call_summary: Some("The call did not connect.".to_owned()),
            in_voicemail: Some(false),
            user_sentiment: Some("Unknown".to_owned()),
            call_successful: Some(false),
            custom_analysis_data: Map::new(),
        },
    }
}

fn value_for(kind: &AnalysisKind, created_ms: i64, rng: &mut Rng) -> Value {
    match kind {
        AnalysisKind::Boolean => Value::Bool(rng.chance(60)),
        AnalysisKind::Enum(options) => {
            rng.pick(options).map(|o| Value::String(o.clone())).unwrap_or(Value::Null)
        }
        AnalysisKind::Number => Value::from(rng.range(1, 10)),
        AnalysisKind::Text => Value::String(
            rng.pick(&["Prefers a morning appointment.", "No concerns raised.", "Asked about parking."])
                .copied()
                .unwrap_or_default()
                .to_owned(),
        ),
        AnalysisKind::Date => {
            let day = chrono::DateTime::from_timestamp_millis(created_ms)
                .map(|t| t.date_naive() + chrono::Days::new(rng.range(1, 21).unsigned_abs()));
            day.map(|d| Value::String(d.format("%Y-%m-%d").to_string())).unwrap_or(Value::Null)
        }
    }
}

impl SimCall {
    /// The stage the call is in at `now_ms`.
    pub(super) fn stage_at(&self, now_ms: i64) -> Stage {
        if now_ms >= self.analyzed_ms {
            Stage::Analyzed
        } else if now_ms >= self.end_ms {
            Stage::Ended
        } else if self.start_ms.is_some_and(|s| now_ms >= s) {
            Stage::Ongoing
        } else {
            Stage::Registered
        }
    }

    /// The call object as Retell would show it at `stage`.
    pub(super) fn snapshot(&self, stage: Stage) -> ProviderCall {
        let mut call = self.base.clone();
        if stage >= Stage::Ongoing {
            call.call_status = CallStatus::Ongoing;
            call.start_timestamp = self.start_ms;
        }
        if stage >= Stage::Ended {
            let connected = self.start_ms.is_some();
            call.call_status = if connected { CallStatus::Ended } else { CallStatus::NotConnected };
            call.start_timestamp = self.start_ms;
            call.end_timestamp = Some(self.end_ms);
            call.duration_ms = self.duration_ms;
            call.transcript = self.transcript.clone();
            call.recording_url = self.recording_url.clone();
            call.disconnection_reason = Some(self.reason.clone());
        }
        if stage >= Stage::Analyzed {
            call.call_analysis = Some(self.analysis.clone());
        }
        call
    }

    /// The webhooks this call sends, with their due instants, in sending order.
    pub(super) fn events(&self) -> Vec<(i64, CallEventKind)> {
        let mut events = Vec::with_capacity(3);
        match self.start_ms {
            Some(_) if self.reorder => {
                events.push((self.end_ms, CallEventKind::CallEnded));
                events.push((self.end_ms, CallEventKind::CallStarted));
            }
            Some(start) => {
                events.push((start, CallEventKind::CallStarted));
                events.push((self.end_ms, CallEventKind::CallEnded));
            }
            None => events.push((self.end_ms, CallEventKind::CallEnded)),
        }
        events.push((self.analyzed_ms, CallEventKind::CallAnalyzed));
        events
    }
}

/// The registered call object for a new call.
pub(super) fn registered(
    call_id: String,
    agent_id: String,
    from_number: String,
    to_number: String,
    metadata: Option<Value>,
    variables: BTreeMap<String, String>,
) -> ProviderCall {
    ProviderCall {
        call_id,
        agent_id,
        agent_version: Some(0),
        call_type: "phone_call".to_owned(),
        call_status: CallStatus::Registered,
        direction: Some(Direction::Outbound),
        from_number,
        to_number,
        start_timestamp: None,
        end_timestamp: None,
        duration_ms: None,
        transcript: None,
        recording_url: None,
        disconnection_reason: None,
        metadata,
        retell_llm_dynamic_variables: (!variables.is_empty()).then_some(variables),
        call_analysis: None,
    }
}
