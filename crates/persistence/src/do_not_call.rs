//! An organization's do-not-call list, checked before every dial.
//!
//! Numbers are never stored: an entry holds the HMAC phone key of the E.164 number (the same key
//! patients are found by), so the list can be checked and edited by number but not read back as
//! numbers. One entry per number per organization (a unique index); adding a listed number again
//! returns the existing entry.

use chrono::{DateTime, Utc};
use rivvi_domain::ids::{OrgId, UserId};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::entities::do_not_call;
use crate::sealing::Keys;
use crate::{OrgScope, Page, PersistenceError, Result};

/// One entry of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoNotCallRecord {
    pub id: Uuid,
    pub org_id: OrgId,
    /// HMAC of the E.164 number (see [`crate::sealing::IndexKeys::phone_key`]).
    pub phone_key: String,
    /// Why (free text from staff, or `patient request` from a call); never quotes the number.
    pub reason: String,
    pub added_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
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
    let phone_key = keys.index.phone_key(e164);
    let row = do_not_call::Model {
        id: Uuid::now_v7(),
        org_id: scope.org_id().as_uuid(),
        phone_key: phone_key.clone(),
        reason: reason.to_owned(),
        added_by: added_by.map(|u| u.as_uuid()),
        created_at: at,
    };
    do_not_call::Entity::insert(do_not_call::ActiveModel::from(row))
        .on_conflict(
            OnConflict::columns([do_not_call::Column::OrgId, do_not_call::Column::PhoneKey])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    find_by_key(conn, scope, &phone_key)
        .await?
        .ok_or_else(|| PersistenceError::not_found("do-not-call entry", "phone"))
}

/// Removes `e164` from the list; `false` when it was not listed.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn remove(conn: &impl ConnectionTrait, scope: &OrgScope, keys: &Keys, e164: &str) -> Result<bool> {
    let deleted = do_not_call::Entity::delete_many()
        .filter(do_not_call::Column::OrgId.eq(scope.org_id().as_uuid()))
        .filter(do_not_call::Column::PhoneKey.eq(keys.index.phone_key(e164)))
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected > 0)
}

/// Removes an entry by id; `false` when the organization has no such entry.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope, entry_id = %id), err(level = "debug"))]
pub async fn remove_by_id(conn: &impl ConnectionTrait, scope: &OrgScope, id: Uuid) -> Result<bool> {
    let deleted = do_not_call::Entity::delete_many()
        .filter(do_not_call::Column::OrgId.eq(scope.org_id().as_uuid()))
        .filter(do_not_call::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected > 0)
}

/// The organization's entries, newest first, with the total.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn list(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    page: Page,
) -> Result<(Vec<DoNotCallRecord>, u64)> {
    let query = do_not_call::Entity::find().filter(do_not_call::Column::OrgId.eq(scope.org_id().as_uuid()));
    let total = query.clone().count(conn).await?;
    let rows = query
        .order_by_desc(do_not_call::Column::CreatedAt)
        .order_by_desc(do_not_call::Column::Id)
        .limit(page.effective_limit())
        .offset(page.offset)
        .all(conn)
        .await?;
    Ok((rows.into_iter().map(DoNotCallRecord::from).collect(), total))
}

/// Whether `e164` is on the organization's list.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn contains(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    keys: &Keys,
    e164: &str,
) -> Result<bool> {
    contains_key(conn, scope, &keys.index.phone_key(e164)).await
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
    let row = do_not_call::Entity::find()
        .filter(do_not_call::Column::OrgId.eq(scope.org_id().as_uuid()))
        .filter(do_not_call::Column::PhoneKey.eq(phone_key))
        .one(conn)
        .await?;
    Ok(row.map(DoNotCallRecord::from))
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
