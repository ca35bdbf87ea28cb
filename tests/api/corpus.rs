//! The header corpus of issue 16 through `runs.preview` over HTTP: corpus sheets (Spanish
//! exports, workbooks, layout headers, trap columns) uploaded and previewed against the
//! built-in reminder variables give the mapping, doubts and counts the ingestion library finds,
//! and, once the mapper changes of issue 16 are in, the mapping each set expects.

use serde_json::{json, Value};

use crate::support::seed::world_with_reminders;
use crate::support::TestApp;

// The corpus and its generator, shared with the ingestion and CLI tests so all three grade the
// same sheets.
#[path = "../../crates/ingestion/tests/corpus/sheets.rs"]
#[allow(dead_code)]
mod sheets;

/// Every corpus sheet's set, its `runs.preview` over HTTP and the library's preview of the same
/// bytes.
async fn previews() -> Vec<(sheets::HeaderSet, Value, rivvi_ingestion::Preview)> {
    let app = TestApp::spawn().await;
    let (world, campaign) = world_with_reminders(&app).await;
    let member = world.alpha.member.as_str();
    // The server previews on its clock's day; the system clock here.
    let today = chrono::Utc::now().date_naive();
    let sets = sheets::sets().unwrap();
    let mut out = Vec::new();
    for set in sets {
        let (name, bytes, library) = sheets::preview(&set, today).unwrap();
        let upload = app.upload(member, &name, bytes).await;

        let preview = app
            .query(Some(member), "runs.preview", json!({"campaignId": campaign, "uploadId": upload}))
            .await;

        out.push((set, preview.data().clone(), library));
    }
    app.stop().await;
    out
}

fn wire_edges(preview: &Value) -> Vec<(usize, String)> {
    sheets::wire_mapping(&preview["mapping"], "column").into_iter().map(|(c, f, _)| (c, f)).collect()
}

fn wire_doubts(preview: &Value) -> Vec<sheets::Doubt> {
    preview["ambiguities"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["candidates"].as_array().unwrap().iter())
        .map(|c| sheets::Doubt {
            column: c["column"].as_u64().map(|c| c as usize),
            field: c["field"].as_str().unwrap().to_owned(),
        })
        .collect()
}

#[tokio::test]
async fn runs_preview_of_corpus_sheets_gives_the_mapping_doubts_and_counts_the_library_finds() {
    for (set, preview, library) in previews().await {
        let id = &set.id;
        let parts = sheets::wire_mapping(&preview["mapping"], "column");
        let expected = sheets::mapping_parts(&library);
        assert_eq!(parts, expected, "{id}: mapping");
        assert_eq!(wire_doubts(&preview), sheets::doubts(&library), "{id}: ambiguities");
        assert_eq!(preview["headers"], json!(set.headers()), "{id}: headers");
        let counts = &preview["counts"];
        let count = |k: &str| counts[k].as_u64().unwrap() as usize;
        assert_eq!(count("dataRows"), sheets::ROWS, "{id}");
        assert_eq!(
            count("invalidRows") + count("duplicateRows") + count("callableRows"),
            sheets::ROWS,
            "{id}"
        );
        assert_eq!(
            (count("invalidRows"), count("callableRows"), count("distinctPatients")),
            (library.counts.invalid_rows, library.counts.callable_rows, library.counts.distinct_patients),
            "{id}: counts"
        );
        assert_eq!(preview["invalidRows"].as_array().unwrap().len(), count("invalidRows"), "{id}");
        let graded = sheets::judge(&set, &wire_edges(&preview), &wire_doubts(&preview));
        println!("{id}: {} {}", graded.verdict.name(), graded.details.join("; "));
    }
}

#[tokio::test]
async fn runs_preview_maps_the_corpus_at_the_issues_rate_with_no_wrong_guess() {
    let grades: Vec<(String, sheets::Grade)> = previews()
        .await
        .into_iter()
        .map(|(set, preview, _)| {
            let grade = sheets::judge(&set, &wire_edges(&preview), &wire_doubts(&preview));
            (set.id, grade)
        })
        .collect();

    if let Err(shortfall) = sheets::meets_targets(&grades) {
        panic!("{shortfall}");
    }
}
