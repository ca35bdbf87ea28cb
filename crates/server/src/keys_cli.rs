//! `rivvi keys`: which data keys sealed what, and rotation to a new one (README, "Protecting
//! patient data").
//!
//! `rotate` re-seals every sealed value that names another key with the active (first) key of
//! `RIVVI_DATA_KEY`, online: a batch of rows per transaction, rows the running servers hold
//! skipped and counted at the end. Then every stored object whose data key another key wraps is
//! re-wrapped (its header only: the sealed chunks are copied as they are). It is safe to stop at
//! any point and run again: values and objects already on the active key are left alone. It ends
//! by counting what is still sealed with another key; at zero, the older keys can leave
//! `RIVVI_DATA_KEY`.

use std::io::IsTerminal as _;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use rivvi_persistence::rotation::{self, Census, SEALED};
use rivvi_persistence::sealing::{self, Keys};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::config::Settings;
use crate::storage::{ObjectStore, Rewrapped, SealedStore, StoredFormat};

/// Stored objects by how they are sealed: key id (or `plaintext`) -> count.
type ObjectCensus = std::collections::BTreeMap<String, u64>;

/// `rivvi keys status`: sealed values per column and key id.
pub async fn status() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let keys = crate::app::load_keys(&settings)?;
    let db = crate::database::connect(&settings).await?;
    let census = rotation::census(&db, rotation::BATCH).await.context("counting sealed values")?;
    let objects = object_census(&store(&settings, &keys).await?).await?;
    println!("keys: {} (the first seals)", keys.sealer.key_ids().join(", "));
    print_census(&census);
    print_objects(&objects);
    report_left(&census, &objects, keys.sealer.active_key_id());
    Ok(())
}

async fn store(settings: &Settings, keys: &Keys) -> anyhow::Result<SealedStore> {
    let raw = ObjectStore::from_settings(&settings.storage).await.context("opening object storage")?;
    Ok(SealedStore::new(raw, keys.sealer.clone()))
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
    let store = store(&settings, &keys).await?;
    let rewrapped = rewrap_objects(&store).await?;
    println!("{rewrapped} objects re-wrapped.");
    let census = rotation::census(&db, rotation::BATCH).await.context("counting sealed values")?;
    let objects = object_census(&store).await?;
    report_left(&census, &objects, &active);
    Ok(())
}

/// Re-wraps every object another key wraps; failures are named and leave the object as it was
/// (still readable with the old key), counted by the census that follows.
async fn rewrap_objects(store: &SealedStore) -> anyhow::Result<u64> {
    let objects = store.list("").await.context("listing stored objects")?;
    let bar = progress(objects.len() as u64, "objects", "objects");
    let mut rewrapped = 0;
    for key in &objects {
        match store.rewrap(key).await {
            Ok(Rewrapped::Rewrapped { .. }) => rewrapped += 1,
            Ok(Rewrapped::AlreadyActive | Rewrapped::Plaintext) => {}
            Err(err) => {
                let line = format!("error: re-wrapping {key}: {:#}", anyhow::Error::new(err));
                match &bar {
                    Some(bar) => bar.suspend(|| eprintln!("{line}")),
                    None => eprintln!("{line}"),
                }
            }
        }
        if let Some(bar) = &bar {
            bar.inc(1);
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(rewrapped)
}

async fn object_census(store: &SealedStore) -> anyhow::Result<ObjectCensus> {
    let mut census = ObjectCensus::new();
    for key in store.list("").await.context("listing stored objects")? {
        let format = store.key_id_of(&key).await.with_context(|| format!("reading the header of {key}"))?;
        let label = match format {
            StoredFormat::Sealed { key_id } => key_id,
            StoredFormat::Plaintext => "plaintext".to_owned(),
        };
        *census.entry(label).or_default() += 1;
    }
    Ok(census)
}

/// A progress bar on a terminal only (logs and tests get the summary lines alone).
fn progress(len: u64, message: &'static str, unit: &str) -> Option<ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(len);
        if let Ok(style) =
            ProgressStyle::with_template(&format!("  {{msg:<12}} [{{bar:40}}] {{pos}}/{{len}} {unit}"))
        {
            bar.set_style(style);
        }
        bar.set_message(message);
        bar
    })
}

async fn reseal_table(
    db: &DatabaseConnection,
    keys: &Keys,
    table: &rotation::SealedTable,
    batch: u64,
) -> anyhow::Result<u64> {
    let bar = progress(row_count(db, table.table).await?, table.table, "rows");
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

fn print_objects(objects: &ObjectCensus) {
    let counts: Vec<String> = objects.iter().map(|(key, n)| format!("{key}: {n}")).collect();
    println!(
        "  {:<32} {}",
        "stored objects",
        if counts.is_empty() { "none".into() } else { counts.join(", ") }
    );
}

fn report_left(census: &Census, objects: &ObjectCensus, active: &str) {
    let left = rotation::left_on_other_keys(census, active);
    let objects_left: u64 =
        objects.iter().filter(|(key, _)| *key != active && *key != "plaintext").map(|(_, n)| n).sum();
    println!("{left} values and {objects_left} objects left on other keys than {active}.");
    if left == 0 && objects_left == 0 {
        println!(
            "Every sealed value and object opens with {active}: the other keys may leave RIVVI_DATA_KEY."
        );
    } else {
        println!("Run `rivvi keys rotate` again (rows in use by a server are skipped and taken next time).");
    }
    if let Some(plaintext) = objects.get("plaintext") {
        println!("{plaintext} objects are stored unsealed: run `rivvi storage seal`.");
    }
}
