//! Database connection and migrations for the host.

use anyhow::Context as _;
use sea_orm::DatabaseConnection;

use crate::config::Settings;

pub async fn connect(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    if let Some(path) = sqlite_file(&settings.database_url) {
        if let Some(dir) = std::path::Path::new(path).parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
    }
    rivvi_persistence::connect(&settings.database_url).await.context("connecting to the database")
}

pub async fn migrate_up(db: &DatabaseConnection) -> anyhow::Result<()> {
    Ok(rivvi_persistence::migrate(db).await?)
}

fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://")?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then_some(path)
}
