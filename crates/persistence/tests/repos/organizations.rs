use rivvi_domain::office_hours::OfficeHours;
use rivvi_domain::{Patch, PhoneNumber};
use rivvi_persistence::identity::soft_delete_org;
use rivvi_persistence::organizations::{self, NewOrganization, OrgSettingsChange};
use rivvi_persistence::testing::on_each_backend;
use rivvi_persistence::{constraints, PersistenceError};
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::org;

fn new_org(clerk_org_id: &str, name: &str, slug: &str) -> NewOrganization {
    NewOrganization {
        clerk_org_id: clerk_org_id.to_owned(),
        name: name.to_owned(),
        slug: Some(slug.to_owned()),
        time_zone: None,
        office_hours: None,
        caller_number: None,
        concurrent_call_limit: None,
        calls_per_minute: None,
        is_operator: false,
    }
}

#[tokio::test]
async fn an_org_is_read_through_its_scope() {
    on_each_backend(|db| async move {
        let (created, scope) = org(&db, "org_1").await;

        assert_eq!(organizations::get(&db, &scope).await.unwrap(), created);
    })
    .await;
}

#[tokio::test]
async fn a_soft_deleted_org_is_not_found_through_its_scope() {
    on_each_backend(|db| async move {
        let (created, scope) = org(&db, "org_1").await;
        soft_delete_org(&db, "org_1").await.unwrap();

        let err = organizations::get(&db, &scope).await.unwrap_err();
        let update = organizations::update_settings(
            &db,
            &scope,
            OrgSettingsChange { name: Some("New".into()), ..Default::default() },
        )
        .await
        .unwrap_err();

        assert!(matches!(err, PersistenceError::NotFound { .. }), "{err}");
        assert!(matches!(update, PersistenceError::NotFound { .. }), "{update}");
        assert!(organizations::get_by_id(&db, created.id).await.unwrap().deleted_at.is_some());
    })
    .await;
}

#[tokio::test]
async fn settings_change_only_the_given_fields() {
    on_each_backend(|db| async move {
        let (created, scope) = org(&db, "org_1").await;
        let hours: OfficeHours = serde_json::from_value(
            json!({"monday": {"open": "07:00", "close": "19:00"}, "holidays": ["2026-12-25"]}),
        )
        .unwrap();

        let change = OrgSettingsChange {
            time_zone: Some("America/Chicago".parse().unwrap()),
            office_hours: Some(hours.clone()),
            caller_number: Patch::Set("+15555550100".parse().unwrap()),
            concurrent_call_limit: Some(4),
            ..Default::default()
        };
        assert_eq!(
            change.changed_fields(),
            ["time_zone", "office_hours", "caller_number", "concurrent_call_limit"]
        );
        let updated = organizations::update_settings(&db, &scope, change).await.unwrap();
        let cleared = organizations::update_settings(
            &db,
            &scope,
            OrgSettingsChange { caller_number: Patch::Clear, ..Default::default() },
        )
        .await
        .unwrap();

        assert_eq!(updated.name, created.name);
        assert_eq!(updated.time_zone.name(), "America/Chicago");
        assert_eq!(updated.office_hours, hours);
        assert_eq!(updated.caller_number.as_ref().map(PhoneNumber::as_str), Some("+15555550100"));
        assert_eq!((updated.concurrent_call_limit, updated.calls_per_minute), (4, 10));
        assert!(updated.updated_at >= created.updated_at);
        assert_eq!(cleared.caller_number, None);
        assert_eq!(organizations::get(&db, &scope).await.unwrap(), cleared);
    })
    .await;
}

#[tokio::test]
async fn a_limit_beyond_the_column_is_refused() {
    on_each_backend(|db| async move {
        let (_, scope) = org(&db, "org_1").await;

        let err = organizations::update_settings(
            &db,
            &scope,
            OrgSettingsChange { calls_per_minute: Some(u32::MAX), ..Default::default() },
        )
        .await
        .unwrap_err();

        assert!(matches!(err, PersistenceError::Invalid { field: "calls_per_minute", .. }), "{err}");
    })
    .await;
}

#[tokio::test]
async fn a_stored_setting_that_does_not_parse_is_corrupt_not_a_default() {
    on_each_backend(|db| async move {
        let cases = [
            ("time_zone", "'Mars/Olympus'"),
            ("office_hours", r#"'{"monday": {"open": "17:00", "close": "09:00"}}'"#),
            ("caller_number", "'(312) 555-0100'"),
        ];
        for (i, (column, value)) in cases.into_iter().enumerate() {
            let (_, scope) = org(&db, &format!("org_{i}")).await;
            let sql = format!("UPDATE organizations SET {column} = {value} WHERE clerk_org_id = 'org_{i}'");
            db.execute_unprepared(&sql).await.unwrap();

            let err = organizations::get(&db, &scope).await.unwrap_err();

            assert!(
                matches!(err, PersistenceError::Corrupt { table: "organizations", column: c } if c == column),
                "{column}: {err}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_duplicate_clerk_org_id_is_a_conflict() {
    on_each_backend(|db| async move {
        organizations::create(&db, new_org("org_1", "Sunny", "sunny")).await.unwrap();

        let err = organizations::create(&db, new_org("org_1", "Other", "other")).await.unwrap_err();

        assert!(err.is_conflict_on(constraints::ORGANIZATIONS_CLERK_ORG_ID), "{err:?}");
    })
    .await;
}

#[tokio::test]
async fn a_created_org_reads_back_as_returned() {
    on_each_backend(|db| async move {
        let created = organizations::create(
            &db,
            NewOrganization {
                time_zone: Some("America/Denver".parse().unwrap()),
                calls_per_minute: Some(2),
                is_operator: true,
                ..new_org("org_1", "Rivvi", "rivvi")
            },
        )
        .await
        .unwrap();

        assert_eq!(organizations::get_by_id(&db, created.id).await.unwrap(), created);
        assert_eq!(created.calls_per_minute, 2);
    })
    .await;
}

#[tokio::test]
async fn operators_search_orgs_case_insensitively_by_name_slug_or_clerk_id() {
    on_each_backend(|db| async move {
        for (clerk, name, slug) in [
            ("org_aaa", "Sunny Clinic", "sunny"),
            ("org_bbb", "Valley Health", "valley"),
            ("org_ccc", "Hill 100% Care", "hill_care"),
            ("org_ddd", "Deleted Clinic", "gone"),
        ] {
            organizations::create(&db, new_org(clerk, name, slug)).await.unwrap();
        }
        soft_delete_org(&db, "org_ddd").await.unwrap();
        let names = |records: Vec<organizations::OrganizationRecord>| -> Vec<String> {
            records.into_iter().map(|record| record.name).collect()
        };

        let (all, total) = organizations::list(&db, None, 50, 0).await.unwrap();
        let (by_name, _) = organizations::list(&db, Some("CLINIC"), 50, 0).await.unwrap();
        let (by_slug, _) = organizations::list(&db, Some("valLEY"), 50, 0).await.unwrap();
        let (by_clerk, _) = organizations::list(&db, Some("ORG_CC"), 50, 0).await.unwrap();
        let (percent, _) = organizations::list(&db, Some("100%"), 50, 0).await.unwrap();
        let (literal_percent, _) = organizations::list(&db, Some("h%h"), 50, 0).await.unwrap();
        let (literal_underscore, _) = organizations::list(&db, Some("y_c"), 50, 0).await.unwrap();
        let (page, paged_total) = organizations::list(&db, None, 1, 1).await.unwrap();

        assert_eq!(total, 3);
        assert_eq!(names(all), ["Hill 100% Care", "Sunny Clinic", "Valley Health"]);
        assert_eq!(names(by_name), ["Sunny Clinic"]);
        assert_eq!(names(by_slug), ["Valley Health"]);
        assert_eq!(names(by_clerk), ["Hill 100% Care"]);
        assert_eq!(names(percent), ["Hill 100% Care"]);
        assert!(literal_percent.is_empty(), "`%` must not match `Valley Health`");
        assert!(literal_underscore.is_empty(), "`_` must not match `Sunny Clinic`");
        assert_eq!((names(page), paged_total), (vec!["Sunny Clinic".to_owned()], 3));
    })
    .await;
}
