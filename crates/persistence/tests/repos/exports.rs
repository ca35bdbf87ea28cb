use chrono::{TimeDelta, Utc};
use rivvi_domain::ids::{CallId, RunRowId};
use rivvi_domain::lifecycle::RowStatus;
use rivvi_persistence::calls::{self, CallChange, CallFilter, NewOutboundCall};
use rivvi_persistence::exports::{self, CallCursor};
use rivvi_persistence::run_rows::{self, NewRunRow, RowContent};
use rivvi_persistence::runs::{self, NewRun};
use rivvi_persistence::sealing::Keys;
use rivvi_persistence::testing::on_each_backend;
use rivvi_persistence::{OrgScope, Page, PersistenceError};
use sea_orm::DatabaseConnection;

use crate::org;

/// More than two pages of [`Page::MAX_LIMIT`].
const ROWS: u32 = 1_203;

async fn run_with_rows(db: &DatabaseConnection, scope: &OrgScope, keys: &Keys) -> (NewRun, Vec<RunRowId>) {
    let campaign =
        rivvi_persistence::campaigns::create(db, scope, &crate::campaigns::new_campaign("Reminders"), None)
            .await
            .unwrap();
    let new = NewRun {
        id: rivvi_domain::ids::RunId::new(),
        campaign_id: campaign.id,
        upload_id: None,
        name: "Import".to_owned(),
        status: rivvi_domain::lifecycle::RunStatus::Ready,
        instructions: None,
        scheduled_at: None,
        settings: serde_json::json!({}),
        client_request_id: None,
        created_by: None,
    };
    runs::create(db, scope, new.clone()).await.unwrap();
    let rows: Vec<NewRunRow> = (0..ROWS)
        .map(|i| NewRunRow {
            id: RunRowId::new(),
            patient_id: None,
            sort_index: i,
            sheet_row: i + 2,
            content: RowContent::default(),
            cells: vec![format!("{i:05}"), "=SUM(A1)".to_owned(), String::new()],
            status: RowStatus::Pending,
            skip_reason: None,
            duplicate_of: None,
        })
        .collect();
    run_rows::insert_many(db, scope, keys, new.id, &rows).await.unwrap();
    (new, rows.into_iter().map(|r| r.id).collect())
}

#[tokio::test]
async fn header_rows_are_sealed_per_run_and_not_found_in_another_organization() {
    on_each_backend(|db| async move {
        let keys = Keys::generate().unwrap();
        let (_, scope) = org(&db, "org_a").await;
        let (_, other) = org(&db, "org_b").await;
        let (run, _) = run_with_rows(&db, &scope, &keys).await;
        let headers = vec!["MRN".to_owned(), String::new(), "Prénom, \"nom\"".to_owned()];

        let before = runs::headers(&db, &scope, &keys, run.id).await.unwrap();
        runs::store_headers(&db, &scope, &keys, run.id, &headers).await.unwrap();
        let after = runs::headers(&db, &scope, &keys, run.id).await.unwrap();
        let read_elsewhere = runs::headers(&db, &other, &keys, run.id).await.unwrap_err();
        let stored_elsewhere = runs::store_headers(&db, &other, &keys, run.id, &headers).await.unwrap_err();

        assert_eq!(before, None, "no header row kept yet");
        assert_eq!(after, Some(headers));
        assert!(matches!(read_elsewhere, PersistenceError::NotFound { entity: "run", .. }));
        assert!(matches!(stored_elsewhere, PersistenceError::NotFound { entity: "run", .. }));
    })
    .await;
}

#[tokio::test]
async fn run_rows_page_by_sort_index_with_their_last_call() {
    on_each_backend(|db| async move {
        let keys = Keys::generate().unwrap();
        let (_, scope) = org(&db, "org_a").await;
        let (_, other) = org(&db, "org_b").await;
        let (run, row_ids) = run_with_rows(&db, &scope, &keys).await;
        let t0 = Utc::now();
        for attempt in [1, 2] {
            let call = calls::create_outbound(
                &db,
                &scope,
                &keys,
                NewOutboundCall {
                    id: CallId::new(),
                    run_id: run.id,
                    row_id: row_ids[1],
                    campaign_id: run.campaign_id,
                    patient_id: None,
                    attempt,
                    from_number: "+13125550100".into(),
                    to_number: "+13125550143".into(),
                    local: None,
                    created_at: t0 + TimeDelta::minutes(i64::from(attempt)),
                },
            )
            .await
            .unwrap();
            let change = CallChange { summary: Some(format!("attempt {attempt}")), ..CallChange::default() };
            let status = call.status;
            calls::update(&db, &scope, &keys, call.id, status, None, change, t0).await.unwrap();
        }

        let mut read = Vec::new();
        let mut after = None;
        loop {
            let page =
                exports::run_rows_after(&db, &scope, &keys, run.id, after, Page::MAX_LIMIT).await.unwrap();
            let Some(last) = page.last() else { break };
            after = Some(last.sort_index);
            read.extend(page);
        }
        let count = exports::count_run_rows(&db, &scope, run.id).await.unwrap();
        let elsewhere = exports::run_rows_after(&db, &other, &keys, run.id, None, 10).await.unwrap();

        assert_eq!(count, u64::from(ROWS));
        assert_eq!(read.len(), usize::try_from(ROWS).unwrap());
        assert!(read.iter().enumerate().all(|(i, r)| r.sort_index as usize == i && r.id == row_ids[i]));
        assert_eq!(read[7].cells, ["00007", "=SUM(A1)", ""]);
        let last_call = read[1].last_call.as_ref().expect("row 1 was called");
        assert_eq!((last_call.attempt, last_call.summary.as_deref()), (2, Some("attempt 2")));
        assert!(read[0].last_call.is_none());
        assert!(elsewhere.is_empty(), "another organization's run has no rows for it");
    })
    .await;
}

#[tokio::test]
async fn calls_page_newest_first_through_equal_creation_times() {
    on_each_backend(|db| async move {
        let keys = Keys::generate().unwrap();
        let (_, scope) = org(&db, "org_a").await;
        let (run, row_ids) = run_with_rows(&db, &scope, &keys).await;
        let t0 = Utc::now();
        // Five calls in the same instant and two later: the cursor must break ties by id.
        for (i, row) in row_ids.iter().take(7).enumerate() {
            let minutes = if i < 5 { 0 } else { i64::try_from(i).unwrap() };
            calls::create_outbound(
                &db,
                &scope,
                &keys,
                NewOutboundCall {
                    id: CallId::new(),
                    run_id: run.id,
                    row_id: *row,
                    campaign_id: run.campaign_id,
                    patient_id: None,
                    attempt: 1,
                    from_number: "+13125550100".into(),
                    to_number: format!("+1312555017{i}"),
                    local: None,
                    created_at: t0 + TimeDelta::minutes(minutes),
                },
            )
            .await
            .unwrap();
        }
        let filter = CallFilter { run_id: Some(run.id), ..CallFilter::default() };

        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let page = exports::calls_after(&db, &scope, &keys, &filter, after, 2).await.unwrap();
            let Some(last) = page.last() else { break };
            after = Some(CallCursor::after(last));
            paged.extend(page);
        }
        let (listed, _) = calls::list(&db, &scope, &keys, &filter, Page::new(100, 0)).await.unwrap();
        let count = exports::count_calls(&db, &scope, &filter).await.unwrap();

        let ids = |calls: Vec<rivvi_persistence::calls::CallListEntry>| -> Vec<CallId> {
            calls.into_iter().map(|c| c.call.id).collect()
        };
        assert_eq!(ids(paged.iter().map(|c| c.entry.clone()).collect()), ids(listed));
        assert_eq!(count, 7);
        assert_eq!(paged[0].entry.patient_phone_last4, "0176");
    })
    .await;
}
