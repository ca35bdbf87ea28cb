//! A fresh database per test: a SQLite file by default, or a uniquely named PostgreSQL database
//! when `RIVVI_TEST_DATABASE_URL` points at a server (CI runs the suite both ways).

use sea_orm::{ConnectionTrait, Database, Statement};

pub struct TestDatabase {
    pub url: String,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    pub async fn create(dir: &std::path::Path) -> TestDatabase {
        match std::env::var("RIVVI_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
            Some(admin_url) => {
                let name = format!("rivvi_test_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(&admin_url).await.expect("connect to PostgreSQL");
                admin
                    .execute(Statement::from_string(
                        admin.get_database_backend(),
                        format!("CREATE DATABASE {name}"),
                    ))
                    .await
                    .expect("create test database");
                admin.close().await.ok();
                let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin_url);
                TestDatabase { url: format!("{base}/{name}"), postgres: Some((admin_url.clone(), name)) }
            }
            None => {
                TestDatabase { url: format!("sqlite://{}/rivvi.db?mode=rwc", dir.display()), postgres: None }
            }
        }
    }

    /// The same database, for a second server instance: dropping it leaves the database alone.
    pub fn borrowed(&self) -> TestDatabase {
        TestDatabase { url: self.url.clone(), postgres: None }
    }

    pub fn is_postgres(&self) -> bool {
        self.url.starts_with("postgres")
    }

    pub async fn connect(&self) -> sea_orm::DatabaseConnection {
        Database::connect(&self.url).await.expect("connect to test database")
    }

    pub async fn drop_database(&mut self) {
        if let Some((admin_url, name)) = self.postgres.take() {
            if let Ok(admin) = Database::connect(&admin_url).await {
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                let _ = admin.execute(Statement::from_string(admin.get_database_backend(), sql)).await;
                admin.close().await.ok();
            }
        }
    }
}

/// A test that panics never reaches `stop()`: drop its PostgreSQL database anyway, on a thread of
/// its own because the test's runtime may be gone.
impl Drop for TestDatabase {
    fn drop(&mut self) {
        if self.postgres.is_none() {
            return;
        }
        let mut leftover = TestDatabase { url: self.url.clone(), postgres: self.postgres.take() };
        let _ = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                runtime.block_on(leftover.drop_database());
            }
        })
        .join();
    }
}
