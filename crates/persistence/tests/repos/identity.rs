use rivvi_domain::Role;
use rivvi_persistence::identity::{
    delete_membership, find_membership, find_org_by_clerk_id, find_user_by_clerk_id, list_members,
    soft_delete_org, soft_delete_user, upsert_membership, upsert_org_by_clerk_id, upsert_user_by_clerk_id,
    UserProfile,
};
use rivvi_persistence::organizations::{default_office_hours, DEFAULT_TIME_ZONE};
use rivvi_persistence::testing::on_each_backend;
use rivvi_persistence::{Page, PersistenceError};

use crate::{org, user};

fn profile(first: &str) -> UserProfile {
    UserProfile {
        email: Some(format!("{}@example.com", first.to_lowercase())),
        first_name: Some(first.to_owned()),
        last_name: Some("Lee".to_owned()),
        image_url: None,
    }
}

#[tokio::test]
async fn a_user_created_just_in_time_is_filled_in_by_the_webhook() {
    on_each_backend(|db| async move {
        let created = upsert_user_by_clerk_id(&db, "user_1", None).await.unwrap();
        assert_eq!(created.email, None);

        let updated = upsert_user_by_clerk_id(&db, "user_1", Some(&profile("Ann"))).await.unwrap();

        assert_eq!(updated.id, created.id);
        assert_eq!(updated.first_name.as_deref(), Some("Ann"));
        assert_eq!(updated.email.as_deref(), Some("ann@example.com"));
        assert_eq!(find_user_by_clerk_id(&db, "user_1").await.unwrap(), Some(updated));
    })
    .await;
}

#[tokio::test]
async fn a_sign_in_without_a_profile_leaves_a_known_user_untouched() {
    on_each_backend(|db| async move {
        let known = upsert_user_by_clerk_id(&db, "user_1", Some(&profile("Ann"))).await.unwrap();

        let again = upsert_user_by_clerk_id(&db, "user_1", None).await.unwrap();

        assert_eq!(again, known);
    })
    .await;
}

#[tokio::test]
async fn a_deleted_user_stays_deleted_when_a_late_update_arrives() {
    on_each_backend(|db| async move {
        upsert_user_by_clerk_id(&db, "user_1", Some(&profile("Ann"))).await.unwrap();
        assert!(soft_delete_user(&db, "user_1").await.unwrap());
        let deleted_at = find_user_by_clerk_id(&db, "user_1").await.unwrap().unwrap().deleted_at;
        assert!(deleted_at.is_some());

        let late = upsert_user_by_clerk_id(&db, "user_1", Some(&profile("Bea"))).await.unwrap();
        assert!(soft_delete_user(&db, "user_1").await.unwrap());

        assert_eq!(late.deleted_at, deleted_at);
        assert_eq!(find_user_by_clerk_id(&db, "user_1").await.unwrap().unwrap().deleted_at, deleted_at);
        assert!(!soft_delete_user(&db, "user_unknown").await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn an_org_created_just_in_time_gets_defaults_and_a_name_from_its_slug_or_clerk_id() {
    on_each_backend(|db| async move {
        let by_slug = upsert_org_by_clerk_id(&db, "org_1", None, Some("sunny-clinic"), false).await.unwrap();
        let by_id = upsert_org_by_clerk_id(&db, "org_2", None, None, false).await.unwrap();

        assert_eq!(by_slug.name, "sunny-clinic");
        assert_eq!(by_id.name, "org_2");
        assert_eq!(by_id.time_zone, DEFAULT_TIME_ZONE);
        assert_eq!(by_id.office_hours, default_office_hours());
        assert_eq!((by_id.concurrent_call_limit, by_id.calls_per_minute), (20, 10));
        assert!(!by_id.is_operator);
    })
    .await;
}

#[tokio::test]
async fn an_org_upsert_updates_only_the_fields_it_is_given() {
    on_each_backend(|db| async move {
        let first =
            upsert_org_by_clerk_id(&db, "org_1", Some("Sunny Clinic"), Some("sunny"), false).await.unwrap();

        let jit = upsert_org_by_clerk_id(&db, "org_1", None, None, true).await.unwrap();

        assert_eq!(jit.id, first.id);
        assert_eq!((jit.name.as_str(), jit.slug.as_deref()), ("Sunny Clinic", Some("sunny")));
        assert!(jit.is_operator);
        assert_eq!(find_org_by_clerk_id(&db, "org_1").await.unwrap(), Some(jit));
    })
    .await;
}

#[tokio::test]
async fn a_soft_deleted_org_keeps_its_row() {
    on_each_backend(|db| async move {
        let (created, _) = org(&db, "org_1").await;

        assert!(soft_delete_org(&db, "org_1").await.unwrap());

        let kept = find_org_by_clerk_id(&db, "org_1").await.unwrap().unwrap();
        assert_eq!(kept.id, created.id);
        assert!(kept.deleted_at.is_some());
        assert!(!soft_delete_org(&db, "org_unknown").await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn membership_upsert_is_idempotent() {
    on_each_backend(|db| async move {
        let (clinic, scope) = org(&db, "org_1").await;
        let ann = user(&db, "user_1").await;

        let first = upsert_membership(&db, clinic.id, ann.id, Role::Member, Some("orgmem_1")).await.unwrap();
        let replay = upsert_membership(&db, clinic.id, ann.id, Role::Member, Some("orgmem_1")).await.unwrap();
        let promoted = upsert_membership(&db, clinic.id, ann.id, Role::Admin, None).await.unwrap();

        assert_eq!(replay.id, first.id);
        assert_eq!(promoted.id, first.id);
        assert_eq!(promoted.role, Role::Admin);
        assert_eq!(
            promoted.clerk_membership_id.as_deref(),
            Some("orgmem_1"),
            "a JIT upsert keeps the Clerk id"
        );
        let (members, total) = list_members(&db, &scope, Page::default()).await.unwrap();
        assert_eq!(total, 1);
        assert_eq!(members[0].user.id, ann.id);
        assert_eq!(members[0].role, Role::Admin);
    })
    .await;
}

#[tokio::test]
async fn super_admin_is_not_a_membership_role() {
    on_each_backend(|db| async move {
        let (clinic, _) = org(&db, "org_1").await;
        let ann = user(&db, "user_1").await;

        let err = upsert_membership(&db, clinic.id, ann.id, Role::SuperAdmin, None).await.unwrap_err();

        assert!(matches!(err, PersistenceError::Invalid { field: "role", .. }), "{err}");
        assert_eq!(find_membership(&db, clinic.id, ann.id).await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn a_deleted_membership_is_gone_and_deleting_again_is_harmless() {
    on_each_backend(|db| async move {
        let (clinic, scope) = org(&db, "org_1").await;
        let ann = user(&db, "user_1").await;
        upsert_membership(&db, clinic.id, ann.id, Role::Member, None).await.unwrap();

        assert!(delete_membership(&db, clinic.id, ann.id).await.unwrap());
        assert!(!delete_membership(&db, clinic.id, ann.id).await.unwrap());

        assert_eq!(list_members(&db, &scope, Page::default()).await.unwrap().1, 0);
    })
    .await;
}

#[tokio::test]
async fn members_are_listed_per_org_in_pages_without_deleted_users() {
    on_each_backend(|db| async move {
        let (clinic, scope) = org(&db, "org_1").await;
        let (other, _) = org(&db, "org_2").await;
        for n in 0..5 {
            let person = user(&db, &format!("user_{n}")).await;
            upsert_membership(&db, clinic.id, person.id, Role::Member, None).await.unwrap();
        }
        let outsider = user(&db, "user_other").await;
        upsert_membership(&db, other.id, outsider.id, Role::Admin, None).await.unwrap();
        soft_delete_user(&db, "user_4").await.unwrap();

        let (first_page, total) = list_members(&db, &scope, Page::new(3, 0)).await.unwrap();
        let (second_page, _) = list_members(&db, &scope, Page::new(3, 3)).await.unwrap();

        assert_eq!(total, 4);
        let names: Vec<_> =
            first_page.iter().chain(&second_page).map(|member| member.user.clerk_user_id.as_str()).collect();
        assert_eq!(names, ["user_0", "user_1", "user_2", "user_3"]);
    })
    .await;
}
