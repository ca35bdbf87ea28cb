//! Column mapping through the whole pipeline: export headers, ambiguity, explicit overrides,
//! combined names, and one patient written many ways.

use rivvi_ingestion::map::{AmbiguityKind, ColumnRef, ExplicitColumn, MatchMethod, ValuePart};
use rivvi_ingestion::preview::RowStatus;
use rivvi_ingestion::{ExplicitMapping, IngestError, ReadOptions};

use crate::support::{preview, preview_with, try_preview, vars_at};

fn edges(p: &rivvi_ingestion::Preview) -> Vec<(String, String, MatchMethod)> {
    p.mapping.iter().map(|m| (m.header.clone(), m.field.clone(), m.method)).collect()
}

#[test]
fn ehr_style_headers_map_without_help() {
    let csv = "PT_FNAME,Patient Last Name,D.O.B.,Mobile #,PT_CHART_NO\nAnn,Lee,01/02/1980,3125550143,A-1\n";
    let p = preview(csv.as_bytes(), "ehr.csv");
    let e = edges(&p);
    assert!(e.contains(&("PT_FNAME".into(), "firstName".into(), MatchMethod::Fuzzy)), "{e:?}");
    assert!(e.contains(&("Patient Last Name".into(), "lastName".into(), MatchMethod::Alias)), "{e:?}");
    assert!(e.contains(&("D.O.B.".into(), "dob".into(), MatchMethod::Exact)), "{e:?}");
    assert!(e.contains(&("Mobile #".into(), "primaryPhone".into(), MatchMethod::Alias)), "{e:?}");
    assert!(e.contains(&("PT_CHART_NO".into(), "mrn".into(), MatchMethod::Fuzzy)), "{e:?}");
    assert!(p.mapping.iter().all(|m| m.confidence > 0.5 && m.confidence <= 1.0));
    assert_eq!(p.counts.callable_rows, 1);
}

#[test]
fn ambiguous_columns_are_reported_and_left_unmapped() {
    let csv = "First Name,Last Name,DOB,Phone,Phone,Date\nAnn,Lee,1/2/1980,3125550143,3125550144,12/1/2026\n";
    let p = preview(csv.as_bytes(), "dup.csv");
    assert!(p.mapping.iter().all(|m| m.field != "primaryPhone"));
    let several = p.ambiguities.iter().find(|a| a.kind == AmbiguityKind::SeveralColumns).unwrap();
    assert_eq!(several.candidates.iter().map(|c| c.column).collect::<Vec<_>>(), [3, 4]);
    assert!(several.message.contains("primaryPhone"));
    assert!(p.ambiguities.iter().any(|a| a.candidates.iter().any(|c| c.header == "Date")));
    // Without a phone column every row says so.
    assert_eq!(p.rows[0].errors[0].reason, "phone missing");
}

#[test]
fn an_explicit_mapping_overrides_detection() {
    let csv = "First Name,Last Name,DOB,Phone,Phone,Date\nAnn,Lee,1/2/1980,3125550143,3125550144,12/1/2026\n";
    let mapping = ExplicitMapping(vec![
        ExplicitColumn { column: ColumnRef::Index(4), field: Some("primaryPhone".into()) },
        ExplicitColumn { column: ColumnRef::Index(3), field: Some("secondaryPhone".into()) },
        ExplicitColumn { column: ColumnRef::Header("date".into()), field: Some("appointmentDate".into()) },
        ExplicitColumn { column: ColumnRef::Header("First Name".into()), field: None },
        ExplicitColumn { column: ColumnRef::Index(1), field: Some("firstName".into()) },
    ]);
    let p = preview_with(csv.as_bytes(), "dup.csv", ReadOptions::default(), Some(mapping));
    let v = vars_at(&p, 2);
    assert_eq!(v["primaryPhone"], "+13125550144");
    assert_eq!(v["secondaryPhone"], "+13125550143");
    assert_eq!(v["appointmentDate"], "2026-12-01");
    assert_eq!(v["firstName"], "Lee");
    assert!(p.unmapped_columns.iter().any(|c| c.header == "First Name"));
    assert!(p
        .mapping
        .iter()
        .filter(|m| m.field == "primaryPhone")
        .all(|m| m.method == MatchMethod::Explicit));
    // The JSON form the API receives.
    let json: ExplicitMapping = serde_json::from_str(
        r#"[{"column": 4, "field": "primaryPhone"}, {"column": "Date", "field": null}]"#,
    )
    .unwrap();
    assert_eq!(json.0[1].column, ColumnRef::Header("Date".into()));
}

#[test]
fn an_explicit_mapping_naming_nothing_is_refused() {
    let csv = "First Name,Last Name,DOB,Phone\nAnn,Lee,1/2/1980,3125550143\n";
    let bad = |column: ColumnRef, field: &str| {
        let m = ExplicitMapping(vec![ExplicitColumn { column, field: Some(field.into()) }]);
        try_preview(csv.as_bytes(), "a.csv", ReadOptions::default(), Some(m)).unwrap_err()
    };
    assert_eq!(
        bad(ColumnRef::Header("Fax".into()), "primaryPhone"),
        IngestError::InvalidMapping("no column is headed \"Fax\"".into())
    );
    assert_eq!(
        bad(ColumnRef::Index(9), "primaryPhone"),
        IngestError::InvalidMapping("column 9 does not exist; the sheet has 4 columns".into())
    );
    assert_eq!(
        bad(ColumnRef::Index(0), "nickname"),
        IngestError::InvalidMapping("no variable has the key \"nickname\"".into())
    );
}

#[test]
fn a_combined_name_column_fills_first_and_last_in_both_orders() {
    let csv = "Patient Name,DOB,Phone\n\"Lee, Ann\",1/2/1980,3125550143\nBob Van der Berg,2/3/1970,3125550144\n\"Muñoz,  María José \",3/4/1960,3125550145\n";
    let p = preview(csv.as_bytes(), "names.csv");
    let parts: Vec<(String, ValuePart)> =
        p.mapping.iter().filter(|m| m.column == 0).map(|m| (m.field.clone(), m.part)).collect();
    assert_eq!(
        parts,
        [("firstName".into(), ValuePart::GivenName), ("lastName".into(), ValuePart::FamilyName)]
    );
    let name = |row| {
        let v = vars_at(&p, row);
        (v["firstName"].clone(), v["lastName"].clone())
    };
    assert_eq!(name(2), ("Ann".into(), "Lee".into()));
    assert_eq!(name(3), ("Bob".into(), "Van der Berg".into()));
    assert_eq!(name(4), ("María José".into(), "Muñoz".into()));
    assert_eq!(p.rows[2].cells[0].text, "Muñoz,  María José ");
}

#[test]
fn the_same_patient_written_differently_is_one_patient() {
    let csv = "First Name,Last Name,DOB,Phone\n\
               José,O'Brien-Smith,03/04/1985,(312) 555-0143\n\
               JOSE,obrien smith,1985-03-04,312.555.0143\n\
               jose ,O Brien Smith,March 4 1985,+1 312 555 0143\n\
               José,O'Brien-Smith,3/4/85,3125550143.0\n\
               José,O'Brien-Smith,3/4/1985,3125550199\n";
    let p = preview(csv.as_bytes(), "same.csv");
    let statuses: Vec<RowStatus> = p.rows.iter().map(|r| r.status).collect();
    use RowStatus::*;
    assert_eq!(statuses, [Callable, Duplicate, Duplicate, Duplicate, Callable]);
    assert!(p.rows[1..4].iter().all(|r| r.duplicate_of == Some(0)));
    assert_eq!((p.counts.distinct_patients, p.counts.duplicate_rows), (2, 3));
    // Duplicates keep their own cells.
    assert_eq!(p.rows[2].cells[2].text, "March 4 1985");
}
