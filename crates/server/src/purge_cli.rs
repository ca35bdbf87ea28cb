//! `rivvi purge [--dry-run]`: the retention step (`services::retention`) once, now, by hand (README,
//! "Protecting patient data"). `--dry-run` lists what would go and changes nothing.
//!
//! It prints, per organization (name and id), the uploads deleted (their ids) and the calls whose
//! transcript, summary and recording URL were cleared, then a total line. It reads the wall
//! clock, and is safe to run while servers purge too: they share the rows.

use anyhow::Context as _;

use crate::config::Settings;
use crate::services::retention::{self, PurgeReport};
use crate::storage::{ObjectStore, SealedStore};

pub async fn purge(dry_run: bool) -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let keys = crate::app::load_keys(&settings)?;
    let db = crate::database::connect(&settings).await?;
    let raw = ObjectStore::from_settings(&settings.storage).await.context("opening object storage")?;
    let store = SealedStore::new(raw, keys.sealer.clone());
    let report = retention::purge_with(&db, &store, chrono::Utc::now(), dry_run)
        .await
        .context("purging expired data")?;
    print!("{}", render(&report));
    let kept = report.uploads_kept();
    anyhow::ensure!(
        kept == 0,
        "{kept} expired uploads could not be deleted from storage; run the command again once fixed"
    );
    Ok(())
}

/// The report as printed: one block per organization with anything to purge, then the total.
fn render(report: &PurgeReport) -> String {
    use std::fmt::Write as _;
    let (uploads_verb, calls_verb) = match report.dry_run {
        true => ("would be deleted", "would be cleared"),
        false => ("deleted", "cleared"),
    };
    let mut out = String::new();
    if report.dry_run {
        out.push_str("Dry run: nothing is changed.\n");
    }
    for org in report.organizations.iter().filter(|org| org.changed_anything() || org.uploads_kept > 0) {
        let _ = writeln!(
            out,
            "{} ({}): uploads kept {} days after their runs end, transcripts {} days",
            org.name, org.org_id, org.upload_retention_days, org.transcript_retention_days
        );
        let _ = writeln!(out, "  {} uploads {uploads_verb}", org.uploads.len());
        for id in &org.uploads {
            let _ = writeln!(out, "    upload {id}");
        }
        if org.uploads_kept > 0 {
            let _ = writeln!(out, "  {} uploads kept: their objects could not be deleted", org.uploads_kept);
        }
        let _ = writeln!(
            out,
            "  {} calls' transcripts, summaries and recording URLs {calls_verb}",
            org.calls_cleared
        );
    }
    let _ = writeln!(
        out,
        "Total: {} uploads {uploads_verb}, {} calls {calls_verb}, in {} of {} organizations.",
        report.uploads(),
        report.calls_cleared(),
        report.organizations.iter().filter(|org| org.changed_anything()).count(),
        report.organizations.len(),
    );
    out
}

#[cfg(test)]
mod tests {
    use rivvi_domain::ids::{OrgId, UploadId};

    use super::*;
    use crate::services::retention::OrgPurge;

    fn org(name: &str, uploads: Vec<UploadId>, calls_cleared: u64) -> OrgPurge {
        OrgPurge {
            org_id: OrgId::new(),
            name: name.into(),
            upload_retention_days: 30,
            transcript_retention_days: 365,
            uploads,
            uploads_kept: 0,
            calls_cleared,
        }
    }

    #[test]
    fn a_dry_run_names_what_would_go_per_organization_and_skips_those_with_nothing() {
        let upload = UploadId::new();
        let report = PurgeReport {
            dry_run: true,
            organizations: vec![org("Lakeside", vec![upload], 2), org("Quiet", vec![], 0)],
        };

        let text = render(&report);

        assert!(text.starts_with("Dry run: nothing is changed.\n"), "{text}");
        assert!(text.contains("Lakeside ("), "{text}");
        assert!(text.contains(&format!("    upload {upload}\n")), "{text}");
        assert!(text.contains("1 uploads would be deleted"), "{text}");
        assert!(
            text.contains("2 calls' transcripts, summaries and recording URLs would be cleared"),
            "{text}"
        );
        assert!(!text.contains("Quiet"), "{text}");
        assert!(
            text.ends_with(
                "Total: 1 uploads would be deleted, 2 calls would be cleared, in 1 of 2 organizations.\n"
            ),
            "{text}"
        );
    }
}
