use std::collections::BTreeMap;

use rivvi_domain::ids::{PatientId, RunId, RunRowId};
use rivvi_domain::lifecycle::{RowStatus, RunStatus};
use rivvi_persistence::campaigns;
use rivvi_persistence::patients::{self, PatientFields, PatientIdentity};
use rivvi_persistence::run_rows::{self, NewRunRow, RowContent, RowIssue};
use rivvi_persistence::runs::{self, NewRun};
use rivvi_persistence::sealing::Keys;
use rivvi_persistence::testing::on_each_backend;
use rivvi_persistence::{OrgScope, Page};
use sea_orm::DatabaseConnection;
use serde_json::json;

use crate::org;

/// More than two of PostgreSQL's bulk chunks (5,000 rows), so rows go in several statements.
const ROWS: usize = 10_007;

async fn new_run(db: &DatabaseConnection, scope: &OrgScope) -> RunId {
    let campaign =
        campaigns::create(db, scope, &crate::campaigns::new_campaign("Reminders"), None).await.unwrap();
    let run = runs::create(
        db,
        scope,
        NewRun {
            id: RunId::new(),
            campaign_id: campaign.id,
            upload_id: None,
            name: "Import".to_owned(),
            status: RunStatus::Ready,
            instructions: None,
            scheduled_at: None,
            settings: json!({}),
            client_request_id: None,
            created_by: None,
        },
    )
    .await
    .unwrap();
    run.id
}

async fn some_patients(db: &DatabaseConnection, scope: &OrgScope, keys: &Keys) -> Vec<PatientId> {
    let identities: Vec<PatientIdentity> = (0..3)
        .map(|i| PatientIdentity {
            fields: PatientFields {
                first_name: format!("Zoë {i}"),
                last_name: "O'Brien".to_owned(),
                birth_date: "1985-03-04".to_owned(),
                phone: format!("+1312555014{i}"),
                secondary_phone: None,
                mrn: None,
            },
            canonical: format!("zoe {i}|obrien|1985-03-04|+1312555014{i}"),
        })
        .collect();
    patients::find_or_create_many(db, scope, keys, &identities).await.unwrap()
}

/// Every shape a row can have: with and without a patient, skipped with a reason (one of them
/// empty, which is not the same as none), duplicates of earlier rows, no cells, quotes and accents.
fn rows(patients: &[PatientId]) -> Vec<NewRunRow> {
    let ids: Vec<RunRowId> = (0..ROWS).map(|_| RunRowId::new()).collect();
    (0..ROWS)
        .map(|i| {
            let duplicate = i % 11 == 5;
            let invalid = i % 13 == 7;
            let mut variables = BTreeMap::new();
            if !i.is_multiple_of(17) {
                variables.insert("first_name".to_owned(), format!("Zoë \"{i}\""));
                variables.insert("appointment_date".to_owned(), "2026-12-01".to_owned());
            }
            NewRunRow {
                id: ids[i],
                patient_id: (!i.is_multiple_of(3)).then(|| patients[i % patients.len()]),
                sort_index: u32::try_from(i).unwrap(),
                sheet_row: u32::try_from(i + 2).unwrap(),
                content: RowContent {
                    variables,
                    issues: if invalid {
                        vec![RowIssue { field: "phone".to_owned(), reason: format!("'{i}' is not a phone") }]
                    } else {
                        Vec::new()
                    },
                },
                cells: if i.is_multiple_of(19) {
                    Vec::new()
                } else {
                    vec![format!("Zoë {i}"), String::new(), "O'Brien, \"Jr\"\n".to_owned(), "\\".to_owned()]
                },
                status: if duplicate || invalid { RowStatus::Skipped } else { RowStatus::Pending },
                skip_reason: match (duplicate, invalid) {
                    (true, _) => Some("duplicate".to_owned()),
                    (false, true) if i.is_multiple_of(2) => Some(String::new()),
                    (false, true) => Some("invalid".to_owned()),
                    (false, false) => None,
                },
                duplicate_of: duplicate.then(|| ids[i - 1]),
            }
        })
        .collect()
}

#[tokio::test]
async fn rows_inserted_in_several_chunks_read_back_exactly() {
    on_each_backend(|db| async move {
        let keys = Keys::generate().unwrap();
        let (_, scope) = org(&db, "org_a").await;
        let run_id = new_run(&db, &scope).await;
        let patients = some_patients(&db, &scope, &keys).await;
        let rows = rows(&patients);

        run_rows::insert_many(&db, &scope, &keys, run_id, &rows).await.unwrap();

        let mut stored = Vec::with_capacity(ROWS);
        loop {
            let page = Page::new(Page::MAX_LIMIT, u64::try_from(stored.len()).unwrap());
            let (records, total) = run_rows::list(&db, &scope, &keys, run_id, None, page).await.unwrap();
            assert_eq!(total, u64::try_from(ROWS).unwrap());
            if records.is_empty() {
                break;
            }
            stored.extend(records);
        }
        assert_eq!(stored.len(), ROWS);
        let created_at = stored[0].created_at;
        for (record, row) in stored.iter().zip(&rows) {
            assert_eq!(record.id, row.id);
            assert_eq!(record.run_id, run_id);
            assert_eq!(record.patient_id, row.patient_id, "row {}", row.sort_index);
            assert_eq!(record.sort_index, row.sort_index);
            assert_eq!(record.sheet_row, row.sheet_row);
            assert_eq!(record.content, row.content, "row {}", row.sort_index);
            assert_eq!(record.cells, row.cells, "row {}", row.sort_index);
            assert_eq!(record.status, row.status);
            assert_eq!(record.skip_reason, row.skip_reason, "row {}", row.sort_index);
            assert_eq!(record.duplicate_of, row.duplicate_of, "row {}", row.sort_index);
            assert_eq!(record.attempts, 0);
            assert_eq!(record.next_attempt_at, None);
            assert_eq!(record.outcome, None);
            assert_eq!(record.last_error, None);
            assert_eq!((record.created_at, record.updated_at), (created_at, created_at));
        }
        let counts = run_rows::counts_by_status(&db, &scope, run_id).await.unwrap();
        let pending = rows.iter().filter(|r| r.status == RowStatus::Pending).count();
        assert!(counts.contains(&(RowStatus::Pending, u64::try_from(pending).unwrap())), "{counts:?}");
        assert!(counts.contains(&(RowStatus::Skipped, u64::try_from(ROWS - pending).unwrap())), "{counts:?}");
    })
    .await;
}
