use rivvi_persistence::testing::on_each_backend;
use rivvi_persistence::webhook_events::{find, mark_processed, record_once};
use sea_orm::TransactionTrait;

#[tokio::test]
async fn a_replayed_webhook_is_recognised() {
    on_each_backend(|db| async move {
        let first = record_once(&db, "clerk", "msg_1").await.unwrap();
        let replay = record_once(&db, "clerk", "msg_1").await.unwrap();
        let other_source = record_once(&db, "retell", "msg_1").await.unwrap();

        assert!(first.first_time);
        assert!(!replay.first_time);
        assert_eq!(replay.id, first.id);
        assert!(other_source.first_time);
    })
    .await;
}

#[tokio::test]
async fn a_processed_webhook_keeps_its_outcome() {
    on_each_backend(|db| async move {
        let receipt = record_once(&db, "retell", "call_1:call_ended").await.unwrap();

        mark_processed(&db, receipt.id, "applied").await.unwrap();

        let stored = find(&db, "retell", "call_1:call_ended").await.unwrap().unwrap();
        assert_eq!(stored.outcome.as_deref(), Some("applied"));
        assert!(stored.processed_at.is_some_and(|at| at >= stored.received_at));
        assert!(mark_processed(&db, uuid::Uuid::now_v7(), "applied").await.is_err());
    })
    .await;
}

#[tokio::test]
async fn an_event_whose_handling_rolled_back_counts_as_new_on_retry() {
    on_each_backend(|db| async move {
        let txn = db.begin().await.unwrap();
        assert!(record_once(&txn, "clerk", "msg_1").await.unwrap().first_time);
        txn.rollback().await.unwrap();

        let txn = db.begin().await.unwrap();
        let retry = record_once(&txn, "clerk", "msg_1").await.unwrap();
        txn.commit().await.unwrap();

        assert!(retry.first_time);
        assert!(!record_once(&db, "clerk", "msg_1").await.unwrap().first_time);
    })
    .await;
}
