//! `rivvi ingest preview FILE`: what a sheet would become, offline, for operators checking an
//! export before a clinic uploads it.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use rivvi_domain::campaign::NewCampaign;
use rivvi_ingestion::report::{preview_report, Report};

/// Files at least this large get a progress bar (on a terminal).
const PROGRESS_THRESHOLD: usize = 1024 * 1024;

/// Previews `file` against the campaign in `campaign` (a `campaigns.create` campaign JSON) or
/// the built-in appointment-reminder variables, printing JSON or a summary.
pub fn preview(file: &Path, campaign: Option<&Path>, sheet: Option<&str>, json: bool) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let variables = match campaign {
        None => None,
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            let campaign: NewCampaign = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a campaign JSON", path.display()))?;
            let definition = campaign.validate().map_err(|errors| {
                let list: Vec<String> =
                    errors.errors().iter().map(|e| format!("{}: {}", e.field, e.reason)).collect();
                anyhow::anyhow!("{} is not a valid campaign: {}", path.display(), list.join("; "))
            })?;
            Some(definition.variables().to_vec())
        }
    };
    let file_name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let bar = (bytes.len() >= PROGRESS_THRESHOLD && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(1000);
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{bar:40}] {percent}%") {
            bar.set_style(style);
        }
        bar.set_message(file_name.clone());
        bar
    });
    let on_progress = |done: u64, total: u64| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    };
    let today = chrono::Utc::now().date_naive();
    let report = preview_report(&bytes, &file_name, variables.as_deref(), sheet, today, Some(&on_progress));
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = report.with_context(|| format!("{file_name} cannot be imported"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_summary(&report);
    }
    Ok(())
}

fn print_summary(report: &Report) {
    println!("{}: header on row {}", report.file, report.header_row);
    println!(
        "  {} data rows: {} callable, {} invalid, {} duplicate; {} distinct patients",
        report.data_rows,
        report.callable_rows,
        report.invalid_rows,
        report.duplicate_rows,
        report.distinct_patients
    );
    println!("  mapping:");
    for m in &report.mapping {
        println!("    {:<28} -> {:<20} {:.2}", m.column, m.field, m.confidence);
    }
    if !report.unmapped_columns.is_empty() {
        println!("  unmapped columns: {}", report.unmapped_columns.join(", "));
    }
    for doubt in &report.ambiguities {
        println!("  ambiguous: {doubt}");
    }
    for e in &report.errors {
        println!("  row {}: {}: {}", e.row, e.field, e.reason);
    }
}
