//! The schema migrates up, down and up again, on SQLite always and on PostgreSQL when
//! `RIVVI_TEST_DATABASE_URL` points at a server we may create databases on.

// Tests may unwrap; `allow-unwrap-in-tests` covers `#[test]` functions but not their helpers.
#![allow(clippy::unwrap_used)]

use rivvi_migration::{Migrator, MigratorTrait, SchemaManager};
use sea_orm_migration::sea_orm::{ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, Statement};

const TABLES: [&str; 19] = [
    "organizations",
    "users",
    "memberships",
    "patients",
    "campaigns",
    "prompt_versions",
    "campaign_requests",
    "uploads",
    "runs",
    "run_rows",
    "calls",
    "webhook_events",
    "audit_log",
    "do_not_call",
    "managed_agents",
    "prompt_variations",
    "phone_numbers",
    "patient_phones",
    // sea-orm's own bookkeeping
    "seaql_migrations",
];

async fn assert_tables(db: &DatabaseConnection, present: bool) {
    let manager = SchemaManager::new(db);
    for table in TABLES.iter().filter(|t| **t != "seaql_migrations") {
        assert_eq!(manager.has_table(*table).await.unwrap(), present, "table {table}");
    }
}

async fn up_down_up(db: &DatabaseConnection) {
    Migrator::up(db, None).await.unwrap();
    assert_tables(db, true).await;
    let manager = SchemaManager::new(db);
    assert!(manager
        .has_index("run_rows", "ix_run_rows_run_id_status_next_attempt_at_sort_index")
        .await
        .unwrap());
    assert!(manager.has_index("webhook_events", "ux_webhook_events_source_idempotency_key").await.unwrap());
    assert_second_migration(&manager, true).await;
    assert!(Migrator::get_pending_migrations(db).await.unwrap().is_empty());

    Migrator::down(db, None).await.unwrap();
    assert_tables(db, false).await;
    assert_eq!(Migrator::get_pending_migrations(db).await.unwrap().len(), Migrator::migrations().len());

    Migrator::up(db, None).await.unwrap();
    assert_tables(db, true).await;
}

/// What `m20261125_000001_dnc_numbers_and_call_indexes` adds (`applied`) or leaves as before.
async fn assert_second_migration(manager: &SchemaManager<'_>, applied: bool) {
    assert_eq!(manager.has_column("do_not_call", "number_sealed").await.unwrap(), applied);
    for (table, index) in [
        ("calls", "ux_calls_row_id_attempt"),
        ("calls", "ix_calls_org_id_status"),
        ("calls", "ix_calls_status_updated_at"),
        ("uploads", "ux_uploads_org_id_sha256"),
    ] {
        assert_eq!(manager.has_index(table, index).await.unwrap(), applied, "{index}");
    }
    for (table, index) in
        [("calls", "ix_calls_row_id"), ("calls", "ix_calls_status"), ("uploads", "ix_uploads_org_id_sha256")]
    {
        assert_eq!(manager.has_index(table, index).await.unwrap(), !applied, "{index}");
    }
}

/// Identical uploads recorded before the unique index existed are merged into the earliest one
/// (runs follow it), and the second migration goes down to the first one's indexes again.
async fn duplicate_uploads_are_merged(db: &DatabaseConnection) {
    // Arrange: the first migration only, with two copies of one file and a run on the later copy.
    Migrator::down(db, None).await.unwrap();
    Migrator::up(db, Some(1)).await.unwrap();
    let backend = db.get_database_backend();
    let id = |n: u8| uuid::Uuid::from_bytes([n; 16]);
    let uuid = |n: u8| match backend {
        DatabaseBackend::Sqlite => format!("X'{}'", id(n).simple()),
        _ => format!("'{}'", id(n)),
    };
    let (org, campaign, first, second, other, run) = (1, 2, 3, 4, 5, 6);
    let at = |minute: u32| format!("'2026-11-24T10:{minute:02}:00+00:00'");
    let sha = "'aa'";
    for sql in [
        format!(
            "INSERT INTO organizations (id, clerk_org_id, name, office_hours, created_at, updated_at) \
             VALUES ({}, 'org_m', 'M', '{{}}', {}, {})",
            uuid(org),
            at(0),
            at(0)
        ),
        format!(
            "INSERT INTO campaigns (id, org_id, name, direction, status, agent_id, base_prompt, variables, \
             analysis_fields, retry_policy, created_at, updated_at) \
             VALUES ({}, {}, 'C', 'outbound', 'active', 'agent', 'Hi', '[]', '[]', '{{}}', {}, {})",
            uuid(campaign),
            uuid(org),
            at(0),
            at(0)
        ),
        upload(&uuid(first), &uuid(org), sha, "stored", &at(1)),
        upload(&uuid(second), &uuid(org), sha, "ingested", &at(2)),
        upload(&uuid(other), &uuid(org), "'bb'", "stored", &at(3)),
        format!(
            "INSERT INTO runs (id, org_id, campaign_id, upload_id, name, status, settings, created_at, updated_at) \
             VALUES ({}, {}, {}, {}, 'R', 'ready', '{{}}', {}, {})",
            uuid(run),
            uuid(org),
            uuid(campaign),
            uuid(second),
            at(4),
            at(4)
        ),
    ] {
        db.execute_unprepared(&sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    // Act
    Migrator::up(db, None).await.unwrap();

    // Assert
    let text = |sql: &str| {
        let sql = sql.to_owned();
        async move {
            let row = db.query_one(Statement::from_string(backend, sql)).await.unwrap().unwrap();
            row.try_get_by_index::<String>(0).unwrap()
        }
    };
    let count = db
        .query_one(Statement::from_string(backend, "SELECT COUNT(*) FROM uploads"))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap();
    assert_eq!(count, 2, "the later copy is gone, the other file stays");
    assert_eq!(text(&format!("SELECT status FROM uploads WHERE id = {}", uuid(first))).await, "ingested");
    let kept = format!("SELECT COUNT(*) FROM runs WHERE upload_id = {}", uuid(first));
    let row = db.query_one(Statement::from_string(backend, kept)).await.unwrap().unwrap();
    assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 1, "the run follows the kept upload");

    // The later migrations (bulk import keys, provider agents, variations) and the second go down.
    Migrator::down(db, Some(12)).await.unwrap();
    assert_second_migration(&SchemaManager::new(db), false).await;
    Migrator::up(db, None).await.unwrap();
    assert_provider_agents(&SchemaManager::new(db), true).await;
    Migrator::down(db, Some(10)).await.unwrap();
    assert_provider_agents(&SchemaManager::new(db), false).await;
    Migrator::up(db, None).await.unwrap();
    caller_numbers_become_assignments(db).await;
    existing_patients_are_kept_as_they_are(db).await;
}

/// `m20261205_000003_phone_numbers`: a caller number one organization had becomes its
/// assignment; one that two organizations had is assigned to neither and cleared from both.
async fn caller_numbers_become_assignments(db: &DatabaseConnection) {
    Migrator::down(db, Some(8)).await.unwrap();
    let backend = db.get_database_backend();
    let id = |n: u8| match backend {
        DatabaseBackend::Sqlite => format!("X'{}'", uuid::Uuid::from_bytes([n; 16]).simple()),
        _ => format!("'{}'", uuid::Uuid::from_bytes([n; 16])),
    };
    for (n, number) in [(41, "+13125550100"), (42, "+13125550111"), (43, "+13125550111")] {
        let sql = format!(
            "INSERT INTO organizations (id, clerk_org_id, name, office_hours, caller_number, created_at, updated_at) \
             VALUES ({}, 'org_p{n}', 'P{n}', '{{}}', '{number}', '2026-12-05T10:00:00+00:00', '2026-12-05T10:00:00+00:00')",
            id(n)
        );
        db.execute_unprepared(&sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    Migrator::up(db, None).await.unwrap();

    let one = |sql: String| async move {
        let row = db.query_one(Statement::from_string(backend, sql)).await.unwrap().unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    };
    assert_eq!(one("SELECT COUNT(*) FROM phone_numbers WHERE number = '+13125550100'".into()).await, 1);
    assert_eq!(one(format!("SELECT COUNT(*) FROM phone_numbers WHERE org_id = {}", id(41))).await, 1);
    assert_eq!(one("SELECT COUNT(*) FROM phone_numbers WHERE number = '+13125550111'".into()).await, 0);
    let cleared = "SELECT COUNT(*) FROM organizations WHERE clerk_org_id IN ('org_p42', 'org_p43') \
                   AND caller_number IS NULL";
    assert_eq!(one(cleared.into()).await, 2, "a disputed number is cleared from every claimant");
    // `m20261205_000009_retention`: organizations that existed before get the default retention.
    let defaults =
        "SELECT COUNT(*) FROM organizations WHERE clerk_org_id IN ('org_p41', 'org_p42', 'org_p43') \
                    AND upload_retention_days = 30 AND transcript_retention_days = 365";
    assert_eq!(one(defaults.into()).await, 3);
    let manager = SchemaManager::new(db);
    assert!(manager.has_index("runs", "ix_runs_upload_id").await.unwrap());
    Migrator::down(db, Some(2)).await.unwrap();
    assert!(!manager.has_column("organizations", "upload_retention_days").await.unwrap());
    assert!(!manager.has_index("runs", "ix_runs_upload_id").await.unwrap());
    Migrator::up(db, None).await.unwrap();
}

/// `m20261205_000010_patient_contact_points`: a patient written before it keeps every column and
/// value, up and down again; its new lookup keys wait for the server (pending), and it has no
/// contact points, its numbers being where they were.
async fn existing_patients_are_kept_as_they_are(db: &DatabaseConnection) {
    // Arrange: the schema before the migration, with one patient.
    Migrator::down(db, Some(1)).await.unwrap();
    let backend = db.get_database_backend();
    let id = |n: u8| match backend {
        DatabaseBackend::Sqlite => format!("X'{}'", uuid::Uuid::from_bytes([n; 16]).simple()),
        _ => format!("'{}'", uuid::Uuid::from_bytes([n; 16])),
    };
    let bytes = |hex: &str| match backend {
        DatabaseBackend::Sqlite => format!("X'{hex}'"),
        _ => format!("decode('{hex}', 'hex')"),
    };
    let at = "'2026-12-05T10:00:00+00:00'";
    let (org, patient) = (id(51), id(52));
    let values = [
        ("first_name_sealed", bytes("0101")),
        ("last_name_sealed", bytes("0202")),
        ("dob_sealed", bytes("0303")),
        ("phone_sealed", bytes("0404")),
        ("secondary_phone_sealed", bytes("0505")),
        ("mrn_sealed", bytes("0606")),
        ("identity_key", "'identity-key'".to_owned()),
        ("phone_key", "'phone-key'".to_owned()),
        ("secondary_phone_key", "'secondary-key'".to_owned()),
        ("key_id", "'k1'".to_owned()),
        ("lookup_scheme", "2".to_owned()),
        ("created_at", at.to_owned()),
        ("updated_at", at.to_owned()),
    ];
    for sql in [
        format!(
            "INSERT INTO organizations (id, clerk_org_id, name, office_hours, created_at, updated_at) \
             VALUES ({org}, 'org_k', 'K', '{{}}', {at}, {at})"
        ),
        format!(
            "INSERT INTO patients (id, org_id, {}) VALUES ({patient}, {org}, {})",
            values.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", "),
            values.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>().join(", ")
        ),
    ] {
        db.execute_unprepared(&sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let unchanged = format!(
        "SELECT COUNT(*) FROM patients WHERE id = {patient} AND org_id = {org} AND {}",
        values.iter().map(|(c, v)| format!("{c} = {v}")).collect::<Vec<_>>().join(" AND ")
    );
    let one = |sql: String| async move {
        let row = db.query_one(Statement::from_string(backend, sql)).await.unwrap().unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    };
    let manager = SchemaManager::new(db);

    // Act
    Migrator::up(db, None).await.unwrap();

    // Assert
    assert_eq!(one(unchanged.clone()).await, 1, "every column keeps its value");
    let pending = format!(
        "SELECT COUNT(*) FROM patients WHERE id = {patient} AND match_keys_pending \
         AND mrn_key IS NULL AND name_dob_key IS NULL"
    );
    assert_eq!(one(pending).await, 1, "the new keys wait for the server, which has the keys");
    assert_eq!(one("SELECT COUNT(*) FROM patient_phones".into()).await, 0);
    assert!(manager.has_index("patients", "ux_patients_org_id_mrn_key").await.unwrap());

    Migrator::down(db, Some(1)).await.unwrap();
    assert_eq!(one(unchanged).await, 1, "going down keeps the patient too");
    assert!(!manager.has_table("patient_phones").await.unwrap());
    assert!(!manager.has_column("patients", "mrn_key").await.unwrap());
    Migrator::up(db, None).await.unwrap();
}

/// What `m20261205_000001_provider_agents` adds (`applied`) or leaves as before.
async fn assert_provider_agents(manager: &SchemaManager<'_>, applied: bool) {
    assert_eq!(manager.has_table("managed_agents").await.unwrap(), applied);
    for column in ["agent_id", "agent_version", "variables", "analysis_fields"] {
        assert_eq!(manager.has_column("prompt_versions", column).await.unwrap(), applied, "{column}");
    }
}

fn upload(id: &str, org: &str, sha: &str, status: &str, at: &str) -> String {
    let key = id.replace('\'', "");
    format!(
        "INSERT INTO uploads (id, org_id, file_name, media_type, size_bytes, sha256, storage_key, status, \
         created_at, updated_at) VALUES ({id}, {org}, 'f.csv', 'text/csv', 1, {sha}, 'key-{key}', '{status}', {at}, {at})",
    )
}

#[tokio::test]
async fn the_schema_migrates_up_down_and_up_again_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("rivvi.db").display());
    let db = Database::connect(&url).await.unwrap();

    up_down_up(&db).await;
    duplicate_uploads_are_merged(&db).await;

    // sqlx turns foreign keys on for every SQLite connection; the schema relies on it.
    let row = db
        .query_one(sea_orm_migration::sea_orm::Statement::from_string(
            db.get_database_backend(),
            "PRAGMA foreign_keys",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get_by_index::<i32>(0).unwrap(), 1);
    db.close().await.unwrap();
}

#[tokio::test]
async fn the_schema_migrates_up_down_and_up_again_on_postgres() {
    let Ok(admin_url) = std::env::var("RIVVI_TEST_DATABASE_URL") else {
        eprintln!("RIVVI_TEST_DATABASE_URL is not set: skipping the PostgreSQL run");
        return;
    };
    let name = format!("rivvi_migration_test_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(&admin_url).await.unwrap();
    admin.execute_unprepared(&format!(r#"CREATE DATABASE "{name}""#)).await.unwrap();

    let db = Database::connect(with_database(&admin_url, &name)).await.unwrap();
    // Run the body in its own task so a failed assertion still drops the database.
    let outcome = tokio::spawn({
        let db = db.clone();
        async move {
            up_down_up(&db).await;
            duplicate_uploads_are_merged(&db).await;
            Migrator::up(&db, None).await.unwrap();
            assert_bulk_import_keys(&db, true).await;
            Migrator::down(&db, Some(11)).await.unwrap();
            assert_bulk_import_keys(&db, false).await;
            Migrator::up(&db, None).await.unwrap();
            assert_bulk_import_keys(&db, true).await;
        }
    })
    .await;
    db.close().await.unwrap();
    admin.execute_unprepared(&format!(r#"DROP DATABASE "{name}" WITH (FORCE)"#)).await.unwrap();
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}

/// What `m20261126_000001_bulk_import_keys` changes on PostgreSQL (`applied`) or leaves as
/// before: the run rows' foreign keys and the collation of the patients' lookup keys.
async fn assert_bulk_import_keys(db: &DatabaseConnection, applied: bool) {
    let scalar = |sql: String| async move {
        let row =
            db.query_one(Statement::from_string(DatabaseBackend::Postgres, sql)).await.unwrap().unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    };
    let constraint = |name: &str| format!("SELECT COUNT(*) FROM pg_constraint WHERE conname = '{name}'");
    assert_eq!(scalar(constraint("fk_run_rows_run_id_org_id")).await, i64::from(applied));
    assert_eq!(scalar(constraint("ux_runs_id_org_id")).await, i64::from(applied));
    assert_eq!(scalar(constraint("fk_run_rows_run_id")).await, i64::from(!applied));
    assert_eq!(scalar(constraint("fk_run_rows_org_id")).await, i64::from(!applied));
    let c_collated = "SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 'patients' \
                      AND column_name IN ('identity_key', 'phone_key', 'secondary_phone_key') \
                      AND collation_name = 'C'"
        .to_owned();
    assert_eq!(scalar(c_collated).await, if applied { 3 } else { 0 });
}

/// `postgres://user@host:port/admin_db?opts` -> the same URL naming `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}
