//! An organization's do-not-call list, checked before every dial.
//!
//! An entry is found by the HMAC phone key of the E.164 number (the same key patients are found
//! by): that is what the dialler checks. The number itself is kept sealed beside it
//! (`number_sealed`, AAD `do_not_call/number_sealed/<entry id>`) so admins can read the list
//! back ([`list_with_numbers`]); entries written before numbers were kept have none until the
//! number is added again. One entry per number per organization (a unique index); adding a listed
//! number again returns the existing entry.

use chrono::{DateTime, Utc};
use rivvi_domain::ids::{OrgId, UserId};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::entities::do_not_call;
use crate::org_owned::InOrg;
use crate::sealing::{Aad, Keys, LookupScheme};
use crate::{OrgScope, Page, PersistenceError, Result};

const TABLE: &str = "do_not_call";
const NUMBER_COLUMN: &str = "number_sealed";

/// One entry of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoNotCallRecord {
    pub id: Uuid,
    pub org_id: OrgId,
    /// HMAC of the E.164 number (see [`crate::sealing::OrgIndexKeys::phone_key`]).
    pub phone_key: String,
    /// Why (free text from staff, or `opted out during call <call id>` when the engine heard a
    /// patient ask); never quotes the number.
    pub reason: String,
    pub added_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

/// An entry with its number opened, for the organization's admins.
#[derive(Clone, PartialEq, Eq)]
pub struct DoNotCallEntry {
    pub record: DoNotCallRecord,
    /// The E.164 number; `None` for an entry written before numbers were kept.
    pub number: Option<String>,
}

// PHI (the number): never printed.
impl std::fmt::Debug for DoNotCallEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DoNotCallEntry")
            .field("record", &self.record)
            .field("number", &self.number.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Adds `e164` to the organization's list, or returns the entry it already has.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn add(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    e164: &str,
    reason: &str,
    added_by: Option<UserId>,
    at: DateTime<Utc>,
) -> Result<DoNotCallRecord> {
    Ok(add_if_absent(conn, scope, keys, e164, reason, added_by, at).await?.0)
}

/// Adds `e164` to the organization's list: `(entry, true)` when it was added now, `(existing
/// entry, false)` when it was listed already (its reason and author stay; an entry that had no
/// sealed number gets one). Concurrent adds of one number resolve to one entry.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn add_if_absent(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    e164: &str,
    reason: &str,
    added_by: Option<UserId>,
    at: DateTime<Utc>,
) -> Result<(DoNotCallRecord, bool)> {
    let phone_key = keys.lookup(scope).phone_key(e164);
    let id = Uuid::now_v7();
    let row = do_not_call::Model {
        id,
        org_id: scope.org_id().as_uuid(),
        phone_key: phone_key.clone(),
        lookup_scheme: LookupScheme::PerOrganization.code(),
        number_sealed: Some(keys.sealer.seal_str(&aad(id), e164)?),
        reason: reason.to_owned(),
        added_by: added_by.map(|u| u.as_uuid()),
        created_at: at,
    };
    let inserted = do_not_call::Entity::insert(do_not_call::ActiveModel::from(row))
        .on_conflict(
            OnConflict::columns([do_not_call::Column::OrgId, do_not_call::Column::PhoneKey])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    let existing = find_row(conn, scope, &phone_key)
        .await?
        .ok_or_else(|| PersistenceError::not_found("do-not-call entry", "phone"))?;
    if inserted == 0 && existing.number_sealed.is_none() {
        let sealed = keys.sealer.seal_str(&aad(existing.id), e164)?;
        do_not_call::Entity::update_many()
            .col_expr(do_not_call::Column::NumberSealed, Expr::value(sealed))
            .filter(do_not_call::Column::Id.eq(existing.id))
            .in_org(scope)
            .filter(do_not_call::Column::NumberSealed.is_null())
            .exec(conn)
            .await?;
    }
    Ok((existing.into(), inserted > 0))
}

/// The entry for `e164`, if the number is listed.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn find(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    e164: &str,
) -> Result<Option<DoNotCallRecord>> {
    find_by_key(conn, scope, &keys.lookup(scope).phone_key(e164)).await
}

/// Removes `e164` from the list; `false` when it was not listed.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn remove(conn: &impl ConnectionTrait, scope: &OrgScope, keys: &Keys, e164: &str) -> Result<bool> {
    let deleted = do_not_call::Entity::delete_many()
        .in_org(scope)
        .filter(do_not_call::Column::PhoneKey.eq(keys.lookup(scope).phone_key(e164)))
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected > 0)
}

/// Removes an entry by id; `false` when the organization has no such entry.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, entry_id = %id), err(level = "debug"))]
pub async fn remove_by_id(conn: &impl ConnectionTrait, scope: &OrgScope, id: Uuid) -> Result<bool> {
    let deleted = do_not_call::Entity::delete_many()
        .in_org(scope)
        .filter(do_not_call::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected > 0)
}

/// The organization's entries, newest first, with the total: phone keys only (what the engine
/// and checks need). [`list_with_numbers`] opens the numbers.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn list(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    page: Page,
) -> Result<(Vec<DoNotCallRecord>, u64)> {
    let (rows, total) = page_of_rows(conn, scope, page).await?;
    Ok((rows.into_iter().map(DoNotCallRecord::from).collect(), total))
}

async fn page_of_rows(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    page: Page,
) -> Result<(Vec<do_not_call::Model>, u64)> {
    let query = do_not_call::Entity::find().in_org(scope);
    let (rows, total) = page
        .fetch(conn, query, |q| {
            q.order_by_desc(do_not_call::Column::CreatedAt).order_by_desc(do_not_call::Column::Id)
        })
        .await?;
    Ok((rows, total))
}

/// The organization's entries with their numbers opened, newest first, with the total.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn list_with_numbers(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    page: Page,
) -> Result<(Vec<DoNotCallEntry>, u64)> {
    let (rows, total) = page_of_rows(conn, scope, page).await?;
    let entries = rows
        .into_iter()
        .map(|row| {
            let number = row
                .number_sealed
                .as_deref()
                .map(|sealed| keys.sealer.open_string(&aad(row.id), sealed))
                .transpose()?;
            Ok(DoNotCallEntry { record: row.into(), number })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((entries, total))
}

/// Whether `e164` is on the organization's list.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn contains(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    e164: &str,
) -> Result<bool> {
    contains_key(conn, scope, &keys.lookup(scope).phone_key(e164)).await
}

/// Whether a phone key is on the organization's list.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn contains_key(conn: &impl ConnectionTrait, scope: &OrgScope, phone_key: &str) -> Result<bool> {
    Ok(find_by_key(conn, scope, phone_key).await?.is_some())
}

async fn find_by_key(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    phone_key: &str,
) -> Result<Option<DoNotCallRecord>> {
    Ok(find_row(conn, scope, phone_key).await?.map(DoNotCallRecord::from))
}

async fn find_row(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    phone_key: &str,
) -> Result<Option<do_not_call::Model>> {
    Ok(do_not_call::Entity::find()
        .in_org(scope)
        .filter(do_not_call::Column::PhoneKey.eq(phone_key))
        .one(conn)
        .await?)
}

fn aad(entry_id: Uuid) -> Aad<'static> {
    Aad { table: TABLE, column: NUMBER_COLUMN, row_id: entry_id }
}

impl From<do_not_call::Model> for DoNotCallRecord {
    fn from(row: do_not_call::Model) -> Self {
        DoNotCallRecord {
            id: row.id,
            org_id: OrgId(row.org_id),
            phone_key: row.phone_key,
            reason: row.reason,
            added_by: row.added_by.map(UserId),
            created_at: row.created_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity;
    use crate::testing::on_each_backend;

    const NUMBER: &str = "+13125550143";

    async fn org(db: &sea_orm::DatabaseConnection, clerk_id: &str) -> OrgScope {
        let org = identity::upsert_org_by_clerk_id(db, clerk_id, None, None, false).await.unwrap();
        OrgScope::for_verified_org(org.id)
    }

    /// The organization's whole list.
    async fn listed(
        db: &sea_orm::DatabaseConnection,
        scope: &OrgScope,
        keys: &Keys,
    ) -> Result<Vec<DoNotCallEntry>> {
        list_with_numbers(db, scope, keys, Page::default()).await.map(|(entries, _)| entries)
    }

    /// Adds `number` for `reason`, by nobody, now.
    async fn add(
        db: &sea_orm::DatabaseConnection,
        scope: &OrgScope,
        keys: &Keys,
        number: &str,
        reason: &str,
    ) -> (DoNotCallRecord, bool) {
        add_if_absent(db, scope, keys, number, reason, None, Utc::now()).await.unwrap()
    }

    #[tokio::test]
    async fn a_listed_number_reads_back_once_with_its_first_reason() {
        on_each_backend(|db| async move {
            let keys = Keys::generate().unwrap();
            let a = org(&db, "org_a").await;
            let b = org(&db, "org_b").await;

            let (first, added) = add(&db, &a, &keys, NUMBER, "asked").await;
            let (again, added_again) = add(&db, &a, &keys, NUMBER, "twice").await;
            let (entries, total) = list_with_numbers(&db, &a, &keys, Page::default()).await.unwrap();

            assert!(added && !added_again);
            assert_eq!(again, first);
            assert_eq!(again.reason, "asked");
            assert_eq!(total, 1);
            assert_eq!(entries[0].number.as_deref(), Some(NUMBER));
            assert_eq!(entries[0].record, first);
            assert_eq!(list_with_numbers(&db, &b, &keys, Page::default()).await.unwrap().1, 0);
            assert!(!remove_by_id(&db, &b, first.id).await.unwrap(), "another organization's entry");
            assert!(contains(&db, &a, &keys, NUMBER).await.unwrap());
        })
        .await;
    }

    #[tokio::test]
    async fn an_entry_without_a_number_gets_it_when_the_number_is_added_again() {
        on_each_backend(|db| async move {
            let keys = Keys::generate().unwrap();
            let a = org(&db, "org_a").await;
            let legacy = do_not_call::Model {
                id: Uuid::now_v7(),
                org_id: a.org_id().as_uuid(),
                phone_key: keys.lookup(&a).phone_key(NUMBER),
                lookup_scheme: LookupScheme::PerOrganization.code(),
                number_sealed: None,
                reason: "before numbers were kept".into(),
                added_by: None,
                created_at: Utc::now(),
            };
            do_not_call::Entity::insert(do_not_call::ActiveModel::from(legacy.clone()))
                .exec_without_returning(&db)
                .await
                .unwrap();
            let before = listed(&db, &a, &keys).await.unwrap();

            let (entry, added) = add(&db, &a, &keys, NUMBER, "again").await;
            let after = listed(&db, &a, &keys).await.unwrap();

            assert_eq!(before[0].number, None);
            assert!(!added);
            assert_eq!(entry.id, legacy.id);
            assert_eq!(after[0].number.as_deref(), Some(NUMBER));
        })
        .await;
    }

    #[tokio::test]
    async fn the_sealed_number_is_bound_to_its_entry() {
        on_each_backend(|db| async move {
            let keys = Keys::generate().unwrap();
            let a = org(&db, "org_a").await;
            let (first, _) = add(&db, &a, &keys, NUMBER, "a").await;
            let (second, _) = add(&db, &a, &keys, "+13125550177", "b").await;
            let sealed =
                do_not_call::Entity::find_by_id(first.id).one(&db).await.unwrap().unwrap().number_sealed;

            // Copy the first entry's sealed number into the second entry's row.
            do_not_call::Entity::update_many()
                .col_expr(do_not_call::Column::NumberSealed, Expr::value(sealed))
                .filter(do_not_call::Column::Id.eq(second.id))
                .exec(&db)
                .await
                .unwrap();
            let err = listed(&db, &a, &keys).await.unwrap_err();

            assert!(matches!(err, PersistenceError::Sealing(_)), "{err}");
        })
        .await;
    }
}
