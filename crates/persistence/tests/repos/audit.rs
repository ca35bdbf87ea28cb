use chrono::Duration;
use rivvi_domain::ids::UserId;
use rivvi_persistence::audit::{self, AuditActor, AuditFilter, AuditRecord};
use rivvi_persistence::testing::on_each_backend;
use rivvi_persistence::Page;

use crate::{org, user};

fn entry(org: Option<rivvi_domain::ids::OrgId>, actor: AuditActor, entity_id: &str) -> AuditRecord {
    AuditRecord {
        org,
        actor,
        action: "campaign.update".to_owned(),
        entity_type: "campaign".to_owned(),
        entity_id: Some(entity_id.to_owned()),
        changed_fields: vec!["base_prompt".to_owned(), "status".to_owned()],
        request_id: Some("req-1".to_owned()),
    }
}

#[tokio::test]
async fn audit_entries_read_back_newest_first_within_the_org() {
    on_each_backend(|db| async move {
        let (clinic, scope) = org(&db, "org_a").await;
        let (other, _) = org(&db, "org_b").await;
        let ann = user(&db, "user_ann").await;
        let actor = AuditActor::User { user_id: ann.id, label: "Ann Lee".into() };
        let first = audit::record(&db, entry(Some(clinic.id), actor.clone(), "c1")).await.unwrap();
        let second = audit::record(&db, entry(Some(clinic.id), actor.clone(), "c2")).await.unwrap();
        audit::record(&db, entry(Some(other.id), actor.clone(), "c3")).await.unwrap();
        audit::record(&db, entry(None, AuditActor::System { label: "engine".into() }, "c4")).await.unwrap();

        let (entries, total) = audit::list(&db, &scope, &AuditFilter::default()).await.unwrap();

        assert_eq!(total, 2);
        assert_eq!(entries, vec![second, first.clone()]);
        assert_eq!(first.actor, actor);
        assert_eq!(first.changed_fields, ["base_prompt", "status"]);
    })
    .await;
}

#[tokio::test]
async fn audit_list_filters_by_entity_actor_and_time() {
    on_each_backend(|db| async move {
        let (clinic, scope) = org(&db, "org_a").await;
        let ann = user(&db, "user_ann").await;
        let bob = user(&db, "user_bob").await;
        let as_ann = AuditActor::User { user_id: ann.id, label: "Ann".into() };
        let as_bob = AuditActor::SuperAdmin { user_id: bob.id, label: "Bob (Rivvi)".into() };
        let ann_c1 = audit::record(&db, entry(Some(clinic.id), as_ann.clone(), "c1")).await.unwrap();
        let bob_c1 = audit::record(&db, entry(Some(clinic.id), as_bob.clone(), "c1")).await.unwrap();
        let ann_c2 = audit::record(&db, entry(Some(clinic.id), as_ann, "c2")).await.unwrap();
        let webhook = audit::record(
            &db,
            AuditRecord {
                entity_type: "membership".into(),
                entity_id: None,
                ..entry(Some(clinic.id), AuditActor::Webhook { source: "clerk".into() }, "")
            },
        )
        .await
        .unwrap();
        let ids = |filter: AuditFilter| {
            let db = db.clone();
            async move {
                let (entries, total) = audit::list(&db, &scope, &filter).await.unwrap();
                (entries.into_iter().map(|e| e.id).collect::<Vec<_>>(), total)
            }
        };

        let by_entity = ids(AuditFilter {
            entity_type: Some("campaign".into()),
            entity_id: Some("c1".into()),
            ..Default::default()
        })
        .await;
        let by_type = ids(AuditFilter { entity_type: Some("membership".into()), ..Default::default() }).await;
        let by_actor = ids(AuditFilter { actor_user_id: Some(ann.id), ..Default::default() }).await;
        let nobody = ids(AuditFilter { actor_user_id: Some(UserId::new()), ..Default::default() }).await;
        let from_bob = ids(AuditFilter { from: Some(bob_c1.created_at), ..Default::default() }).await;
        let before_bob = ids(AuditFilter { to: Some(bob_c1.created_at), ..Default::default() }).await;
        let window = ids(AuditFilter {
            from: Some(ann_c1.created_at - Duration::hours(1)),
            to: Some(ann_c1.created_at + Duration::hours(1)),
            page: Page::new(2, 1),
            ..Default::default()
        })
        .await;

        assert_eq!(by_entity, (vec![bob_c1.id, ann_c1.id], 2));
        assert_eq!(by_type, (vec![webhook.id], 1));
        assert_eq!(by_actor, (vec![ann_c2.id, ann_c1.id], 2));
        assert_eq!(nobody, (vec![], 0));
        // Entries may share a microsecond; `from` is inclusive, `to` exclusive.
        assert!(from_bob.0.contains(&bob_c1.id) && from_bob.0.contains(&webhook.id));
        assert!(!from_bob.0.contains(&ann_c1.id) || ann_c1.created_at == bob_c1.created_at);
        assert!(!before_bob.0.contains(&bob_c1.id) && !before_bob.0.contains(&webhook.id));
        assert_eq!(window, (vec![ann_c2.id, bob_c1.id], 4));
    })
    .await;
}
