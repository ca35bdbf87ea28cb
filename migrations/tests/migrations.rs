//! The schema migrates up, down and up again, on SQLite always and on PostgreSQL when
//! `RIVVI_TEST_DATABASE_URL` points at a server we may create databases on.

// Tests may unwrap; `allow-unwrap-in-tests` covers `#[test]` functions but not their helpers.
#![allow(clippy::unwrap_used)]

use rivvi_migration::{Migrator, MigratorTrait, SchemaManager};
use sea_orm_migration::sea_orm::{ConnectionTrait, Database, DatabaseConnection};

const TABLES: [&str; 15] = [
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
    assert!(Migrator::get_pending_migrations(db).await.unwrap().is_empty());

    Migrator::down(db, None).await.unwrap();
    assert_tables(db, false).await;
    assert_eq!(Migrator::get_pending_migrations(db).await.unwrap().len(), Migrator::migrations().len());

    Migrator::up(db, None).await.unwrap();
    assert_tables(db, true).await;
}

#[tokio::test]
async fn the_schema_migrates_up_down_and_up_again_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("rivvi.db").display());
    let db = Database::connect(&url).await.unwrap();

    up_down_up(&db).await;

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
        async move { up_down_up(&db).await }
    })
    .await;
    db.close().await.unwrap();
    admin.execute_unprepared(&format!(r#"DROP DATABASE "{name}" WITH (FORCE)"#)).await.unwrap();
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
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
