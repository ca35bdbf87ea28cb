use rivvi_persistence::{connect, migrate};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

async fn pragma(db: &DatabaseConnection, name: &str) -> String {
    let row = db
        .query_one(Statement::from_string(db.get_database_backend(), format!("PRAGMA {name}")))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<String>(0)
        .or_else(|_| row.try_get_by_index::<i64>(0).map(|n| n.to_string()))
        .unwrap()
}

#[tokio::test]
async fn a_sqlite_file_is_created_with_wal_foreign_keys_and_a_busy_timeout() {
    let dir = std::env::temp_dir().join(format!("rivvi-connect-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = connect(&format!("sqlite://{}", dir.join("new.db").display())).await.unwrap();

    assert_eq!(pragma(&db, "journal_mode").await, "wal");
    assert_eq!(pragma(&db, "foreign_keys").await, "1");
    assert_eq!(pragma(&db, "busy_timeout").await, "5000");
    migrate(&db).await.unwrap();
    migrate(&db).await.unwrap(); // a second run finds nothing pending

    db.close().await.unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn an_in_memory_sqlite_database_keeps_its_schema_across_queries() {
    let db = connect("sqlite::memory:").await.unwrap();
    migrate(&db).await.unwrap();

    let org =
        rivvi_persistence::identity::upsert_org_by_clerk_id(&db, "org_mem", None, None, false).await.unwrap();
    let found = rivvi_persistence::organizations::get_by_id(&db, org.id).await.unwrap();

    assert_eq!(found, org);
}
