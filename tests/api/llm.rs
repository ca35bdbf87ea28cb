//! The language-model seam through real HTTP: the server's own `LlmClient` against the LLM
//! stand-in it mounts when no `LLM_BASE_URL` is set, with scripted faults, and the domain check
//! applied to what comes back.

use std::time::Duration;

use rivvi_domain::prompt::{check_variation, VariationWarningCode};
use rivvi_execution::llm::stand_in::WARM_OPENING;
use rivvi_execution::llm::{LlmClient, LlmConfig, LlmError, LlmFault, LlmStandIn, VariationRequest};

use crate::support::TestApp;

const BASE_PROMPT: &str = "You are calling {{first_name}} for {{organization_name}}.\n\
Confirm the appointment on {{appt_date}} at {{appt_time}}.";

fn declared() -> Vec<String> {
    vec!["appt_date".to_owned(), "appt_time".to_owned()]
}

fn warmer() -> VariationRequest {
    VariationRequest {
        campaign_name: "Appointment reminders".to_owned(),
        base_prompt: BASE_PROMPT.to_owned(),
        declared_placeholders: declared(),
        request: "Make it warmer".to_owned(),
    }
}

fn stand_in(app: &TestApp) -> &LlmStandIn {
    app.llm_stand_in.as_deref().expect("the stand-in is mounted without LLM_BASE_URL")
}

#[tokio::test]
async fn a_variation_from_the_stand_in_follows_the_request_and_keeps_every_placeholder() {
    let app = TestApp::spawn().await;

    let proposal = app.llm.propose_variation(&warmer()).await.unwrap();

    assert!(proposal.proposed_prompt.starts_with(WARM_OPENING), "{}", proposal.proposed_prompt);
    assert!(proposal.proposed_prompt.contains("Make it warmer"));
    assert!(!proposal.summary.is_empty());
    assert_eq!(proposal.model, "rivvi-llm-stand-in");
    let warnings = check_variation(&declared(), BASE_PROMPT, &proposal.proposed_prompt);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(stand_in(&app).requests(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_dropped_placeholder_is_named_by_the_check() {
    let app = TestApp::spawn().await;
    stand_in(&app).script_faults([LlmFault::DropPlaceholder("appt_date".into())]);

    let proposal = app.llm.propose_variation(&warmer()).await.unwrap();
    let warnings = check_variation(&declared(), BASE_PROMPT, &proposal.proposed_prompt);

    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].code, VariationWarningCode::PlaceholderDropped);
    assert_eq!(warnings[0].placeholder.as_deref(), Some("appt_date"));
    assert!(warnings[0].message.contains("{{appt_date}}"));
    app.stop().await;
}

#[tokio::test]
async fn an_invented_placeholder_is_named_by_the_check() {
    let app = TestApp::spawn().await;
    stand_in(&app).script_faults([LlmFault::InventPlaceholder("insurance_id".into())]);

    let proposal = app.llm.propose_variation(&warmer()).await.unwrap();
    let warnings = check_variation(&declared(), BASE_PROMPT, &proposal.proposed_prompt);

    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].code, VariationWarningCode::PlaceholderUndeclared);
    assert_eq!(warnings[0].placeholder.as_deref(), Some("insurance_id"));
    app.stop().await;
}

#[tokio::test]
async fn content_that_is_not_json_is_malformed() {
    let app = TestApp::spawn().await;
    stand_in(&app).script_faults([LlmFault::InvalidJson]);

    let error = app.llm.propose_variation(&warmer()).await.unwrap_err();

    let LlmError::Malformed(reason) = &error else { panic!("expected Malformed, got {error:?}") };
    assert!(reason.contains("schema"), "{reason}");
    assert!(!reason.contains("{{first_name}}"), "the prompt must not be echoed: {reason}");
    app.stop().await;
}

#[tokio::test]
async fn a_model_slower_than_the_timeout_times_out_and_the_next_request_succeeds() {
    let app = TestApp::spawn_with(|s| s.llm_request_timeout = Duration::from_millis(300)).await;
    stand_in(&app).script_faults([LlmFault::Delay(Duration::from_millis(1500))]);

    let error = app.llm.propose_variation(&warmer()).await.unwrap_err();
    assert_eq!(error, LlmError::Timeout);

    let proposal = app.llm.propose_variation(&warmer()).await.unwrap();
    assert!(proposal.proposed_prompt.starts_with(WARM_OPENING));
    app.stop().await;
}

#[tokio::test]
async fn a_rate_limit_is_reported_at_once_with_its_retry_after() {
    let app = TestApp::spawn().await;
    stand_in(&app).script_faults([LlmFault::RateLimited]);

    let error = app.llm.propose_variation(&warmer()).await.unwrap_err();

    assert_eq!(error, LlmError::RateLimited { retry_after: Some(Duration::from_secs(1)) });
    assert_eq!(stand_in(&app).requests(), 1, "no retry behind the user's back");
    app.stop().await;
}

#[tokio::test]
async fn a_server_error_is_unavailable() {
    let app = TestApp::spawn().await;
    stand_in(&app).script_faults([LlmFault::ServerError]);

    let error = app.llm.propose_variation(&warmer()).await.unwrap_err();

    let LlmError::Unavailable(reason) = &error else { panic!("expected Unavailable, got {error:?}") };
    assert!(reason.starts_with("status 500"), "{reason}");
    app.stop().await;
}

#[tokio::test]
async fn the_stand_in_rejects_a_wrong_key() {
    let app = TestApp::spawn().await;
    let client = LlmClient::new(LlmConfig::new(app.url("/llm-stand-in/v1"), "sk-wrong", "m")).unwrap();

    let error = client.propose_variation(&warmer()).await.unwrap_err();

    assert!(matches!(error, LlmError::Rejected { status: 401, .. }), "{error:?}");
    assert_eq!(stand_in(&app).requests(), 0);
    app.stop().await;
}

#[tokio::test]
async fn with_a_configured_endpoint_no_stand_in_is_mounted() {
    let app = TestApp::spawn_with(|s| {
        // A port nothing listens on: the client must report the endpoint unavailable.
        s.llm_base_url = Some("http://127.0.0.1:9/v1".to_owned());
    })
    .await;

    assert!(app.llm_stand_in.is_none());
    let response = app.http.post(app.url("/llm-stand-in/v1/chat/completions")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let error = app.llm.propose_variation(&warmer()).await.unwrap_err();
    assert!(matches!(error, LlmError::Unavailable(_)), "{error:?}");
    app.stop().await;
}
