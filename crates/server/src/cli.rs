//! The `rivvi` command line: `serve` (the default), `migrate`, `dev-token`, `keys`, `storage`,
//! `purge`, `ingest`, `bindings`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sea_orm_migration::MigratorTrait;

use crate::app::{shutdown_signal, Application};
use crate::auth::dev_key::{session_claims, ClaimShape, DevKey};
use crate::config::{JwtKeySource, Settings};
use crate::storage::{ObjectStore, SealedStore, Sealing};

#[derive(Parser)]
#[command(name = "rivvi", version, about = "Rivvi backend: healthcare outreach with voice AI")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    Serve {
        /// Keep the embedded development defaults even when a Clerk key is configured (same as
        /// RIVVI_ENV=development): try tokens signed by your own Clerk instance locally.
        #[arg(long)]
        dev: bool,
    },
    /// Apply or inspect database migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Mint a development session token (only accepted while no Clerk key is configured).
    DevToken {
        /// Clerk organization id to act in (e.g. org_clinic_a). Defaults to the operator
        /// organization for --role super_admin.
        #[arg(long)]
        org: Option<String>,
        /// member, admin or super_admin.
        #[arg(long, default_value = "admin")]
        role: DevRole,
        /// Clerk user id to act as.
        #[arg(long, default_value = "user_dev")]
        user: String,
        /// Organization claim shape: v1 (org_id, org_role) or v2 (o.id, o.rol).
        #[arg(long, value_enum, default_value = "v2")]
        claims: ClaimShape,
        /// Lifetime in hours.
        #[arg(long, default_value_t = 12)]
        hours: i64,
    },
    /// Data keys: which sealed what, and rotation to a new one.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Object storage maintenance.
    Storage {
        #[command(subcommand)]
        action: StorageAction,
    },
    /// Delete what the organizations' retention settings say expired (uploads, call transcripts,
    /// summaries and recording URLs), as the servers do every RIVVI_RETENTION_EVERY.
    Purge {
        /// List what would go, per organization, and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Offline ingestion tools.
    Ingest {
        #[command(subcommand)]
        action: IngestAction,
    },
    /// Write the TypeScript bindings (procedure map and types).
    Bindings {
        #[arg(long, default_value = "bindings/procedures.ts")]
        out: PathBuf,
    },
    /// A guided tour on the embedded defaults: a demo clinic, campaign and sheet of synthetic
    /// patients, called on the built-in simulator on a simulated clock that skips idle time (it
    /// works at any hour), then a summary and the commands to explore the result.
    Demo {
        /// Start the simulated clock at this RFC 3339 instant instead of now (tests pin the hour).
        #[arg(long, hide = true, value_parser = crate::demo::parse_instant)]
        start_at: Option<chrono::DateTime<chrono::Utc>>,
        /// Real milliseconds between clock steps while calls are going.
        #[arg(long, hide = true)]
        step_ms: Option<u64>,
    },
    /// Prints, as TypeScript, every body Rivvi sends to Retell and every body its simulator
    /// answers, each `satisfies` its retell-sdk type (tests/client/run.sh type-checks it).
    RetellContract,
}

#[derive(Subcommand)]
enum IngestAction {
    /// What a sheet would become: header, mapping, counts and every problem row.
    Preview {
        /// An xlsx, xlsm, xls, xlsb, ods, csv or tsv file.
        file: PathBuf,
        /// A campaign JSON (as in campaigns.create); default: the built-in appointment-reminder set.
        #[arg(long)]
        campaign: Option<PathBuf>,
        /// The workbook sheet to read; default: the first with a detectable header.
        #[arg(long)]
        sheet: Option<String>,
        /// Print the full report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Count the sealed values of every column by the key that sealed them.
    Status,
    /// Re-seal every value that another key sealed with the active key of RIVVI_DATA_KEY (online,
    /// in batches; safe to stop and run again).
    Rotate {
        /// First add a new data key: written to the development key file, or printed to be put
        /// first in RIVVI_DATA_KEY (then restart the servers and run `rivvi keys rotate`).
        #[arg(long)]
        new_key: bool,
        /// Rows per transaction.
        #[arg(long, default_value_t = rivvi_persistence::rotation::BATCH)]
        batch: u64,
    },
}

#[derive(Subcommand)]
enum StorageAction {
    /// Seal every object stored before sealing (STORAGE_URL, with RIVVI_DATA_KEY's active key).
    /// Already sealed objects are skipped, so an interrupted run can simply be run again.
    Seal {
        /// Only objects whose key starts with this (such as orgs/<org id>/).
        #[arg(long, default_value = "")]
        prefix: String,
    },
}

#[derive(Subcommand)]
enum MigrateAction {
    /// Apply all pending migrations.
    Up,
    /// Roll back the last migration.
    Down,
    /// List migrations and whether each is applied.
    Status,
    /// Drop everything and apply all migrations again (development only).
    Fresh,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum DevRole {
    Member,
    Admin,
    #[value(name = "super_admin")]
    SuperAdmin,
}

pub fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: starting the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve { dev: false }) {
        Command::Serve { dev } => serve(dev).await,
        Command::Migrate { action } => migrate(action).await,
        Command::DevToken { org, role, user, claims, hours } => dev_token(org, role, user, claims, hours),
        Command::Keys { action: KeysAction::Status } => crate::keys_cli::status().await,
        Command::Keys { action: KeysAction::Rotate { new_key, batch } } => {
            crate::keys_cli::rotate(new_key, batch).await
        }
        Command::Storage { action: StorageAction::Seal { prefix } } => seal_storage(&prefix).await,
        Command::Purge { dry_run } => crate::purge_cli::purge(dry_run).await,
        Command::Ingest { action: IngestAction::Preview { file, campaign, sheet, json } } => {
            crate::ingest_cli::preview(&file, campaign.as_deref(), sheet.as_deref(), json)
        }
        Command::Bindings { out } => {
            crate::api::export_bindings(&out)?;
            println!("wrote {}", out.display());
            Ok(())
        }
        Command::Demo { start_at, step_ms } => {
            let pace = step_ms.map_or(crate::demo::DEFAULT_PACE, std::time::Duration::from_millis);
            crate::demo::run(crate::demo::DemoOptions { start_at, pace }).await
        }
        Command::RetellContract => {
            let module = rivvi_execution::retell::contract::typescript()
                .map_err(|e| anyhow::anyhow!("the simulator refused a contract example: {e}"))?;
            print!("{module}");
            Ok(())
        }
    }
}

async fn serve(dev: bool) -> anyhow::Result<()> {
    let mut vars: std::collections::HashMap<String, String> = std::env::vars().collect();
    if dev {
        vars.insert("RIVVI_ENV".into(), "development".into());
    }
    let settings = Settings::from_vars(&vars)?;
    crate::telemetry::init(settings.json_logs);
    let development = matches!(settings.auth.jwt_key, JwtKeySource::DevKey);
    let app = Application::build(settings).await?;
    if development {
        println!(
            "\nRivvi is running on http://{addr} (development mode: SQLite, local files and the built-in Retell simulator).\n\
             Get a token:  cargo run -q -- dev-token --org org_demo --role admin\n\
             Then:         curl -H \"Authorization: Bearer $TOKEN\" http://{addr}/rspc/organizations.getCurrent\n",
            addr = app.address()
        );
    }
    app.run_until_stopped(shutdown_signal()).await
}

async fn migrate(action: MigrateAction) -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    crate::telemetry::init(settings.json_logs);
    let db = crate::database::connect(&settings).await?;
    use rivvi_migration::Migrator;
    match action {
        MigrateAction::Up => Migrator::up(&db, None).await?,
        MigrateAction::Down => Migrator::down(&db, Some(1)).await?,
        MigrateAction::Status => Migrator::status(&db).await?,
        MigrateAction::Fresh => {
            anyhow::ensure!(!settings.production, "refusing to drop a production database");
            Migrator::fresh(&db).await?
        }
    }
    Ok(())
}

/// Seals the plaintext objects under `prefix`, one at a time (each replaced atomically), and
/// reports the counts. A failure is reported and counted, and the run goes on to the next object.
async fn seal_storage(prefix: &str) -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    crate::telemetry::init(settings.json_logs);
    let keys = crate::app::load_keys(&settings)?;
    let raw = ObjectStore::from_settings(&settings.storage).await?;
    let store = SealedStore::new(raw, keys.sealer.clone());
    let keys_listed = store.list(prefix).await?;
    let progress = indicatif::ProgressBar::new(keys_listed.len() as u64);
    let (mut sealed, mut already, mut failed) = (0u64, 0u64, 0u64);
    for key in &keys_listed {
        match store.seal_plaintext(key).await {
            Ok(Sealing::Sealed { .. }) => sealed += 1,
            Ok(Sealing::AlreadySealed) => already += 1,
            Err(err) => {
                failed += 1;
                progress.suspend(|| eprintln!("error: sealing {key}: {:#}", anyhow::Error::new(err)));
            }
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    println!(
        "{}: {} objects, {sealed} sealed now with key {}, {already} already sealed, {failed} left unsealed",
        store.describe(),
        keys_listed.len(),
        keys.sealer.active_key_id(),
    );
    anyhow::ensure!(failed == 0, "{failed} objects could not be sealed; run the command again once fixed");
    Ok(())
}

fn dev_token(
    org: Option<String>,
    role: DevRole,
    user: String,
    shape: ClaimShape,
    hours: i64,
) -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    anyhow::ensure!(
        matches!(settings.auth.jwt_key, JwtKeySource::DevKey),
        "a Clerk key is configured: the server will not accept development tokens"
    );
    let operator =
        settings.auth.operator_org.clone().unwrap_or_else(|| crate::config::DEV_OPERATOR_ORG.into());
    let (org, clerk_role) = match role {
        DevRole::Member => (org, "member"),
        DevRole::Admin => (org, "admin"),
        DevRole::SuperAdmin => (Some(org.unwrap_or(operator)), "admin"),
    };
    let key = DevKey::load_or_create(&settings.data_dir)?;
    let claims =
        session_claims(&user, org.as_deref().map(|o| (o, clerk_role)), shape, chrono::Duration::hours(hours));
    println!("{}", key.sign(&claims)?);
    Ok(())
}
