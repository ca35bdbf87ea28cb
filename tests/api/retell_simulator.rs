//! The production Retell client against the built-in simulator over real HTTP: the simulator's
//! API mounted the way the server mounts it, and a receiver that collects its webhooks.
//!
//! Set `RIVVI_RETELL_FIDELITY_DIR` to also write the received webhooks (body, signature, the
//! instant to verify at) to `webhooks.json` there, for checking against Retell's TypeScript SDK.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use chrono::{DateTime, Utc};
use rivvi_domain::ids::{CallId, CampaignId, OrgId, RunId, RunRowId};
use rivvi_domain::lifecycle::{CallOutcome, CallStatus};
use rivvi_execution::clock::{Clock, ManualClock};
use rivvi_execution::provider::{
    AnalysisFieldSpec, AnalysisKind, CallMetadata, CreateCall, ErrorClass, ProviderError, VoiceProvider,
};
use rivvi_execution::retell::webhook::{self, CallEvent, CallEventKind, SignatureError};
use rivvi_execution::retell::{RetellClient, RetellConfig};
use rivvi_execution::simulator::{Simulator, SimulatorConfig};
use tokio::sync::oneshot;

const KEY: &str = "key_sim_integration_5d1c";
const FROM: &str = "+13125550100";

/// A received webhook: its `x-retell-signature` (if any) and raw body.
type Webhook = (Option<String>, Bytes);

#[derive(Clone, Default)]
struct Received {
    webhooks: Arc<Mutex<Vec<Webhook>>>,
    /// HTTP requests that reached the simulator's API, to prove (absent) retries.
    api_requests: Arc<AtomicU64>,
}

struct Harness {
    base_url: String,
    sim: Arc<Simulator>,
    clock: Arc<ManualClock>,
    received: Received,
    _stop: oneshot::Sender<()>,
}

impl Harness {
    async fn start() -> Harness {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let clock = Arc::new(ManualClock::new(
            DateTime::parse_from_rfc3339("2026-03-09T15:00:00Z").expect("date").with_timezone(&Utc),
        ));
        let mut config = SimulatorConfig::new(KEY, format!("http://{addr}/webhooks/retell"));
        config.seed = 11;
        config.time_scale = 30.0;
        let sim = Arc::new(Simulator::new(config, clock.clone()));
        let received = Received::default();

        let simulator_api = rivvi_server::simulator::router(sim.clone(), false)
            .layer(middleware::from_fn_with_state(received.clone(), count_api_request));
        let app = Router::new()
            .nest("/simulator/retell", simulator_api)
            .route("/webhooks/retell", post(receive_webhook))
            .with_state(received.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .expect("simulator server");
        });
        Harness { base_url: format!("http://{addr}/simulator/retell"), sim, clock, received, _stop: stop }
    }

    fn client(&self, key: &str) -> RetellClient {
        let mut config = RetellConfig::new(&self.base_url, key);
        config.backoff_base = Duration::from_millis(10);
        config.backoff_cap = Duration::from_millis(50);
        RetellClient::new(config).expect("client")
    }

    fn api_requests(&self) -> u64 {
        self.received.api_requests.load(Ordering::SeqCst)
    }

    /// Moves the clock from webhook to webhook until none is left, delivering each over HTTP.
    async fn deliver_everything(&self) {
        while let Some(due) = self.sim.next_due() {
            self.clock.set(due);
            for result in self.sim.deliver_due(due).await {
                assert!(result.delivered(), "{result:?}");
            }
        }
    }

    fn webhooks(&self) -> Vec<Webhook> {
        self.received.webhooks.lock().expect("lock").clone()
    }
}

async fn count_api_request(State(received): State<Received>, request: Request, next: Next) -> Response {
    received.api_requests.fetch_add(1, Ordering::SeqCst);
    next.run(request).await
}

async fn receive_webhook(State(received): State<Received>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let signature = headers.get(webhook::SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    received.webhooks.lock().expect("lock").push((signature, body));
    StatusCode::NO_CONTENT
}

fn metadata(attempt: u32) -> CallMetadata {
    CallMetadata {
        org_id: OrgId::new(),
        campaign_id: CampaignId::new(),
        run_id: RunId::new(),
        row_id: RunRowId::new(),
        call_id: CallId::new(),
        attempt,
    }
}

fn create(to: &str) -> CreateCall {
    CreateCall {
        from_number: FROM.into(),
        to_number: to.into(),
        override_agent_id: Some("agent_flu_shot".into()),
        override_agent_version: None,
        dynamic_variables: BTreeMap::from([("first_name".into(), "Maria".into())]),
        analysis_fields: vec![
            AnalysisFieldSpec {
                key: "appointment_confirmed".into(),
                kind: AnalysisKind::Boolean,
                description: "Did the patient confirm?".into(),
            },
            AnalysisFieldSpec {
                key: "preferred_slot".into(),
                kind: AnalysisKind::Enum(vec!["morning".into(), "afternoon".into()]),
                description: "Which slot suits the patient?".into(),
            },
        ],
        metadata: metadata(1),
    }
}

const OUTCOMES: [CallOutcome; 5] = [
    CallOutcome::Reached,
    CallOutcome::Voicemail,
    CallOutcome::NoAnswer,
    CallOutcome::Busy,
    CallOutcome::Failed,
];

fn number(i: usize) -> String {
    format!("+1312555{:04}", 2000 + i)
}

#[tokio::test]
async fn simulated_calls_send_webhooks_signed_like_retell_and_end_as_get_call_says() {
    let h = Harness::start().await;
    let client = h.client(KEY);
    let mut created = Vec::new();
    for (i, outcome) in OUTCOMES.into_iter().enumerate() {
        h.sim.script_outcomes(&number(i), [outcome]);
        let request = create(&number(i));
        let call = client.create_call(request.clone()).await.unwrap();
        assert_eq!(call.call_status, CallStatus::Registered);
        assert_eq!(call.agent_id, "agent_flu_shot");
        assert_eq!(call.rivvi_metadata(), Some(request.metadata));
        created.push((call.call_id, outcome));
    }

    h.deliver_everything().await;

    let now_ms = h.clock.now_ms();
    let webhooks = h.webhooks();
    // Connected calls (reached, voicemail) send three events, dial failures two.
    assert_eq!(webhooks.len(), 2 * 3 + 3 * 2);
    let mut analyzed = HashMap::new();
    for (signature, body) in &webhooks {
        let signature = signature.as_deref().expect("every webhook is signed");
        assert!(webhook::verify(KEY, signature, body, now_ms).is_ok());
        let mut tampered = body.to_vec();
        tampered.extend_from_slice(b" ");
        assert_eq!(webhook::verify(KEY, signature, &tampered, now_ms), Err(SignatureError::Mismatch));
        assert_eq!(webhook::verify("key_wrong", signature, body, now_ms), Err(SignatureError::Mismatch));

        let event: CallEvent = serde_json::from_slice(body).unwrap();
        assert!(event.call.rivvi_metadata().is_some(), "metadata comes back on every event");
        if event.event == CallEventKind::CallAnalyzed {
            analyzed.insert(event.call.call_id.clone(), event.call);
        }
    }

    for (call_id, outcome) in created {
        let call = client.get_call(&call_id).await.unwrap();
        let finished = call.finished().expect("the call is over");
        assert_eq!(finished.outcome, outcome, "{call_id}");
        let connected = matches!(outcome, CallOutcome::Reached | CallOutcome::Voicemail);
        let expected_status = if connected { CallStatus::Ended } else { CallStatus::NotConnected };
        assert_eq!((call.call_status, finished.status), (expected_status, expected_status));
        assert_eq!(analyzed[&call_id].finished(), Some(finished), "the webhook and get-call agree");
        let custom = &call.call_analysis.as_ref().unwrap().custom_analysis_data;
        if outcome == CallOutcome::Reached {
            assert!(custom.contains_key("appointment_confirmed") && custom.contains_key("preferred_slot"));
        } else if !connected {
            assert!(custom.is_empty());
        }
    }

    if let Ok(dir) = std::env::var("RIVVI_RETELL_FIDELITY_DIR") {
        let dump: Vec<_> = webhooks
            .iter()
            .map(|(signature, body)| {
                serde_json::json!({
                    "signature": signature,
                    "body": String::from_utf8_lossy(body),
                    "verify_at_ms": now_ms,
                })
            })
            .collect();
        let path = std::path::Path::new(&dir).join("webhooks.json");
        std::fs::write(path, serde_json::to_vec_pretty(&dump).unwrap()).unwrap();
    }
}

#[tokio::test]
async fn the_driver_delivers_on_its_own_until_shut_down() {
    let h = Harness::start().await;
    h.sim.script_outcomes(&number(1), [CallOutcome::Reached]);
    h.client(KEY).create_call(create(&number(1))).await.unwrap();
    h.clock.advance(chrono::TimeDelta::minutes(1));
    let (stop, stopped) = oneshot::channel::<()>();
    let driver = h.sim.clone().spawn_driver(async {
        let _ = stopped.await;
    });
    for _ in 0..100 {
        if h.webhooks().len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(h.webhooks().len(), 3);
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), driver).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_wrong_api_key_is_a_permanent_401_without_retry() {
    let h = Harness::start().await;
    let error = h.client("key_not_the_one").create_call(create(&number(1))).await.unwrap_err();
    assert!(matches!(error, ProviderError::Rejected { status: 401, .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Permanent);
    assert_eq!(h.api_requests(), 1);
    assert_eq!(h.sim.call_count(), 0);

    let error = h.client("key_not_the_one").get_call("call_x").await.unwrap_err();
    assert!(matches!(error, ProviderError::Rejected { status: 401, .. }), "{error:?}");
}

#[tokio::test]
async fn injected_server_errors_are_retried_and_the_third_try_succeeds() {
    let h = Harness::start().await;
    h.sim.fail_next_create(2);
    let call = h.client(KEY).create_call(create(&number(1))).await.unwrap();
    assert!(call.call_id.starts_with("call_"));
    assert_eq!(h.api_requests(), 3);
    assert_eq!(h.sim.create_requests(), 3);
    assert_eq!(h.sim.call_count(), 1);
}

#[tokio::test]
async fn retries_stop_after_three_and_say_the_call_may_exist() {
    let h = Harness::start().await;
    h.sim.fail_next_create(10);
    let error = h.client(KEY).create_call(create(&number(1))).await.unwrap_err();
    assert!(matches!(error, ProviderError::Server { status: 500, .. }), "{error:?}");
    assert!(error.is_retryable() && error.call_may_exist());
    assert_eq!(h.api_requests(), 4, "the first try and three retries");
}

#[tokio::test]
async fn an_invalid_number_is_refused_at_once_without_retry() {
    let h = Harness::start().await;
    let mut request = create(&number(1));
    request.to_number = "312-555-0143".into();
    let error = h.client(KEY).create_call(request).await.unwrap_err();
    assert!(matches!(&error, ProviderError::Rejected { status: 400, .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Permanent);
    assert!(!error.to_string().contains("555"), "no number in the error: {error}");
    assert_eq!(h.api_requests(), 1);
    assert_eq!(h.sim.call_count(), 0);
}

#[tokio::test]
async fn an_unknown_call_is_not_found() {
    let h = Harness::start().await;
    let error = h.client(KEY).get_call("call_0000").await.unwrap_err();
    assert_eq!(error, ProviderError::NotFound("call_0000".into()));
    assert_eq!(error.class(), ErrorClass::NotFound);
}
