//! Data key rotation: every sealed value of the database moved to the active key of
//! `RIVVI_DATA_KEY`, online.
//!
//! [`SEALED`] lists every sealed column (a test checks it against the migrated schema, so a new
//! sealed column cannot be forgotten). [`reseal_batch`] walks one table in id order, a batch per
//! transaction: each value whose header names another key id is opened (with its table, column
//! and row as associated data, as it was sealed) and sealed again with the active key; values
//! already on it are left alone, so an interrupted rotation that is run again only does what is
//! left. On PostgreSQL a batch locks its rows with `SKIP LOCKED` (the engine and the API keep
//! working on other rows; a row skipped because it was locked is counted by the next
//! [`census`]). [`census`] counts values by key id: a key may leave `RIVVI_DATA_KEY` once no
//! value names it.

use std::collections::BTreeMap;

use sea_orm::sea_query::{Alias, Expr, LockBehavior, LockType, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait, Value};
use uuid::Uuid;

use crate::sealing::{Aad, Sealer};
use crate::Result;

/// One table's sealed columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedTable {
    pub table: &'static str,
    pub columns: &'static [&'static str],
    /// A column naming the key that sealed the row's values, kept in step (`patients.key_id`).
    pub key_id_column: Option<&'static str>,
}

/// Every sealed column of the schema.
pub const SEALED: &[SealedTable] = &[
    SealedTable {
        table: "patients",
        columns: &[
            "first_name_sealed",
            "last_name_sealed",
            "dob_sealed",
            "phone_sealed",
            "secondary_phone_sealed",
            "mrn_sealed",
        ],
        key_id_column: Some("key_id"),
    },
    SealedTable {
        table: "run_rows",
        columns: &["variables_sealed", "cells_sealed", "analysis_sealed"],
        key_id_column: None,
    },
    SealedTable { table: "runs", columns: &["headers_sealed"], key_id_column: None },
    SealedTable {
        table: "calls",
        columns: &[
            "from_number_sealed",
            "to_number_sealed",
            "transcript_sealed",
            "summary_sealed",
            "recording_url_sealed",
            "analysis_sealed",
        ],
        key_id_column: None,
    },
    SealedTable { table: "patient_phones", columns: &["phone_sealed"], key_id_column: None },
    SealedTable { table: "do_not_call", columns: &["number_sealed"], key_id_column: None },
    SealedTable { table: "uploads", columns: &["file_name_sealed"], key_id_column: None },
];

/// Rows per transaction.
pub const BATCH: u64 = 500;

/// What one batch did: the last row it looked at (`None`: no row after `after`), how many rows
/// it read and how many values it re-sealed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub last: Option<Uuid>,
    pub rows: u64,
    pub resealed: u64,
}

/// Re-seals, with the active key, the values of up to `batch` rows of `table` after `after` (in
/// id order) that another key sealed.
#[tracing::instrument(level = "debug", skip_all, fields(table = table.table), err(level = "debug"))]
pub async fn reseal_batch(
    db: &DatabaseConnection,
    sealer: &Sealer,
    table: &SealedTable,
    after: Option<Uuid>,
    batch: u64,
) -> Result<BatchOutcome> {
    let txn = db.begin().await?;
    let rows = read_batch(&txn, table, after, batch, true).await?;
    let active = sealer.active_key_id();
    let mut outcome =
        BatchOutcome { last: rows.last().map(|(id, _)| *id), rows: rows.len() as u64, resealed: 0 };
    for (id, values) in rows {
        let mut update = Query::update();
        update.table(Alias::new(table.table));
        let mut changed = false;
        for (column, sealed) in table.columns.iter().zip(values) {
            let Some(sealed) = sealed else { continue };
            if Sealer::key_id_of(&sealed)? == active {
                continue;
            }
            let aad = Aad { table: table.table, column, row_id: id };
            let resealed = sealer.seal(&aad, &sealer.open(&aad, &sealed)?)?;
            update.value(Alias::new(*column), resealed);
            changed = true;
            outcome.resealed += 1;
        }
        if let Some(key_id_column) = table.key_id_column {
            // Also when no value changed: the row's values are all on the active key now.
            update.value(Alias::new(key_id_column), active);
            changed = true;
        }
        if changed {
            update.and_where(Expr::col(Alias::new("id")).eq(id));
            txn.execute(txn.get_database_backend().build(&update)).await?;
        }
    }
    txn.commit().await?;
    Ok(outcome)
}

/// Sealed values of the whole database by key id, per `table.column`.
pub type Census = BTreeMap<String, BTreeMap<String, u64>>;

/// Counts every sealed value by the key id its header names, reading `batch` rows at a time.
#[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
pub async fn census(db: &DatabaseConnection, batch: u64) -> Result<Census> {
    let mut census = Census::new();
    for table in SEALED {
        let mut after = None;
        loop {
            let rows = read_batch(db, table, after, batch.max(1), false).await?;
            let Some((last, _)) = rows.last() else { break };
            after = Some(*last);
            for (_, values) in rows {
                for (column, sealed) in table.columns.iter().zip(values) {
                    let Some(sealed) = sealed else { continue };
                    let key_id = Sealer::key_id_of(&sealed)?.to_owned();
                    let place = format!("{}.{column}", table.table);
                    *census.entry(place).or_default().entry(key_id).or_default() += 1;
                }
            }
        }
    }
    Ok(census)
}

/// How many values of `census` a key other than `active` sealed.
pub fn left_on_other_keys(census: &Census, active: &str) -> u64 {
    census.values().flat_map(|by_key| by_key.iter()).filter(|(key, _)| *key != active).map(|(_, n)| n).sum()
}

/// `(id, sealed values in the order of table.columns)` of up to `batch` rows after `after`.
async fn read_batch(
    conn: &impl ConnectionTrait,
    table: &SealedTable,
    after: Option<Uuid>,
    batch: u64,
    lock: bool,
) -> Result<Vec<(Uuid, Vec<Option<Vec<u8>>>)>> {
    let mut select = Query::select();
    select.from(Alias::new(table.table)).column(Alias::new("id"));
    for column in table.columns {
        select.column(Alias::new(*column));
    }
    if let Some(after) = after {
        select.and_where(Expr::col(Alias::new("id")).gt(Value::from(after)));
    }
    select.order_by(Alias::new("id"), sea_orm::Order::Asc).limit(batch);
    if lock {
        select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let rows = conn.query_all(conn.get_database_backend().build(&select)).await?;
    rows.iter()
        .map(|row| {
            let id: Uuid = row.try_get("", "id")?;
            let values = table
                .columns
                .iter()
                .map(|column| row.try_get::<Option<Vec<u8>>>("", column))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            Ok((id, values))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use sea_orm::Statement;

    use super::*;
    use crate::calls::tests::{call, fixture_sealed_with};
    use crate::calls::{self as call_repo, CallChange};
    use crate::sealing::{Keyring, Keys};
    use crate::testing::on_each_backend;
    use crate::{do_not_call, patients};

    /// Every `bytea`/`blob` column of the migrated schema, as `table.column`.
    async fn blob_columns(db: &DatabaseConnection) -> BTreeSet<String> {
        let backend = db.get_database_backend();
        let sql = match backend {
            sea_orm::DbBackend::Postgres => {
                "SELECT table_name AS t, column_name AS c FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND data_type = 'bytea'"
            }
            _ => {
                "SELECT m.name AS t, p.name AS c FROM sqlite_master m JOIN pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND lower(p.type) = 'blob'"
            }
        };
        let rows = db.query_all(Statement::from_string(backend, sql)).await.unwrap();
        rows.iter()
            .map(|r| {
                format!("{}.{}", r.try_get::<String>("", "t").unwrap(), r.try_get::<String>("", "c").unwrap())
            })
            .collect()
    }

    #[tokio::test]
    async fn every_sealed_column_of_the_schema_is_rotated() {
        on_each_backend(|db| async move {
            let listed: BTreeSet<String> = SEALED
                .iter()
                .flat_map(|t| t.columns.iter().map(move |c| format!("{}.{c}", t.table)))
                .collect();
            assert_eq!(blob_columns(&db).await, listed);
        })
        .await;
    }

    fn with_keys(keys: &Keys, ring: Vec<(&str, [u8; 32])>) -> Keys {
        let ring = Keyring::from_keys(ring.into_iter().map(|(id, k)| (id.to_owned(), k)).collect()).unwrap();
        Keys { sealer: Sealer::new(ring), ..keys.clone() }
    }

    #[tokio::test]
    async fn an_interrupted_rotation_rerun_leaves_every_value_readable_with_the_new_key() {
        on_each_backend(|db| async move {
            // Arrange: values sealed with key `old`: a patient, a do-not-call entry, two calls with
            // a transcript.
            let (old_key, new_key) = ([1u8; 32], [2u8; 32]);
            let old = with_keys(&Keys::generate().unwrap(), vec![("old", old_key)]);
            let f = fixture_sealed_with(&db, "org_rotation", old.clone()).await;
            let identity = patients::PatientIdentity {
                canonical: "grace|hopper|1906-12-09|+13125550150".into(),
                fields: patients::PatientFields {
                    first_name: "Grace".into(),
                    last_name: "Hopper".into(),
                    birth_date: "1906-12-09".into(),
                    phone: "+13125550150".into(),
                    secondary_phone: None,
                    mrn: Some("MRN-1".into()),
                },
            };
            let (patient, _) = patients::find_or_create(&db, &f.scope, &old, &identity).await.unwrap();
            // Grace again, by her MRN, with another number: a contact point.
            let mut new_number = identity.clone();
            new_number.fields.phone = "+13125550151".into();
            let resolved =
                patients::resolve_many(&db, &f.scope, &old, &[new_number], patients::PhoneSource::Upload)
                    .await
                    .unwrap();
            assert_eq!(resolved.added_phones.len(), 1);
            do_not_call::add(&db, &f.scope, &old, "+13125550150", "asked", None, f.t0).await.unwrap();
            let mut placed = Vec::new();
            for row in 0..2 {
                let c = call(&db, &f, row, 1, true, 0).await.unwrap();
                let change =
                    CallChange { transcript: Some(format!("Agent: Hi Grace {row}")), ..Default::default() };
                call_repo::update(
                    &db,
                    &f.scope,
                    &old,
                    c.id,
                    c.status,
                    Some(rivvi_domain::lifecycle::CallEvent::Start),
                    change,
                    f.t0,
                )
                .await
                .unwrap();
                placed.push(c.id);
            }
            let rotating = with_keys(&f.keys, vec![("new", new_key), ("old", old_key)]);
            let before = census(&db, BATCH).await.unwrap();
            assert!(left_on_other_keys(&before, "new") > 0);

            // Act: a rotation stopped after one batch of one row per table, then run again.
            for table in SEALED {
                reseal_batch(&db, &rotating.sealer, table, None, 1).await.unwrap();
            }
            let halfway = census(&db, BATCH).await.unwrap();
            let mut resealed = 0;
            for table in SEALED {
                let mut after = None;
                loop {
                    let batch = reseal_batch(&db, &rotating.sealer, table, after, 2).await.unwrap();
                    resealed += batch.resealed;
                    match batch.last {
                        Some(last) => after = Some(last),
                        None => break,
                    }
                }
            }
            let after = census(&db, BATCH).await.unwrap();

            // Assert: half way, some values were on each key; afterwards none is left on `old`,
            // and everything opens with the new key alone.
            assert!(left_on_other_keys(&halfway, "new") > 0 && left_on_other_keys(&halfway, "old") > 0);
            assert_eq!(resealed, left_on_other_keys(&halfway, "new"), "only what was left is re-sealed");
            assert_eq!(left_on_other_keys(&after, "new"), 0, "{after:?}");
            let only_new = with_keys(&f.keys, vec![("new", new_key)]);
            let opened = patients::get(&db, &f.scope, &only_new, patient.id).await.unwrap();
            assert_eq!(opened.fields, identity.fields);
            let numbers: Vec<&str> = opened.contact_points.iter().map(|c| c.phone.as_str()).collect();
            assert_eq!(numbers, ["+13125550151"]);
            let stored_key_id = db
                .query_one(Statement::from_string(
                    db.get_database_backend(),
                    "SELECT key_id FROM patients WHERE first_name_sealed IS NOT NULL ORDER BY id".to_owned(),
                ))
                .await
                .unwrap()
                .unwrap()
                .try_get::<String>("", "key_id")
                .unwrap();
            assert_eq!(stored_key_id, "new");
            assert!(do_not_call::contains(&db, &f.scope, &only_new, "+13125550150").await.unwrap());
            let listed = do_not_call::list_with_numbers(&db, &f.scope, &only_new, crate::Page::new(10, 0))
                .await
                .unwrap();
            assert_eq!(listed.0[0].number.as_deref(), Some("+13125550150"));
            for (row, id) in placed.into_iter().enumerate() {
                let content = call_repo::get_content(&db, &f.scope, &only_new, id).await.unwrap();
                assert_eq!(content.transcript, Some(format!("Agent: Hi Grace {row}")));
            }
        })
        .await;
    }
}
