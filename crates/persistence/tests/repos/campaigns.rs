use rivvi_domain::campaign::{CampaignDefinition, CampaignStatus, NewCampaign};
use rivvi_domain::ids::CampaignId;
use rivvi_domain::Patch;
use rivvi_persistence::campaigns::{self, CampaignChange};
use rivvi_persistence::testing::on_each_backend;
use rivvi_persistence::{constraints, Page, PersistenceError};
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::{org, user};

pub fn new_campaign(name: &str) -> CampaignDefinition {
    let input = json!({
        "name": name,
        "direction": "outbound",
        "agentId": "agent_123",
        "basePrompt": "You are calling {{firstName}} about {{appointment_date}}.",
        "voicemailMessage": "Please call us back.",
        "variables": [
            {"key": "firstName", "label": "First name", "fieldType": "name", "role": "firstName"},
            {"key": "primaryPhone", "label": "Phone", "fieldType": "phone", "required": true, "role": "phone"},
            {"key": "appointment_date", "label": "Appointment", "fieldType": "date"}
        ],
        "analysisFields": [{"key": "appt_confirmed", "label": "Confirmed", "fieldType": "boolean", "isMainKpi": true}]
    });
    serde_json::from_value::<NewCampaign>(input).unwrap().validate().unwrap()
}

#[tokio::test]
async fn a_campaign_of_org_a_is_not_found_through_org_b_scope() {
    on_each_backend(|db| async move {
        let (_, org_a) = org(&db, "org_a").await;
        let (_, org_b) = org(&db, "org_b").await;
        let campaign = campaigns::create(&db, &org_a, &new_campaign("Reminders"), None).await.unwrap();

        let get = campaigns::get(&db, &org_b, campaign.id).await.unwrap_err();
        let update = campaigns::update(
            &db,
            &org_b,
            campaign.id,
            CampaignChange { name: Some("Taken over".into()), ..Default::default() },
        )
        .await
        .unwrap_err();
        let (listed, total) = campaigns::list(&db, &org_b, Page::default()).await.unwrap();

        assert!(matches!(get, PersistenceError::NotFound { entity: "campaign", .. }), "{get}");
        assert!(matches!(update, PersistenceError::NotFound { entity: "campaign", .. }), "{update}");
        assert!(listed.is_empty());
        assert_eq!(total, 0);
        assert_eq!(campaigns::get(&db, &org_a, campaign.id).await.unwrap().definition.name(), "Reminders");
    })
    .await;
}

#[tokio::test]
async fn a_created_campaign_reads_back_as_returned() {
    on_each_backend(|db| async move {
        let (clinic, scope) = org(&db, "org_a").await;
        let author = user(&db, "user_op").await;

        let created =
            campaigns::create(&db, &scope, &new_campaign("Reminders"), Some(author.id)).await.unwrap();

        assert_eq!(created.org_id, clinic.id);
        assert_eq!(created.created_by, Some(author.id));
        assert_eq!(campaigns::get(&db, &scope, created.id).await.unwrap(), created);
        assert_eq!(campaigns::list(&db, &scope, Page::default()).await.unwrap(), (vec![created], 1));
    })
    .await;
}

#[tokio::test]
async fn a_campaign_name_is_unique_within_an_org_only() {
    on_each_backend(|db| async move {
        let (_, org_a) = org(&db, "org_a").await;
        let (_, org_b) = org(&db, "org_b").await;
        campaigns::create(&db, &org_a, &new_campaign("Reminders"), None).await.unwrap();

        let duplicate = campaigns::create(&db, &org_a, &new_campaign("Reminders"), None).await.unwrap_err();
        let elsewhere = campaigns::create(&db, &org_b, &new_campaign("Reminders"), None).await;

        assert!(duplicate.is_conflict_on(constraints::CAMPAIGNS_ORG_ID_NAME), "{duplicate:?}");
        assert!(elsewhere.is_ok());
    })
    .await;
}

#[tokio::test]
async fn an_update_changes_only_the_given_fields() {
    on_each_backend(|db| async move {
        let (_, scope) = org(&db, "org_a").await;
        let created = campaigns::create(&db, &scope, &new_campaign("Reminders"), None).await.unwrap();
        let change = CampaignChange {
            status: Some(CampaignStatus::Paused),
            voicemail_message: Patch::Clear,
            analysis_fields: Some(vec![]),
            ..Default::default()
        };
        assert_eq!(change.changed_fields(), ["status", "voicemail_message", "analysis_fields"]);

        let updated = campaigns::update(&db, &scope, created.id, change).await.unwrap();

        assert_eq!(updated.definition.status(), CampaignStatus::Paused);
        assert_eq!(updated.definition.voicemail_message(), None);
        assert!(updated.definition.analysis_fields().is_empty());
        assert_eq!(updated.definition.base_prompt(), created.definition.base_prompt());
        assert_eq!(updated.definition.variables(), created.definition.variables());
        assert_eq!(campaigns::get(&db, &scope, created.id).await.unwrap(), updated);
    })
    .await;
}

#[tokio::test]
async fn an_unknown_campaign_is_not_found() {
    on_each_backend(|db| async move {
        let (_, scope) = org(&db, "org_a").await;

        let err = campaigns::get(&db, &scope, CampaignId::new()).await.unwrap_err();

        assert!(matches!(err, PersistenceError::NotFound { .. }), "{err}");
    })
    .await;
}

#[tokio::test]
async fn the_list_pages_by_name_and_counts_them_all() {
    on_each_backend(|db| async move {
        let (_, scope) = org(&db, "org_a").await;
        for name in ["Delta", "Alpha", "Charlie", "Bravo", "Echo"] {
            campaigns::create(&db, &scope, &new_campaign(name), None).await.unwrap();
        }

        let (first, total) = campaigns::list(&db, &scope, Page::new(2, 0)).await.unwrap();
        let (last, last_total) = campaigns::list(&db, &scope, Page::new(2, 4)).await.unwrap();
        let (past_the_end, past_total) = campaigns::list(&db, &scope, Page::new(2, 10)).await.unwrap();

        let names = |found: &[campaigns::Campaign]| {
            found.iter().map(|c| c.definition.name().to_owned()).collect::<Vec<_>>()
        };
        assert_eq!(names(&first), ["Alpha", "Bravo"]);
        assert_eq!(names(&last), ["Echo"]);
        assert!(past_the_end.is_empty());
        assert_eq!((total, last_total, past_total), (5, 5, 5), "every page counts them all");
    })
    .await;
}

#[tokio::test]
async fn a_stored_list_that_no_longer_decodes_is_a_corrupt_column() {
    on_each_backend(|db| async move {
        let (_, scope) = org(&db, "org_a").await;
        let cases = [
            ("variables", r#"'[{"key": "firstName"}]'"#),
            ("analysis_fields", r#"'{"not": "a list"}'"#),
            ("retry_policy", r#"'{"maxAttempts": "three"}'"#),
        ];
        for (i, (column, value)) in cases.into_iter().enumerate() {
            let created =
                campaigns::create(&db, &scope, &new_campaign(&format!("C{i}")), None).await.unwrap();
            let sql = format!("UPDATE campaigns SET {column} = {value} WHERE name = 'C{i}'");
            db.execute_unprepared(&sql).await.unwrap();

            let get = campaigns::get(&db, &scope, created.id).await.unwrap_err();
            let list = campaigns::list(&db, &scope, Page::default()).await.unwrap_err();

            for err in [get, list] {
                assert!(
                    matches!(err, PersistenceError::Corrupt { table: "campaigns", column: c } if c == column),
                    "{column}: {err}"
                );
            }
            db.execute_unprepared(&format!("DELETE FROM campaigns WHERE name = 'C{i}'")).await.unwrap();
        }
    })
    .await;
}
