//! A fresh, migrated database per test (feature `testing`).
//!
//! SQLite always: a temporary file, opened through [`crate::connect`] so tests run with the
//! production pragmas. PostgreSQL when `RIVVI_TEST_DATABASE_URL` is set: a uniquely named database
//! created through that (admin) URL and dropped afterwards.

use std::future::Future;
use std::path::PathBuf;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

use crate::{connect, migrate, PersistenceError, Result};

/// The environment variable naming a PostgreSQL server (any database on it) tests may create
/// databases on, such as `postgres://postgres@127.0.0.1:5432/postgres`.
pub const TEST_DATABASE_URL_VAR: &str = "RIVVI_TEST_DATABASE_URL";

/// A database that exists for one test.
pub struct TestDatabase {
    conn: DatabaseConnection,
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    SqliteFile(PathBuf),
    Postgres { admin_url: String, name: String },
}

/// Which database a test runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    /// The admin URL from [`TEST_DATABASE_URL_VAR`].
    Postgres(String),
}

impl TestBackend {
    /// SQLite, plus PostgreSQL when [`TEST_DATABASE_URL_VAR`] is set.
    pub fn from_env() -> Vec<TestBackend> {
        let mut backends = vec![TestBackend::Sqlite];
        if let Ok(url) = std::env::var(TEST_DATABASE_URL_VAR) {
            if !url.trim().is_empty() {
                backends.push(TestBackend::Postgres(url));
            }
        }
        backends
    }
}

impl TestDatabase {
    /// Creates and migrates a database on `backend`.
    pub async fn create(backend: &TestBackend) -> Result<TestDatabase> {
        match backend {
            TestBackend::Sqlite => Self::sqlite().await,
            TestBackend::Postgres(admin_url) => Self::postgres(admin_url).await,
        }
    }

    pub async fn sqlite() -> Result<TestDatabase> {
        let path = std::env::temp_dir().join(format!("rivvi-test-{}.db", uuid::Uuid::new_v4().simple()));
        let url = format!("sqlite://{}", path.display());
        let conn = connect(&url).await?;
        let db = TestDatabase { conn, url, cleanup: Cleanup::SqliteFile(path) };
        migrate(&db.conn).await?;
        Ok(db)
    }

    pub async fn postgres(admin_url: &str) -> Result<TestDatabase> {
        let name = format!("rivvi_test_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(admin_url).await?;
        admin.execute_unprepared(&format!(r#"CREATE DATABASE "{name}""#)).await?;
        admin.close().await?;
        let url = with_database(admin_url, &name);
        let conn = connect(&url).await?;
        let db =
            TestDatabase { conn, url, cleanup: Cleanup::Postgres { admin_url: admin_url.to_owned(), name } };
        migrate(&db.conn).await?;
        Ok(db)
    }

    /// The pool (cheap to clone).
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// The URL, for a server under test to connect to the same database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Closes the pool and deletes the database.
    pub async fn destroy(self) -> Result<()> {
        self.conn.close().await?;
        match self.cleanup {
            Cleanup::SqliteFile(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    // Missing -wal/-shm files are fine: SQLite removes them on a clean close.
                    let _ = std::fs::remove_file(file);
                }
            }
            Cleanup::Postgres { admin_url, name } => {
                let admin = Database::connect(&admin_url).await?;
                admin
                    .execute_unprepared(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))
                    .await?;
                admin.close().await?;
            }
        }
        Ok(())
    }
}

/// Runs `test` once per backend of [`TestBackend::from_env`], each time on a fresh database that
/// is deleted afterwards, even when the test panics (the panic is then re-raised).
pub async fn on_each_backend<F, Fut>(mut test: F)
where
    F: FnMut(DatabaseConnection) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in TestBackend::from_env() {
        let db = match TestDatabase::create(&backend).await {
            Ok(db) => db,
            Err(err) => panic!("creating a {backend:?} test database: {}", chain(&err)),
        };
        let outcome = CatchUnwind { inner: Box::pin(test(db.conn().clone())) }.await;
        if let Err(err) = db.destroy().await {
            panic!("deleting a {backend:?} test database: {}", chain(&err));
        }
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }
}

/// Polls the test's future, catching a panic so the database can still be deleted (the future is
/// dropped unfinished). Written out to keep an async runtime out of this crate's dependencies.
struct CatchUnwind<Fut> {
    inner: std::pin::Pin<Box<Fut>>,
}

impl<Fut: Future<Output = ()>> Future for CatchUnwind<Fut> {
    type Output = std::result::Result<(), Box<dyn std::any::Any + Send>>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let inner = self.inner.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(std::task::Poll::Ready(())) => std::task::Poll::Ready(Ok(())),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(panic) => std::task::Poll::Ready(Err(panic)),
        }
    }
}

fn chain(err: &PersistenceError) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `postgres://user@host:port/admin_db?opts` -> the same URL naming `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_test_database_replaces_the_admin_database_in_the_url() {
        assert_eq!(with_database("postgres://p@h:5432/postgres", "t1"), "postgres://p@h:5432/t1");
        assert_eq!(with_database("postgres://p@h:5432", "t1"), "postgres://p@h:5432/t1");
        assert_eq!(
            with_database("postgres://p@h/postgres?sslmode=disable", "t1"),
            "postgres://p@h/t1?sslmode=disable"
        );
    }
}
