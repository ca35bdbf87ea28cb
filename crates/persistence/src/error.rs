//! [`PersistenceError`]: what a repository call can fail with.

use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// Errors of the persistence layer. Messages name tables, columns and constraints, never values,
/// so they are safe to log (no PHI).
#[derive(Debug, thiserror::Error)]
pub enum PersistenceError {
    // not found
    /// The row does not exist, or belongs to another organization than the caller's scope.
    #[error("{entity} not found <id={id}>")]
    NotFound { entity: &'static str, id: String },

    // user errors
    /// A unique constraint refused the write. `constraint` is the index name from the migrations
    /// (`ux_<table>_<columns>`, or `<table>_pkey`), the same on PostgreSQL and SQLite; see
    /// [`constraints`].
    #[error("conflict with an existing row <constraint={constraint}>")]
    Conflict { constraint: String },
    /// A value the database cannot hold (such as a limit beyond `i32`).
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },

    // internal
    /// A stored value that no current type can represent.
    #[error("unexpected stored value in {table}.{column}")]
    Corrupt { table: &'static str, column: &'static str },
    #[error("database error")]
    Database(#[source] DbErr),
    #[error("sealed value could not be sealed or opened")]
    Sealing(#[from] crate::sealing::SealError),
}

impl PersistenceError {
    pub(crate) fn not_found(entity: &'static str, id: impl ToString) -> Self {
        PersistenceError::NotFound { entity, id: id.to_string() }
    }

    /// Whether this is a unique violation of `constraint` (one of [`constraints`]).
    pub fn is_conflict_on(&self, constraint: &str) -> bool {
        matches!(self, PersistenceError::Conflict { constraint: c } if c == constraint)
    }
}

/// Every `?` on a sea-orm call goes through here, so a unique violation anywhere becomes
/// [`PersistenceError::Conflict`] rather than an internal error.
impl From<DbErr> for PersistenceError {
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(message)) => {
                PersistenceError::Conflict { constraint: constraint_name(&err, &message) }
            }
            _ => PersistenceError::Database(err),
        }
    }
}

/// The violated constraint's name: PostgreSQL reports it; SQLite reports
/// `UNIQUE constraint failed: table.col_a, table.col_b`, from which the migrations' naming
/// convention gives the same name.
fn constraint_name(err: &DbErr, message: &str) -> String {
    if let DbErr::Exec(RuntimeErr::SqlxError(sea_orm::sqlx::Error::Database(db)))
    | DbErr::Query(RuntimeErr::SqlxError(sea_orm::sqlx::Error::Database(db))) = err
    {
        if let Some(name) = db.constraint() {
            return name.to_owned();
        }
    }
    sqlite_constraint_name(message).unwrap_or_else(|| "unknown".to_owned())
}

fn sqlite_constraint_name(message: &str) -> Option<String> {
    let columns = message.split_once("constraint failed:")?.1;
    let mut table = None;
    let mut names = Vec::new();
    for qualified in columns.split(',') {
        let (t, column) = qualified.trim().split_once('.')?;
        table = Some(t);
        names.push(column);
    }
    let table = table?;
    Some(if names == ["id"] { format!("{table}_pkey") } else { format!("ux_{table}_{}", names.join("_")) })
}

/// Names of the unique constraints callers match on (see [`PersistenceError::is_conflict_on`]).
pub mod constraints {
    pub const ORGANIZATIONS_CLERK_ORG_ID: &str = "ux_organizations_clerk_org_id";
    pub const USERS_CLERK_USER_ID: &str = "ux_users_clerk_user_id";
    pub const MEMBERSHIPS_ORG_ID_USER_ID: &str = "ux_memberships_org_id_user_id";
    pub const MEMBERSHIPS_CLERK_MEMBERSHIP_ID: &str = "ux_memberships_clerk_membership_id";
    pub const CAMPAIGNS_ORG_ID_NAME: &str = "ux_campaigns_org_id_name";
    pub const PHONE_NUMBERS_NUMBER: &str = "ux_phone_numbers_number";
    pub const PROMPT_VERSIONS_CAMPAIGN_ID_NUMBER: &str = "ux_prompt_versions_campaign_id_number";
    pub const PATIENTS_ORG_ID_IDENTITY_KEY: &str = "ux_patients_org_id_identity_key";
    pub const PATIENTS_ORG_ID_MRN_KEY: &str = "ux_patients_org_id_mrn_key";
    pub const PATIENT_PHONES_ORG_ID_PATIENT_ID_PHONE_KEY: &str =
        "ux_patient_phones_org_id_patient_id_phone_key";
    pub const UPLOADS_STORAGE_KEY: &str = "ux_uploads_storage_key";
    pub const RUNS_ORG_ID_CLIENT_REQUEST_ID: &str = "ux_runs_org_id_client_request_id";
    pub const RUN_ROWS_RUN_ID_SORT_INDEX: &str = "ux_run_rows_run_id_sort_index";
    pub const CALLS_PROVIDER_CALL_ID: &str = "ux_calls_provider_call_id";
    pub const WEBHOOK_EVENTS_SOURCE_IDEMPOTENCY_KEY: &str = "ux_webhook_events_source_idempotency_key";
    pub const DO_NOT_CALL_ORG_ID_PHONE_KEY: &str = "ux_do_not_call_org_id_phone_key";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_messages_map_to_the_migration_index_names() {
        assert_eq!(
            sqlite_constraint_name("UNIQUE constraint failed: memberships.org_id, memberships.user_id")
                .as_deref(),
            Some(constraints::MEMBERSHIPS_ORG_ID_USER_ID)
        );
        assert_eq!(
            sqlite_constraint_name("UNIQUE constraint failed: organizations.id").as_deref(),
            Some("organizations_pkey")
        );
        assert_eq!(sqlite_constraint_name("something else"), None);
    }
}
