//! Users, organizations and memberships as Clerk knows them.
//!
//! Everything here is an idempotent upsert keyed by Clerk's ids, safe to run concurrently: a valid
//! token for an unknown user or organization creates it just in time (`INSERT .. ON CONFLICT`, so
//! two simultaneous first requests do not race), and Clerk's webhooks fill in the details later.
//! Deletion is soft and terminal: Clerk never reuses an id, so an upsert never clears `deleted_at`
//! (a late `user.updated` delivered after `user.deleted` must not resurrect the user).

use chrono::{DateTime, Utc};
use rivvi_domain::ids::{OrgId, UserId};
use rivvi_domain::Role;
use sea_orm::sea_query::{Alias, Expr, Func, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::entities::{memberships, organizations, users};
use crate::org_owned::InOrg;
use crate::organizations::{
    default_office_hours, hours_column, zone_column, OrganizationRecord, DEFAULT_TIME_ZONE,
};
use crate::organizations::{
    DEFAULT_CALLS_PER_MINUTE, DEFAULT_CONCURRENT_CALL_LIMIT, DEFAULT_TRANSCRIPT_RETENTION_DAYS,
    DEFAULT_UPLOAD_RETENTION_DAYS,
};
use crate::time::now;
use crate::{OrgScope, Page, PersistenceError, Result};

/// A person who signs in through Clerk.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    pub id: UserId,
    pub clerk_user_id: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub image_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// Profile fields from a Clerk `user.created` / `user.updated` webhook. They replace the stored
/// ones wholesale (Clerk sends the full user).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserProfile {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub image_url: Option<String>,
}

/// A user's membership of one organization. `role` is `Member` or `Admin`; super admin is not a
/// membership role (it comes from being in the operator organization).
#[derive(Debug, Clone, PartialEq)]
pub struct MembershipRecord {
    pub id: uuid::Uuid,
    pub org_id: OrgId,
    pub user_id: UserId,
    pub role: Role,
    pub clerk_membership_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One row of an organization's member list.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRecord {
    pub user: UserRecord,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

/// Creates the user on first sight, or (with `profile`) updates its profile. Without a profile an
/// existing user is left untouched, so calling this on every sign-in costs no write.
#[tracing::instrument(level = "debug", skip_all, fields(clerk_user_id = %clerk_user_id), err(level = "debug"))]
pub async fn upsert_user_by_clerk_id(
    conn: &impl ConnectionTrait,
    clerk_user_id: &str,
    profile: Option<&UserProfile>,
) -> Result<UserRecord> {
    let at = now();
    let empty = UserProfile::default();
    let fields = profile.unwrap_or(&empty);
    let row = users::ActiveModel {
        id: Set(UserId::new().as_uuid()),
        clerk_user_id: Set(clerk_user_id.to_owned()),
        email: Set(fields.email.clone()),
        first_name: Set(fields.first_name.clone()),
        last_name: Set(fields.last_name.clone()),
        image_url: Set(fields.image_url.clone()),
        created_at: Set(at),
        updated_at: Set(at),
        deleted_at: Set(None),
    };
    let mut on_conflict = OnConflict::column(users::Column::ClerkUserId);
    if profile.is_some() {
        on_conflict.update_columns([
            users::Column::Email,
            users::Column::FirstName,
            users::Column::LastName,
            users::Column::ImageUrl,
            users::Column::UpdatedAt,
        ]);
    } else {
        on_conflict.do_nothing();
    }
    users::Entity::insert(row).on_conflict(on_conflict).exec_without_returning(conn).await?;
    find_user_by_clerk_id(conn, clerk_user_id)
        .await?
        .ok_or_else(|| PersistenceError::not_found("user", clerk_user_id))
}

/// The user with this Clerk id, deleted or not.
#[tracing::instrument(level = "debug", skip_all, fields(clerk_user_id = %clerk_user_id), err(level = "debug"))]
pub async fn find_user_by_clerk_id(
    conn: &impl ConnectionTrait,
    clerk_user_id: &str,
) -> Result<Option<UserRecord>> {
    let found = users::Entity::find().filter(users::Column::ClerkUserId.eq(clerk_user_id)).one(conn).await?;
    Ok(found.map(UserRecord::from))
}

/// Marks the user deleted (Clerk `user.deleted`). Idempotent: the first deletion time is kept.
/// Returns whether the user exists.
#[tracing::instrument(level = "debug", skip_all, fields(clerk_user_id = %clerk_user_id), err(level = "debug"))]
pub async fn soft_delete_user(conn: &impl ConnectionTrait, clerk_user_id: &str) -> Result<bool> {
    let at = now();
    users::Entity::update_many()
        .col_expr(users::Column::DeletedAt, Expr::value(at))
        .col_expr(users::Column::UpdatedAt, Expr::value(at))
        .filter(users::Column::ClerkUserId.eq(clerk_user_id))
        .filter(users::Column::DeletedAt.is_null())
        .exec(conn)
        .await?;
    Ok(find_user_by_clerk_id(conn, clerk_user_id).await?.is_some())
}

/// Creates the organization on first sight (name defaults to the slug, then to the Clerk id;
/// settings get their defaults) or updates the given fields. `is_operator` is always written: it
/// comes from configuration (`RIVVI_OPERATOR_ORG`), which is the authority on it.
#[tracing::instrument(level = "debug", skip_all, fields(clerk_org_id = %clerk_org_id), err(level = "debug"))]
pub async fn upsert_org_by_clerk_id(
    conn: &impl ConnectionTrait,
    clerk_org_id: &str,
    name: Option<&str>,
    slug: Option<&str>,
    is_operator: bool,
) -> Result<OrganizationRecord> {
    let at = now();
    let row = organizations::ActiveModel {
        id: Set(OrgId::new().as_uuid()),
        clerk_org_id: Set(clerk_org_id.to_owned()),
        name: Set(name.or(slug).unwrap_or(clerk_org_id).to_owned()),
        slug: Set(slug.map(str::to_owned)),
        time_zone: Set(zone_column(DEFAULT_TIME_ZONE)),
        office_hours: Set(hours_column(&default_office_hours())?),
        caller_number: Set(None),
        concurrent_call_limit: Set(DEFAULT_CONCURRENT_CALL_LIMIT),
        calls_per_minute: Set(DEFAULT_CALLS_PER_MINUTE),
        upload_retention_days: Set(DEFAULT_UPLOAD_RETENTION_DAYS),
        transcript_retention_days: Set(DEFAULT_TRANSCRIPT_RETENTION_DAYS),
        is_operator: Set(is_operator),
        created_at: Set(at),
        updated_at: Set(at),
        deleted_at: Set(None),
    };
    let mut update = vec![organizations::Column::IsOperator, organizations::Column::UpdatedAt];
    if name.is_some() {
        update.push(organizations::Column::Name);
    }
    if slug.is_some() {
        update.push(organizations::Column::Slug);
    }
    organizations::Entity::insert(row)
        .on_conflict(OnConflict::column(organizations::Column::ClerkOrgId).update_columns(update).to_owned())
        .exec_without_returning(conn)
        .await?;
    find_org_by_clerk_id(conn, clerk_org_id)
        .await?
        .ok_or_else(|| PersistenceError::not_found("organization", clerk_org_id))
}

/// The organization with this Clerk id, deleted or not (the auth layer refuses deleted ones).
#[tracing::instrument(level = "debug", skip_all, fields(clerk_org_id = %clerk_org_id), err(level = "debug"))]
pub async fn find_org_by_clerk_id(
    conn: &impl ConnectionTrait,
    clerk_org_id: &str,
) -> Result<Option<OrganizationRecord>> {
    let found = organizations::Entity::find()
        .filter(organizations::Column::ClerkOrgId.eq(clerk_org_id))
        .one(conn)
        .await?;
    found.map(OrganizationRecord::try_from).transpose()
}

/// Marks the organization deleted (Clerk `organization.deleted`). Its data stays (PHI retention)
/// but scoped reads no longer find it. Idempotent; returns whether the organization exists.
#[tracing::instrument(level = "debug", skip_all, fields(clerk_org_id = %clerk_org_id), err(level = "debug"))]
pub async fn soft_delete_org(conn: &impl ConnectionTrait, clerk_org_id: &str) -> Result<bool> {
    let at = now();
    organizations::Entity::update_many()
        .col_expr(organizations::Column::DeletedAt, Expr::value(at))
        .col_expr(organizations::Column::UpdatedAt, Expr::value(at))
        .filter(organizations::Column::ClerkOrgId.eq(clerk_org_id))
        .filter(organizations::Column::DeletedAt.is_null())
        .exec(conn)
        .await?;
    Ok(find_org_by_clerk_id(conn, clerk_org_id).await?.is_some())
}

// Memberships take a bare `OrgId`, not an `OrgScope`: they are what the auth layer reads before it
// grants a scope, so `in_org` does not apply until `list_members`.

/// Creates or updates the user's membership of the organization. A `None` Clerk membership id
/// keeps the stored one (a just-in-time upsert from a token does not know it).
///
/// Fails with `Invalid` for `Role::SuperAdmin`, which is never stored.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %org_id, user_id = %user_id), err(level = "debug"))]
pub async fn upsert_membership(
    conn: &impl ConnectionTrait,
    org_id: OrgId,
    user_id: UserId,
    role: Role,
    clerk_membership_id: Option<&str>,
) -> Result<MembershipRecord> {
    let stored_role = match role {
        Role::Member | Role::Admin => role.as_str(),
        Role::SuperAdmin => {
            return Err(PersistenceError::Invalid {
                field: "role",
                reason: "super_admin is not a membership role".to_owned(),
            })
        }
    };
    let at = now();
    let row = memberships::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        org_id: Set(org_id.as_uuid()),
        user_id: Set(user_id.as_uuid()),
        role: Set(stored_role.to_owned()),
        clerk_membership_id: Set(clerk_membership_id.map(str::to_owned)),
        created_at: Set(at),
        updated_at: Set(at),
    };
    let keep_known_clerk_id = Func::coalesce([
        Expr::col((Alias::new("excluded"), memberships::Column::ClerkMembershipId)).into(),
        Expr::col((memberships::Entity, memberships::Column::ClerkMembershipId)).into(),
    ]);
    memberships::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([memberships::Column::OrgId, memberships::Column::UserId])
                .update_columns([memberships::Column::Role, memberships::Column::UpdatedAt])
                .value(memberships::Column::ClerkMembershipId, keep_known_clerk_id)
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    let stored = memberships::Entity::find()
        .filter(memberships::Column::OrgId.eq(org_id.as_uuid()))
        .filter(memberships::Column::UserId.eq(user_id.as_uuid()))
        .one(conn)
        .await?
        .ok_or_else(|| PersistenceError::not_found("membership", format!("{org_id}/{user_id}")))?;
    MembershipRecord::try_from(stored)
}

/// The user's membership of the organization, if any.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %org_id, user_id = %user_id), err(level = "debug"))]
pub async fn find_membership(
    conn: &impl ConnectionTrait,
    org_id: OrgId,
    user_id: UserId,
) -> Result<Option<MembershipRecord>> {
    memberships::Entity::find()
        .filter(memberships::Column::OrgId.eq(org_id.as_uuid()))
        .filter(memberships::Column::UserId.eq(user_id.as_uuid()))
        .one(conn)
        .await?
        .map(MembershipRecord::try_from)
        .transpose()
}

/// Removes the membership (Clerk `organizationMembership.deleted`). Idempotent; returns whether
/// there was one.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %org_id, user_id = %user_id), err(level = "debug"))]
pub async fn delete_membership(conn: &impl ConnectionTrait, org_id: OrgId, user_id: UserId) -> Result<bool> {
    let deleted = memberships::Entity::delete_many()
        .filter(memberships::Column::OrgId.eq(org_id.as_uuid()))
        .filter(memberships::Column::UserId.eq(user_id.as_uuid()))
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected > 0)
}

/// The organization's members who have not been deleted, oldest membership first, with the total.
#[tracing::instrument(level = "debug", skip_all, fields(org_id = %scope), err(level = "debug"))]
pub async fn list_members(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    page: Page,
) -> Result<(Vec<MemberRecord>, u64)> {
    let query = memberships::Entity::find()
        .find_also_related(users::Entity)
        .in_org(scope)
        .filter(users::Column::DeletedAt.is_null());
    let total = query.clone().count(conn).await?;
    let rows = query
        .order_by_asc(memberships::Column::CreatedAt)
        .order_by_asc(memberships::Column::Id)
        .limit(page.effective_limit())
        .offset(page.offset)
        .all(conn)
        .await?;
    let members = rows
        .into_iter()
        .filter_map(|(membership, user)| user.map(|user| (membership, user)))
        .map(|(membership, user)| {
            Ok(MemberRecord {
                role: parse_role(&membership.role)?,
                joined_at: membership.created_at,
                user: user.into(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((members, total))
}

fn parse_role(stored: &str) -> Result<Role> {
    match stored {
        "member" => Ok(Role::Member),
        "admin" => Ok(Role::Admin),
        _ => Err(PersistenceError::Corrupt { table: "memberships", column: "role" }),
    }
}

impl From<users::Model> for UserRecord {
    fn from(row: users::Model) -> Self {
        UserRecord {
            id: UserId(row.id),
            clerk_user_id: row.clerk_user_id,
            email: row.email,
            first_name: row.first_name,
            last_name: row.last_name,
            image_url: row.image_url,
            created_at: row.created_at,
            updated_at: row.updated_at,
            deleted_at: row.deleted_at,
        }
    }
}

impl TryFrom<memberships::Model> for MembershipRecord {
    type Error = PersistenceError;

    fn try_from(row: memberships::Model) -> Result<Self> {
        Ok(MembershipRecord {
            id: row.id,
            org_id: OrgId(row.org_id),
            user_id: UserId(row.user_id),
            role: parse_role(&row.role)?,
            clerk_membership_id: row.clerk_membership_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}
