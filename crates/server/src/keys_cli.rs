//! `rivvi keys`: which data keys sealed what, and rotation to a new one (README, "Rotating the data
//! key").
//!
//! `rotate` re-seals every sealed value that names another key with the active (first) key of
//! `RIVVI_DATA_KEY`, online: a batch of rows per transaction, rows the running servers hold
//! skipped and counted at the end. It is safe to stop at any point and run again: values already
//! on the active key are left alone. It ends by counting what is still sealed with another key;
//! at zero, the older keys can leave `RIVVI_DATA_KEY`.

use std::io::IsTerminal as _;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use rivvi_persistence::rotation::{self, Census, SEALED};
use rivvi_persistence::sealing::{self, Keys};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::config::Settings;

/// `rivvi keys status`: sealed values per column and key id.
pub async fn status() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let keys = crate::app::load_keys(&settings)?;
    let db = crate::database::connect(&settings).await?;
    let census = rotation::census(&db, rotation::BATCH).await.context("counting sealed values")?;
    println!("keys: {} (the first seals)", keys.sealer.key_ids().join(", "));
    print_census(&census);
    report_left(&census, keys.sealer.active_key_id());
    Ok(())
}

/// `rivvi keys rotate`: with `new_key`, first a new data key (written to the development key
/// file, or printed to be set in `RIVVI_DATA_KEY`); then every value re-sealed with the active key.
pub async fn rotate(new_key: bool, batch: u64) -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    if new_key {
        match &settings.data_key {
            Some(current) => {
                let (id, entry) = sealing::new_key_entry("k")?;
                println!(
                    "New data key {id}. Set, on every instance,\n\n  RIVVI_DATA_KEY={entry},{}\n\n\
                     restart them (they seal with {id} from then on), then run `rivvi keys rotate` to \
                     re-seal what older keys sealed.",
                    current.expose()
                );
                return Ok(());
            }
            None => {
                anyhow::ensure!(!settings.production, "RIVVI_DATA_KEY is not set");
                let id = sealing::add_development_key(&settings.data_dir)?;
                println!(
                    "Added data key {id} to {} (a running development server seals with it after a restart).",
                    settings.data_dir.join(sealing::DEV_DATA_KEY_FILE).display()
                );
            }
        }
    }
    let keys = crate::app::load_keys(&settings)?;
    let db = crate::database::connect(&settings).await?;
    let active = keys.sealer.active_key_id().to_owned();
    println!("Re-sealing with key {active}, {batch} rows per transaction.");
    let mut total = 0;
    for table in SEALED {
        let resealed = reseal_table(&db, &keys, table, batch.max(1)).await?;
        println!("  {:<12} {resealed} values re-sealed", table.table);
        total += resealed;
    }
    println!("{total} values re-sealed.");
    let census = rotation::census(&db, rotation::BATCH).await.context("counting sealed values")?;
    report_left(&census, &active);
    Ok(())
}

async fn reseal_table(
    db: &DatabaseConnection,
    keys: &Keys,
    table: &rotation::SealedTable,
    batch: u64,
) -> anyhow::Result<u64> {
    let rows = row_count(db, table.table).await?;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(rows);
        if let Ok(style) = ProgressStyle::with_template("  {msg:<12} [{bar:40}] {pos}/{len} rows") {
            bar.set_style(style);
        }
        bar.set_message(table.table);
        bar
    });
    let (mut after, mut resealed) = (None, 0);
    loop {
        let done = rotation::reseal_batch(db, &keys.sealer, table, after, batch)
            .await
            .with_context(|| format!("re-sealing {}", table.table))?;
        resealed += done.resealed;
        if let Some(bar) = &bar {
            bar.inc(done.rows);
        }
        match done.last {
            Some(last) => after = Some(last),
            None => break,
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(resealed)
}

async fn row_count(db: &DatabaseConnection, table: &str) -> anyhow::Result<u64> {
    // `table` comes from the fixed list of sealed tables, never from input.
    let sql = format!("SELECT COUNT(*) AS n FROM {table}");
    let row = db.query_one(Statement::from_string(db.get_database_backend(), sql)).await?;
    let count: i64 = row.map(|r| r.try_get("", "n")).transpose()?.unwrap_or(0);
    Ok(u64::try_from(count).unwrap_or(0))
}

fn print_census(census: &Census) {
    for (place, by_key) in census {
        let keys: Vec<String> = by_key.iter().map(|(key, n)| format!("{key}: {n}")).collect();
        println!("  {place:<32} {}", keys.join(", "));
    }
}

fn report_left(census: &Census, active: &str) {
    let left = rotation::left_on_other_keys(census, active);
    println!("{left} values left on other keys than {active}.");
    if left == 0 {
        println!("Every sealed value opens with {active}: the other keys may leave RIVVI_DATA_KEY.");
    } else {
        println!("Run `rivvi keys rotate` again (rows in use by a server are skipped and taken next time).");
    }
}
