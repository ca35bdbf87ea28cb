//! Connecting to the database and bringing its schema up to date.

use std::time::Duration;

use rivvi_migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};

use crate::Result;

/// How long a query waits for a free pooled connection before failing. Long enough to queue behind
/// a busy moment, short enough that a request holding the only SQLite connection while asking for
/// a second one (a transaction bypassed by mistake) fails loudly instead of hanging.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// "Not in the lifetime of a process" for pool timers that cannot be switched off through
/// sea-orm (a year, not `Duration::MAX`, so timer arithmetic cannot overflow).
const NEVER: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// Opens a pool for `url` (`postgres://...` or `sqlite://path`, `sqlite::memory:`).
///
/// PostgreSQL: up to 10 connections. Each instance runs the HTTP API, the webhook handlers and
/// the engine; 10 keeps a few instances well under PostgreSQL's default `max_connections` (100)
/// while covering the short queries of a 2-core host. One connection stays open so the first
/// request after a quiet period does not pay for a TLS/auth handshake.
///
/// SQLite: exactly one connection, which makes it the single writer the engine relies on
/// (DESIGN §7). With more, a deferred transaction that reads and then writes can fail with
/// `SQLITE_BUSY` as soon as another connection commits (the busy timeout does not cover that
/// case), and an in-memory database shared between connections answers "table is locked". The
/// file is opened (created if missing) with foreign keys on (sqlx's default, pinned here because
/// the schema's ON DELETE rules depend on it), WAL (readers such as a backup or the `sqlite3`
/// shell do not block the server), `synchronous = NORMAL` (durable at checkpoints, the usual
/// pairing with WAL) and a 5 s busy timeout for those outside readers and writers.
///
/// sqlx's statement logging is off: it logs every statement at INFO; our repository spans say
/// what ran, and statements carry only placeholders anyway.
pub async fn connect(url: &str) -> Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options.sqlx_logging(false).acquire_timeout(ACQUIRE_TIMEOUT).connect_timeout(Duration::from_secs(5));
    if url.starts_with("sqlite:") {
        options
            .max_connections(1)
            .min_connections(1)
            // Never recycle the connection: an in-memory database lives only as long as its last
            // connection, and a file database gains nothing from reconnecting.
            .max_lifetime(NEVER)
            .idle_timeout(NEVER)
            .map_sqlx_sqlite_opts(|sqlite| {
                sqlite
                    .create_if_missing(true)
                    .foreign_keys(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(5))
            });
    } else {
        options.max_connections(10).min_connections(1).idle_timeout(Duration::from_secs(600));
    }
    Ok(Database::connect(options).await?)
}

/// Applies every pending migration (a no-op when the schema is current).
#[tracing::instrument(skip_all, err)]
pub async fn migrate(db: &DatabaseConnection) -> Result<()> {
    Migrator::up(db, None).await?;
    Ok(())
}
