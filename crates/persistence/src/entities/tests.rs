//! Every entity matches its table: a fully populated row of each table goes in and comes back
//! equal, on SQLite and (with `RIVVI_TEST_DATABASE_URL`) PostgreSQL. Also checks the foreign keys
//! that close reference cycles, which the migration declares differently per database.

use chrono::{NaiveDate, TimeZone, Utc};
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, IntoActiveModel, SqlErr};
use serde_json::json;
use uuid::Uuid;

use super::*;
use crate::testing::on_each_backend;
use crate::time::now;

async fn insert<A>(db: &DatabaseConnection, model: <A::Entity as EntityTrait>::Model)
where
    A: ActiveModelTrait + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    <A::Entity as EntityTrait>::insert(model.into_active_model()).exec_without_returning(db).await.unwrap();
}

async fn assert_round_trip<E>(db: &DatabaseConnection, id: Uuid, expected: &E::Model)
where
    E: EntityTrait,
    E::Model: PartialEq + std::fmt::Debug,
    <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType: From<Uuid>,
{
    let found = E::find_by_id(id).one(db).await.unwrap().unwrap();
    assert_eq!(&found, expected);
}

struct Ids {
    org: Uuid,
    user: Uuid,
    campaign: Uuid,
    version: Uuid,
}

async fn seed_org_user_campaign(db: &DatabaseConnection) -> Ids {
    let at = now();
    let ids =
        Ids { org: Uuid::now_v7(), user: Uuid::now_v7(), campaign: Uuid::now_v7(), version: Uuid::now_v7() };
    let org = organizations::Model {
        id: ids.org,
        clerk_org_id: format!("org_{}", ids.org.simple()),
        name: "Clinic".into(),
        slug: Some("clinic".into()),
        time_zone: "America/Chicago".into(),
        office_hours: json!({"monday": {"open": "08:00", "close": "16:30"}, "holidays": ["2026-12-25"]}),
        caller_number: Some("+15555550100".into()),
        concurrent_call_limit: 5,
        calls_per_minute: 3,
        upload_retention_days: 7,
        transcript_retention_days: 90,
        is_operator: true,
        created_at: at,
        updated_at: at,
        deleted_at: Some(Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap()),
    };
    insert::<organizations::ActiveModel>(db, org.clone()).await;
    assert_round_trip::<organizations::Entity>(db, ids.org, &org).await;

    let user = users::Model {
        id: ids.user,
        clerk_user_id: format!("user_{}", ids.user.simple()),
        email: Some("a@example.com".into()),
        first_name: Some("Ann".into()),
        last_name: Some("Lee".into()),
        image_url: Some("https://img.example/a.png".into()),
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    insert::<users::ActiveModel>(db, user.clone()).await;
    assert_round_trip::<users::Entity>(db, ids.user, &user).await;

    let campaign = campaigns::Model {
        id: ids.campaign,
        org_id: ids.org,
        name: "Reminders".into(),
        direction: "outbound".into(),
        status: "active".into(),
        agent_id: "agent_1".into(),
        base_prompt: "Hello {{first_name}}".into(),
        voicemail_message: Some("Call us back".into()),
        variables: json!([{"key": "first_name", "required": true}]),
        analysis_fields: json!([{"key": "appt_confirmed", "type": "boolean", "main_kpi": true}]),
        retry_policy: json!({"max_attempts": 3, "delays_minutes": [60, 240]}),
        current_prompt_version_id: None,
        inbound_agent_version: None,
        created_by: Some(ids.user),
        created_at: at,
        updated_at: at,
    };
    insert::<campaigns::ActiveModel>(db, campaign.clone()).await;
    assert_round_trip::<campaigns::Entity>(db, ids.campaign, &campaign).await;

    let version = prompt_versions::Model {
        id: ids.version,
        campaign_id: ids.campaign,
        run_id: None,
        number: 1,
        base_prompt: "Hello {{first_name}}".into(),
        run_instructions: None,
        composed_prompt: "Hello {{first_name}}".into(),
        voicemail_message: Some("Call us back".into()),
        diff: "+Hello {{first_name}}".into(),
        author_user_id: Some(ids.user),
        reason: "created".into(),
        created_at: at,
        agent_id: Some("agent_3f2a9c1d0b7e".into()),
        agent_version: Some(4),
        variables: Some(json!([{"key": "first_name"}])),
        analysis_fields: Some(json!([])),
    };
    insert::<prompt_versions::ActiveModel>(db, version.clone()).await;
    assert_round_trip::<prompt_versions::Entity>(db, ids.version, &version).await;
    ids
}

#[tokio::test]
async fn every_entity_round_trips_through_the_schema() {
    on_each_backend(|db| async move {
        let at = now();
        let ids = seed_org_user_campaign(&db).await;

        let membership = memberships::Model {
            id: Uuid::now_v7(),
            org_id: ids.org,
            user_id: ids.user,
            role: "admin".into(),
            clerk_membership_id: Some("orgmem_1".into()),
            created_at: at,
            updated_at: at,
        };
        insert::<memberships::ActiveModel>(&db, membership.clone()).await;
        assert_round_trip::<memberships::Entity>(&db, membership.id, &membership).await;

        let patient = patients::Model {
            id: Uuid::now_v7(),
            org_id: ids.org,
            first_name_sealed: vec![0, 1, 2, 255],
            last_name_sealed: vec![3; 40],
            dob_sealed: vec![4; 28],
            phone_sealed: vec![5; 30],
            secondary_phone_sealed: Some(vec![6; 30]),
            mrn_sealed: None,
            identity_key: "ab".repeat(32),
            phone_key: "cd".repeat(32),
            secondary_phone_key: Some("ef".repeat(32)),
            key_id: "k1".into(),
            lookup_scheme: 2,
            mrn_key: Some("12".repeat(32)),
            name_dob_key: Some("34".repeat(32)),
            match_keys_pending: false,
            created_at: at,
            updated_at: at,
        };
        insert::<patients::ActiveModel>(&db, patient.clone()).await;
        assert_round_trip::<patients::Entity>(&db, patient.id, &patient).await;

        let contact_point = patient_phones::Model {
            id: Uuid::now_v7(),
            org_id: ids.org,
            patient_id: patient.id,
            phone_key: "56".repeat(32),
            phone_sealed: vec![7; 30],
            source: "upload".into(),
            created_at: at,
        };
        insert::<patient_phones::ActiveModel>(&db, contact_point.clone()).await;
        assert_round_trip::<patient_phones::Entity>(&db, contact_point.id, &contact_point).await;

        let upload = uploads::Model {
            id: Uuid::now_v7(),
            org_id: ids.org,
            uploaded_by: Some(ids.user),
            file_name: "patients.xlsx".into(),
            file_name_sealed: None,
            media_type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".into(),
            size_bytes: 5_000_000_000,
            sha256: "00".repeat(32),
            storage_key: format!("uploads/{}", Uuid::now_v7()),
            status: "stored".into(),
            created_at: at,
            updated_at: at,
        };
        insert::<uploads::ActiveModel>(&db, upload.clone()).await;
        assert_round_trip::<uploads::Entity>(&db, upload.id, &upload).await;

        let run = runs::Model {
            id: Uuid::now_v7(),
            org_id: ids.org,
            campaign_id: ids.campaign,
            upload_id: Some(upload.id),
            name: "Monday".into(),
            status: "scheduled".into(),
            prompt_version_id: Some(ids.version),
            instructions: Some("Mention parking".into()),
            scheduled_at: Some(at + chrono::Duration::hours(1)),
            started_at: None,
            finished_at: None,
            pause_reason: None,
            settings: json!({"calls_per_minute": 5}),
            client_request_id: Some("req-1".into()),
            created_by: Some(ids.user),
            headers_sealed: Some(vec![0, 1, 2]),
            created_at: at,
            updated_at: at,
        };
        insert::<runs::ActiveModel>(&db, run.clone()).await;
        assert_round_trip::<runs::Entity>(&db, run.id, &run).await;

        let first_row = run_rows::Model {
            id: Uuid::now_v7(),
            run_id: run.id,
            org_id: ids.org,
            patient_id: Some(patient.id),
            sort_index: 0,
            sheet_row: 2,
            variables_sealed: vec![7; 64],
            cells_sealed: vec![8; 128],
            status: "pending".into(),
            skip_reason: None,
            duplicate_of: None,
            attempts: 0,
            next_attempt_at: Some(at),
            lease_until: None,
            leased_by: None,
            outcome: None,
            analysis: None,
            analysis_sealed: None,
            last_error: None,
            created_at: at,
            updated_at: at,
        };
        let second_row = run_rows::Model {
            id: Uuid::now_v7(),
            sort_index: 1,
            sheet_row: 3,
            status: "skipped".into(),
            skip_reason: Some("duplicate".into()),
            duplicate_of: Some(first_row.id),
            attempts: 2,
            lease_until: Some(at),
            leased_by: Some("instance-a".into()),
            outcome: Some("voicemail".into()),
            analysis: Some(json!({"appt_confirmed": false})),
            analysis_sealed: None,
            last_error: Some("busy".into()),
            ..first_row.clone()
        };
        insert::<run_rows::ActiveModel>(&db, first_row.clone()).await;
        insert::<run_rows::ActiveModel>(&db, second_row.clone()).await;
        assert_round_trip::<run_rows::Entity>(&db, second_row.id, &second_row).await;

        let outbound = calls::Model {
            id: Uuid::now_v7(),
            org_id: ids.org,
            direction: "outbound".into(),
            run_id: Some(run.id),
            row_id: Some(first_row.id),
            campaign_id: Some(ids.campaign),
            patient_id: Some(patient.id),
            provider_call_id: Some("call_abc".into()),
            status: "ended".into(),
            outcome: Some("reached".into()),
            from_number_sealed: vec![9; 30],
            to_number_sealed: vec![10; 30],
            attempt: 1,
            started_at: Some(at),
            ended_at: Some(at + chrono::Duration::seconds(95)),
            duration_ms: Some(95_000),
            disconnection_reason: Some("user_hangup".into()),
            transcript_sealed: Some(vec![11; 500]),
            summary_sealed: Some(vec![12; 100]),
            recording_url: Some("https://rec.example/1.wav".into()),
            recording_url_sealed: None,
            analysis: Some(json!({"appt_confirmed": true})),
            analysis_sealed: None,
            related_call_id: None,
            local_hour: Some(9),
            local_date: Some(NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()),
            local_weekday: Some(2),
            created_at: at,
            updated_at: at,
        };
        let callback = calls::Model {
            id: Uuid::now_v7(),
            direction: "inbound".into(),
            run_id: None,
            row_id: None,
            provider_call_id: Some("call_def".into()),
            related_call_id: Some(outbound.id),
            ..outbound.clone()
        };
        insert::<calls::ActiveModel>(&db, outbound.clone()).await;
        insert::<calls::ActiveModel>(&db, callback.clone()).await;
        assert_round_trip::<calls::Entity>(&db, outbound.id, &outbound).await;
        assert_round_trip::<calls::Entity>(&db, callback.id, &callback).await;

        let event = webhook_events::Model {
            id: Uuid::now_v7(),
            source: "retell".into(),
            idempotency_key: "evt_1".into(),
            received_at: at,
            processed_at: Some(at),
            outcome: Some("applied".into()),
        };
        insert::<webhook_events::ActiveModel>(&db, event.clone()).await;
        assert_round_trip::<webhook_events::Entity>(&db, event.id, &event).await;

        let audit = audit_log::Model {
            id: Uuid::now_v7(),
            org_id: None,
            actor_kind: "super_admin".into(),
            actor_user_id: Some(ids.user),
            actor_label: "Ann Lee".into(),
            action: "organization.create".into(),
            entity_type: "organization".into(),
            entity_id: Some(ids.org.to_string()),
            changes: json!(["name"]),
            request_id: Some("req-9".into()),
            created_at: at,
        };
        insert::<audit_log::ActiveModel>(&db, audit.clone()).await;
        assert_round_trip::<audit_log::Entity>(&db, audit.id, &audit).await;

        let dnc = do_not_call::Model {
            id: Uuid::now_v7(),
            org_id: ids.org,
            phone_key: "cd".repeat(32),
            lookup_scheme: 2,
            number_sealed: Some(vec![1, 2, 3]),
            reason: "asked not to be called".into(),
            added_by: Some(ids.user),
            created_at: at,
        };
        insert::<do_not_call::ActiveModel>(&db, dnc.clone()).await;
        assert_round_trip::<do_not_call::Entity>(&db, dnc.id, &dnc).await;

        let request = campaign_requests::Model {
            id: Uuid::now_v7(),
            org_id: ids.org,
            requested_by: Some(ids.user),
            name: "Flu shots".into(),
            direction: "outbound".into(),
            description: "Remind patients".into(),
            main_goal: Some("Bookings".into()),
            desired_analysis: json!([{"key": "booked", "type": "boolean"}]),
            status: "pending".into(),
            admin_notes: None,
            resulting_campaign_id: Some(ids.campaign),
            desired_variables: Some(json!(["Last visit"])),
            sample_upload_id: None,
            due_date: Some(chrono::NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()),
            created_at: at,
            updated_at: at,
        };
        insert::<campaign_requests::ActiveModel>(&db, request.clone()).await;
        assert_round_trip::<campaign_requests::Entity>(&db, request.id, &request).await;
    })
    .await;
}

fn is_foreign_key_violation(err: &sea_orm::DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::ForeignKeyConstraintViolation(_)))
}

#[tokio::test]
async fn the_foreign_keys_closing_reference_cycles_are_enforced_on_every_database() {
    on_each_backend(|db| async move {
        let ids = seed_org_user_campaign(&db).await;

        // campaigns.current_prompt_version_id -> prompt_versions
        let mut campaign = campaigns::Entity::find_by_id(ids.campaign).one(&db).await.unwrap().unwrap();
        campaign.current_prompt_version_id = Some(Uuid::now_v7());
        let err = campaigns::Entity::update(campaign.clone().into_active_model().reset_all())
            .exec(&db)
            .await
            .unwrap_err();
        assert!(is_foreign_key_violation(&err), "{err}");

        // prompt_versions.run_id -> runs
        let mut version = prompt_versions::Entity::find_by_id(ids.version).one(&db).await.unwrap().unwrap();
        version.run_id = Some(Uuid::now_v7());
        let err = prompt_versions::Entity::update(version.into_active_model().reset_all())
            .exec(&db)
            .await
            .unwrap_err();
        assert!(is_foreign_key_violation(&err), "{err}");

        // A campaign without runs can be deleted while it points at its own current version: the
        // versions cascade away and the pointer is set null on the way.
        campaign.current_prompt_version_id = Some(ids.version);
        campaigns::Entity::update(campaign.into_active_model().reset_all()).exec(&db).await.unwrap();
        campaigns::Entity::delete_by_id(ids.campaign).exec(&db).await.unwrap();
        assert!(prompt_versions::Entity::find_by_id(ids.version).one(&db).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn the_schema_refuses_a_membership_role_other_than_member_or_admin() {
    on_each_backend(|db| async move {
        let ids = seed_org_user_campaign(&db).await;
        let at = now();
        let owner = memberships::Model {
            id: Uuid::now_v7(),
            org_id: ids.org,
            user_id: ids.user,
            role: "owner".into(),
            clerk_membership_id: None,
            created_at: at,
            updated_at: at,
        };

        let refused =
            memberships::Entity::insert(owner.into_active_model()).exec_without_returning(&db).await;

        assert!(refused.is_err());
    })
    .await;
}
