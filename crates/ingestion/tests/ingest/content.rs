//! Cells as evidence (issue 16): columns whose headers say too little are mapped by what their
//! cells hold when that is strong and unique, ties are reported rather than guessed, header
//! matches the cells contradict are questioned, and columns about someone else than the patient
//! are never taken for the patient's.

use rivvi_domain::campaign::{FieldType, VariableDefinitionInput};
use rivvi_ingestion::defaults::appointment_reminder;
use rivvi_ingestion::map::{AmbiguityKind, ColumnRef, ExplicitColumn, MatchMethod, ValuePart};
use rivvi_ingestion::preview::RowStatus;
use rivvi_ingestion::{map_columns, map_table, read_table, ExplicitMapping, Preview, ReadOptions};

use crate::support::{preview, preview_with, text_rows, today, vars_at, xlsx, V};

/// The column and method mapping `field`, if any.
fn edge(p: &Preview, field: &str) -> Option<(String, MatchMethod)> {
    p.mapping.iter().find(|m| m.field == field).map(|m| (m.header.clone(), m.method))
}

fn ambiguity_columns(p: &Preview, kind: AmbiguityKind) -> Vec<Vec<String>> {
    p.ambiguities
        .iter()
        .filter(|a| a.kind == kind)
        .map(|a| a.candidates.iter().map(|c| c.header.clone()).collect())
        .collect()
}

fn headers_of(csv: &str) -> Vec<String> {
    csv.lines().next().unwrap().split(',').map(str::to_owned).collect()
}

const CONTACT_NUMBER: &str = "Patient,DOB,Contact Number,Appt\n\
    \"Smith, John\",03/04/1985,(312) 555-0101,12/01/2026\n\
    Ann Lee,11/30/1972,312.555.0102,12/02/2026\n\
    \"García, María\",07/09/2001,+1 312 555 0103,12/03/2026\n\
    Bob Okafor,01/15/1990,3125550104,12/04/2026\n";

#[test]
fn a_contact_number_column_full_of_phones_is_the_phone() {
    let p = preview(CONTACT_NUMBER.as_bytes(), "contact.csv");
    assert_eq!(edge(&p, "primaryPhone"), Some(("Contact Number".into(), MatchMethod::Content)));
    // Appointment-like dates under a bare `Appt` settle the appointment date too.
    assert_eq!(edge(&p, "appointmentDate"), Some(("Appt".into(), MatchMethod::Content)));
    assert_eq!(edge(&p, "secondaryPhone"), None, "one phone column is the phone to call");
    assert_eq!(p.counts.callable_rows, 4);
    assert_eq!(vars_at(&p, 3)["primaryPhone"], "+13125550102");
    assert_eq!(vars_at(&p, 2)["appointmentDate"], "2026-12-01");
    let phone = p.mapping.iter().find(|m| m.field == "primaryPhone").unwrap();
    assert!(phone.confidence > 0.5 && phone.confidence <= 1.0, "{}", phone.confidence);
    assert!(p.ambiguities.is_empty(), "{:?}", p.ambiguities);
    // The headers alone leave the phone unmapped: the cells decided.
    let by_headers = map_columns(&headers_of(CONTACT_NUMBER), &appointment_reminder(), None).unwrap();
    assert!(by_headers.for_field("primaryPhone").is_none());
    let json = serde_json::to_value(&p.mapping).unwrap();
    assert!(json.as_array().unwrap().iter().any(|m| m["method"] == "content"), "{json}");
}

#[test]
fn one_row_is_not_evidence_enough() {
    let csv = "Patient,DOB,Contact Number\nAnn Lee,11/30/1972,312.555.0102\n";
    let p = preview(csv.as_bytes(), "one.csv");
    assert_eq!(edge(&p, "primaryPhone"), None);
    assert_eq!(p.rows[0].status, RowStatus::Invalid);
}

#[test]
fn numbered_columns_are_mapped_by_their_cells_alone() {
    let csv = "Col1,Col2,Col3,Col4,Col5\n\
        \"Smith, John\",03/04/1985,(312) 555-0101,12/01/2026,9:30 AM\n\
        \"Lee, Ann\",11/30/1972,(312) 555-0102,12/01/2026,10:15 AM\n\
        \"Okafor, Chidi\",7/9/2001,(312) 555-0103,12/02/2026,1:00 PM\n\
        \"Van der Berg, Dmitri\",2/21/2012,(312) 555-0104,12/03/2026,2:45 PM\n";
    let p = preview(csv.as_bytes(), "cols.csv");
    let got: Vec<(usize, &str, ValuePart, MatchMethod)> =
        p.mapping.iter().map(|m| (m.column, m.field.as_str(), m.part, m.method)).collect();
    use MatchMethod::Content;
    assert_eq!(
        got,
        [
            (0, "firstName", ValuePart::GivenName, Content),
            (0, "lastName", ValuePart::FamilyName, Content),
            (1, "dob", ValuePart::Whole, Content),
            (2, "primaryPhone", ValuePart::Whole, Content),
            (3, "appointmentDate", ValuePart::Whole, Content),
            (4, "appointmentTime", ValuePart::Whole, Content),
        ]
    );
    assert_eq!(p.counts.callable_rows, 4);
    let v = vars_at(&p, 5);
    assert_eq!((v["firstName"].as_str(), v["lastName"].as_str()), ("Dmitri", "Van der Berg"));
    assert_eq!((v["dob"].as_str(), v["appointmentTime"].as_str()), ("2012-02-21", "14:45"));
}

#[test]
fn a_column_of_clinicians_names_does_not_compete_for_the_patients_name() {
    let csv = "Col1,Col2,Col3,Col4\n\
        John Smith,03/04/1985,(312) 555-0101,Dr. Lee\n\
        Ann Lee,11/30/1972,(312) 555-0102,Maria Ruiz MD\n\
        Chidi Okafor,7/9/2001,(312) 555-0103,Dra. Núñez\n\
        Lan Do,2/21/2012,(312) 555-0104,Dr. Lee\n";
    let p = preview(csv.as_bytes(), "cols.csv");
    assert_eq!(edge(&p, "firstName"), Some(("Col1".into(), MatchMethod::Content)));
    assert!(p.mapping.iter().all(|m| m.column != 3 || m.field == "provider"), "{:?}", p.mapping);
    assert_eq!(vars_at(&p, 5)["lastName"], "Do");
}

#[test]
fn workbook_cells_count_by_their_type() {
    // Date cells, numeric phone cells and time cells under headers that say nothing.
    let date = |serial: f64| V::F(serial, "mm/dd/yyyy");
    let rows = vec![
        vec![V::S("A"), V::S("B"), V::S("C"), V::S("D"), V::S("E")],
        vec![V::S("Ann"), V::S("Lee"), date(26_663.0), V::N(3_125_550_101.0), date(46_357.0)],
        vec![V::S("Bob"), V::S("Okafor"), date(31_110.0), V::N(3_125_550_102.0), date(46_358.0)],
        vec![V::S("Cy"), V::S("Chen"), date(33_607.0), V::N(3_125_550_103.0), date(46_359.0)],
    ];
    let p = preview(&xlsx(&[("Sheet1", rows)]), "typed.xlsx");
    assert_eq!(edge(&p, "dob"), Some(("C".into(), MatchMethod::Content)));
    assert_eq!(edge(&p, "primaryPhone"), Some(("D".into(), MatchMethod::Content)));
    assert_eq!(edge(&p, "appointmentDate"), Some(("E".into(), MatchMethod::Content)));
    assert_eq!(vars_at(&p, 3)["dob"], "1985-03-04");
    // Two columns of one-word names: which is the first name is not for the cells to say.
    assert_eq!(edge(&p, "firstName"), None);
    assert_eq!(edge(&p, "lastName"), None);
    assert_eq!(ambiguity_columns(&p, AmbiguityKind::SeveralFields), [vec!["A", "A"], vec!["B", "B"]]);
    assert!(p.ambiguities[0].message.contains("firstName, lastName"), "{}", p.ambiguities[0].message);
}

#[test]
fn two_phone_columns_with_generic_headers_are_a_doubt_not_a_guess() {
    let csv = "First Name,Last Name,DOB,Contact,Reach\n\
        Ann,Lee,11/30/1972,312-555-0102,312-555-0902\n\
        Bob,Okafor,01/15/1990,312-555-0104,312-555-0904\n\
        Cy,Chen,01/04/1992,312-555-0105,312-555-0905\n";
    let p = preview(csv.as_bytes(), "two.csv");
    assert_eq!(edge(&p, "primaryPhone"), None);
    assert_eq!(edge(&p, "secondaryPhone"), None);
    assert_eq!(ambiguity_columns(&p, AmbiguityKind::SeveralColumns), [vec!["Contact", "Reach"]]);
    assert!(p.ambiguities[0].message.contains("primaryPhone"), "{}", p.ambiguities[0].message);
    assert!(p.rows.iter().all(|r| r.errors[0].reason == "phone missing"));
}

#[test]
fn header_words_settle_which_of_two_phone_columns_is_which() {
    let rows = "Ann,Lee,11/30/1972,312-555-0102,312-555-0902\n\
        Bob,Okafor,01/15/1990,312-555-0104,312-555-0904\n\
        Cy,Chen,01/04/1992,312-555-0105,312-555-0905\n";
    // `Home` is a secondary phone by name; the other column is then the only phone left.
    let p = preview(format!("First Name,Last Name,DOB,Contact,Home\n{rows}").as_bytes(), "home.csv");
    assert_eq!(edge(&p, "secondaryPhone"), Some(("Home".into(), MatchMethod::Alias)));
    assert_eq!(edge(&p, "primaryPhone"), Some(("Contact".into(), MatchMethod::Content)));
    // `Other` leans to the secondary phone; the header alone is too weak to map it.
    let csv = format!("First Name,Last Name,DOB,Contact Number,Other Number\n{rows}");
    let p = preview(csv.as_bytes(), "other.csv");
    assert_eq!(edge(&p, "primaryPhone"), Some(("Contact Number".into(), MatchMethod::Content)));
    assert_eq!(edge(&p, "secondaryPhone"), Some(("Other Number".into(), MatchMethod::Content)));
    assert_eq!(vars_at(&p, 2)["secondaryPhone"], "+13125550902");
    let by_headers = map_columns(&headers_of(&csv), &appointment_reminder(), None).unwrap();
    assert!(by_headers.for_field("secondaryPhone").is_none());
}

#[test]
fn a_bare_date_column_is_told_by_its_dates() {
    let rows = |dates: [&str; 3]| {
        format!(
            "Ann,Lee,11/30/1972,3125550102,{}\nBob,Okafor,01/15/1990,3125550104,{}\nCy,Chen,01/04/1992,3125550105,{}\n",
            dates[0], dates[1], dates[2]
        )
    };
    // Near today beside a DOB column: the appointment date.
    let near = rows(["12/01/2026", "12/02/2026", "11/30/2026"]);
    let p = preview(format!("First Name,Last Name,DOB,Phone,Date\n{near}").as_bytes(), "near.csv");
    assert_eq!(edge(&p, "appointmentDate"), Some(("Date".into(), MatchMethod::Content)));
    assert_eq!(vars_at(&p, 3)["appointmentDate"], "2026-12-02");
    // Decades ago beside a DOB column: not an appointment, and not a guess either.
    let old = rows(["3/4/1950", "5/6/1960", "7/8/1970"]);
    let p = preview(format!("First Name,Last Name,DOB,Phone,Date\n{old}").as_bytes(), "old.csv");
    assert_eq!(edge(&p, "appointmentDate"), None);
    assert_eq!(edge(&p, "dob").map(|e| e.0), Some("DOB".into()));
    // Decades ago with no DOB column: the birth date.
    let csv = "First Name,Last Name,Phone,Date\n\
        Ann,Lee,3125550102,3/4/1950\nBob,Okafor,3125550104,5/6/1960\nCy,Chen,3125550105,7/8/1970\n";
    let p = preview(csv.as_bytes(), "dob.csv");
    assert_eq!(edge(&p, "dob"), Some(("Date".into(), MatchMethod::Content)));
    assert_eq!(vars_at(&p, 2)["dob"], "1950-03-04");
    // Two columns of birth dates, one named for it by a weak word: still a doubt.
    let p = preview(format!("First Name,Last Name,Birth,Phone,Date\n{old}").as_bytes(), "both.csv");
    assert_eq!(edge(&p, "dob"), None);
    assert_eq!(ambiguity_columns(&p, AmbiguityKind::SeveralColumns), [vec!["Birth", "Date"]]);
}

#[test]
fn two_columns_of_birth_dates_for_one_birth_date_are_a_doubt() {
    let csv = "First Name,Last Name,Phone,Date,Other Date\n\
        Ann,Lee,3125550102,11/30/1972,3/4/1950\n\
        Bob,Okafor,3125550104,01/15/1990,5/6/1960\n\
        Cy,Chen,3125550105,01/04/1992,7/8/1970\n";
    let p = preview(csv.as_bytes(), "dates.csv");
    assert_eq!(edge(&p, "dob"), None);
    assert_eq!(ambiguity_columns(&p, AmbiguityKind::SeveralColumns), [vec!["Date", "Other Date"]]);
}

#[test]
fn a_header_match_the_cells_contradict_is_questioned_not_taken() {
    // `Phone` holds birth dates and `Col5` the numbers: the cells win, and the user is told.
    let csv = "First Name,Last Name,Phone,Col5\n\
        Ann,Lee,11/30/1972,3125550102\n\
        Bob,Okafor,01/15/1990,3125550104\n\
        Cy,Chen,01/04/1992,3125550105\n";
    let p = preview(csv.as_bytes(), "swapped.csv");
    assert_eq!(edge(&p, "primaryPhone"), Some(("Col5".into(), MatchMethod::Content)));
    let doubt = p.ambiguities.iter().find(|a| a.kind == AmbiguityKind::CellsDisagree).unwrap();
    assert_eq!(doubt.candidates[0].header, "Phone");
    assert_eq!(doubt.candidates[0].field, "primaryPhone");
    assert!(doubt.message.contains("its cells are dates"), "{}", doubt.message);
    // Nor is the questioned column used for what its cells look like.
    assert_eq!(edge(&p, "dob"), None);
    let json = serde_json::to_value(doubt).unwrap();
    assert_eq!(json["kind"], "cellsDisagree");
    // Lone words are not clearly names: a time column of `Morning` is not questioned.
    let csv = "First Name,Last Name,DOB,Phone,Time\n\
        Ann,Lee,11/30/1972,3125550102,Morning\n\
        Bob,Okafor,01/15/1990,3125550104,Afternoon\n\
        Cy,Chen,01/04/1992,3125550105,Evening\n";
    let p = preview(csv.as_bytes(), "slots.csv");
    assert_eq!(edge(&p, "appointmentTime"), Some(("Time".into(), MatchMethod::Alias)));
    // Whole names are: a time column of patients' names is.
    let csv = csv
        .replace("Morning", "\"Lee, Ann\"")
        .replace("Afternoon", "Bob Okafor")
        .replace("Evening", "Cy Chen");
    let p = preview(csv.as_bytes(), "names.csv");
    assert_eq!(edge(&p, "appointmentTime"), None);
    assert_eq!(ambiguity_columns(&p, AmbiguityKind::CellsDisagree), [vec!["Time"]]);
    // A few bad cells are not a contradiction: a phone column with one date stays the phone.
    let csv = "First Name,Last Name,DOB,Phone\n\
        Ann,Lee,11/30/1972,3125550102\n\
        Bob,Okafor,01/15/1990,01/15/1990\n\
        Cy,Chen,01/04/1992,3125550105\n";
    let p = preview(csv.as_bytes(), "typo.csv");
    assert_eq!(edge(&p, "primaryPhone"), Some(("Phone".into(), MatchMethod::Exact)));
    assert_eq!(p.counts.invalid_rows, 1);
}

#[test]
fn an_explicit_mapping_is_not_questioned_by_the_cells() {
    let csv = "First Name,Last Name,DOB,Phone\n\
        Ann,Lee,3125550102,11/30/1972\n\
        Bob,Okafor,3125550104,01/15/1990\n\
        Cy,Chen,3125550105,01/04/1992\n";
    // Without a mapping both swapped columns are questioned.
    let p = preview(csv.as_bytes(), "swapped.csv");
    let questioned: Vec<Vec<String>> = ambiguity_columns(&p, AmbiguityKind::CellsDisagree);
    assert_eq!(questioned, [vec!["DOB"], vec!["Phone"]]);
    // The caller's word stands, even where the cells disagree: the rows then say why.
    let mapping = ExplicitMapping(vec![ExplicitColumn {
        column: ColumnRef::Header("Phone".into()),
        field: Some("primaryPhone".into()),
    }]);
    let p = preview_with(csv.as_bytes(), "swapped.csv", ReadOptions::default(), Some(mapping));
    assert_eq!(edge(&p, "primaryPhone"), Some(("Phone".into(), MatchMethod::Explicit)));
    assert_eq!(ambiguity_columns(&p, AmbiguityKind::CellsDisagree), [vec!["DOB"]]);
}

#[test]
fn an_emergency_contact_phone_is_never_the_patients_phone() {
    let csv = "First Name,Last Name,DOB,Emergency Contact Phone\n\
        Ann,Lee,11/30/1972,3125550902\n\
        Bob,Okafor,01/15/1990,3125550904\n\
        Cy,Chen,01/04/1992,3125550905\n";
    let p = preview(csv.as_bytes(), "emergency.csv");
    assert_eq!(edge(&p, "primaryPhone"), None);
    assert_eq!(edge(&p, "secondaryPhone"), None);
    assert!(p.ambiguities.iter().all(|a| a.candidates.iter().all(|c| c.column != 3)), "{:?}", p.ambiguities);
    assert_eq!(p.counts.invalid_rows, 3);
    assert!(p.rows.iter().all(|r| r.status == RowStatus::Invalid && r.errors[0].reason == "phone missing"));
    // Only the caller can say otherwise.
    let mapping = ExplicitMapping(vec![ExplicitColumn {
        column: ColumnRef::Header("Emergency Contact Phone".into()),
        field: Some("primaryPhone".into()),
    }]);
    let p = preview_with(csv.as_bytes(), "emergency.csv", ReadOptions::default(), Some(mapping));
    assert_eq!(edge(&p, "primaryPhone"), Some(("Emergency Contact Phone".into(), MatchMethod::Explicit)));
    assert_eq!(p.counts.callable_rows, 3);
}

#[test]
fn another_partys_number_is_never_the_phone_to_call_even_when_no_other_phone_exists() {
    for header in
        ["Fax", "Pharmacy Phone", "Employer Phone", "Referring Office Phone", "Fax Number", "Tel. Farmacia"]
    {
        let csv = format!(
            "First Name,Last Name,DOB,{header}\n\
             Ann,Lee,11/30/1972,3125550902\n\
             Bob,Okafor,01/15/1990,3125550904\n\
             Cy,Chen,01/04/1992,3125550905\n"
        );
        let p = preview(csv.as_bytes(), "other-party.csv");
        assert!(p.mapping.iter().all(|m| m.column != 3), "{header}: {:?}", p.mapping);
        assert_eq!(p.counts.callable_rows, 0, "{header}");
    }
}

#[test]
fn a_spanish_emergency_phone_is_set_aside_like_an_english_one() {
    // The words are the vocabulary's (`words.txt`); setting the column aside is the mapping's.
    let csv = "Nombre,Apellido,Fecha de Nacimiento,Teléfono de Emergencia,Número de Contacto\n\
        Ana,López,30/11/1972,3125550902,3125550102\n\
        Luis,Pérez,15/01/1990,3125550904,3125550104\n\
        Inés,Ruiz,04/01/1992,3125550905,3125550105\n";
    let p = preview(csv.as_bytes(), "es.csv");
    assert_eq!(edge(&p, "primaryPhone"), Some(("Número de Contacto".into(), MatchMethod::Content)));
    assert!(p.mapping.iter().all(|m| m.column != 3), "{:?}", p.mapping);
    assert_eq!(vars_at(&p, 2)["primaryPhone"], "+13125550102");
}

#[test]
fn a_guarantors_or_responsible_partys_columns_are_never_the_patients() {
    let csv = "Guarantor Name,DOB,Responsible Party Phone,Contact Number\n\
        \"Lee, Ann\",11/30/1972,3125550902,3125550102\n\
        \"Okafor, Bob\",01/15/1990,3125550904,3125550104\n\
        \"Chen, Cy\",01/04/1992,3125550905,3125550105\n";
    let p = preview(csv.as_bytes(), "guarantor.csv");
    assert_eq!(edge(&p, "firstName"), None);
    assert_eq!(edge(&p, "lastName"), None);
    // The responsible party's phones do not even make the patient's phone a tie.
    assert_eq!(edge(&p, "primaryPhone"), Some(("Contact Number".into(), MatchMethod::Content)));
    assert_eq!(edge(&p, "secondaryPhone"), None);
    assert!(p.mapping.iter().all(|m| m.column != 0 && m.column != 2), "{:?}", p.mapping);
    assert!(p.rows.iter().all(|r| r.status == RowStatus::Invalid));
}

#[test]
fn columns_under_an_emergency_contact_group_label_are_set_aside() {
    let csv = "Patient,,,Emergency Contact,\n\
        Name,DOB,Phone,Name,Phone\n\
        \"Lee, Ann\",11/30/1972,3125550102,\"Lee, Tom\",3125550902\n\
        \"Okafor, Bob\",01/15/1990,3125550104,\"Okafor, Ada\",3125550904\n\
        \"Chen, Cy\",01/04/1992,3125550105,\"Chen, Li\",3125550905\n";
    let table = read_table(csv.as_bytes(), "grouped.csv", &ReadOptions::default()).unwrap();
    let m = map_table(&table, &appointment_reminder(), None, today()).unwrap();
    let by_field = |f: &str| m.for_field(f).map(|e| e.column);
    assert_eq!(by_field("primaryPhone"), Some(2));
    assert_eq!(by_field("firstName"), Some(0));
    assert_eq!(by_field("secondaryPhone"), None);
    assert!(m.unmapped_columns.contains(&3) && m.unmapped_columns.contains(&4), "{m:?}");
}

#[test]
fn an_unnamed_column_of_phones_is_the_other_phone_but_a_pharmacys_is_not() {
    // Through a workbook of text cells: `Tel.` is named; of the two other phone columns, the one
    // whose header says nothing else becomes the other phone, the pharmacy's does not.
    let rows = text_rows(&[
        &["First Name", "Last Name", "DOB", "Tel.", "Pharmacy Phone", "Other"],
        &["Ann", "Lee", "11/30/1972", "3125550102", "3125557000", "3125550902"],
        &["Bob", "Okafor", "01/15/1990", "3125550104", "3125557000", "3125550904"],
        &["Cy", "Chen", "01/04/1992", "3125550105", "3125557001", ""],
        &["Di", "Diaz", "02/05/1993", "3125550106", "3125557002", "3125550906"],
    ]);
    let p = preview(&xlsx(&[("Sheet1", rows)]), "reach.xlsx");
    assert_eq!(edge(&p, "primaryPhone").map(|e| e.0), Some("Tel.".into()));
    assert_eq!(edge(&p, "secondaryPhone"), Some(("Other".into(), MatchMethod::Content)));
    assert!(p.unmapped_columns.iter().any(|c| c.header == "Pharmacy Phone"));
    // Without `Other`, the pharmacy's phone stays unmapped rather than be the patient's.
    let rows = text_rows(&[
        &["First Name", "Last Name", "DOB", "Tel.", "Pharmacy Phone"],
        &["Ann", "Lee", "11/30/1972", "3125550102", "3125557000"],
        &["Bob", "Okafor", "01/15/1990", "3125550104", "3125557000"],
        &["Cy", "Chen", "01/04/1992", "3125550105", "3125557001"],
    ]);
    let p = preview(&xlsx(&[("Sheet1", rows)]), "pharmacy.xlsx");
    assert_eq!(edge(&p, "secondaryPhone"), None);
}

#[test]
fn a_campaign_variable_named_for_someone_else_takes_their_column() {
    let mut vars = appointment_reminder();
    let input = VariableDefinitionInput {
        key: "emergencyPhone".into(),
        label: "Emergency contact phone".into(),
        field_type: FieldType::Phone,
        required: false,
        aliases: Vec::new(),
        options: Vec::new(),
        role: None,
    };
    vars.push(input.validate().unwrap());
    let csv = "First Name,Last Name,DOB,Emergency Contact Phone\n\
        Ann,Lee,11/30/1972,3125550902\n\
        Bob,Okafor,01/15/1990,3125550904\n\
        Cy,Chen,01/04/1992,3125550905\n";
    let table = read_table(csv.as_bytes(), "emergency.csv", &ReadOptions::default()).unwrap();
    let m = map_table(&table, &vars, None, today()).unwrap();
    let e = m.for_field("emergencyPhone").unwrap();
    assert_eq!((e.column, e.method), (3, MatchMethod::Exact));
    assert!(m.for_field("primaryPhone").is_none());
}

#[test]
fn a_bare_number_header_over_phone_numbers_is_the_phone_not_the_record_number() {
    // `Number` alone reads like `Patient Number`, an MRN alias; its cells, bare or written, are
    // phone numbers, so it is questioned and taken as the phone by its cells.
    for phones in
        [["3125550102", "3125550104", "3125550105"], ["(312) 555-0102", "312.555.0104", "+1 312 555 0105"]]
    {
        let csv = format!(
            "First Name,Last Name,DOB,Number\nAnn,Lee,11/30/1972,{}\nBob,Okafor,01/15/1990,{}\nCy,Chen,01/04/1992,{}\n",
            phones[0], phones[1], phones[2]
        );
        let p = preview(csv.as_bytes(), "number.csv");
        assert_eq!(edge(&p, "primaryPhone"), Some(("Number".into(), MatchMethod::Content)), "{phones:?}");
        assert_eq!(edge(&p, "mrn"), None, "{phones:?}");
        assert_eq!(ambiguity_columns(&p, AmbiguityKind::CellsDisagree), [["Number"]], "{phones:?}");
    }
    // Ten bare digits under `MRN` may be record numbers: the header stands.
    let csv = "First Name,Last Name,DOB,MRN,Phone\n\
        Ann,Lee,11/30/1972,3125550102,(312) 555-0199\n\
        Bob,Okafor,01/15/1990,3125550104,(312) 555-0198\n\
        Cy,Chen,01/04/1992,3125550105,(312) 555-0197\n";
    let p = preview(csv.as_bytes(), "mrn.csv");
    assert_eq!(edge(&p, "mrn"), Some(("MRN".into(), MatchMethod::Exact)));
}

#[test]
fn a_provider_column_of_bare_ids_is_questioned_and_one_of_clinicians_names_is_the_provider() {
    // `Resource` is a provider alias, but 1, 2, 3 are not something to say on a call.
    let csv = "First Name,Last Name,DOB,Phone,Resource\n\
        Ann,Lee,11/30/1972,3125550102,1\n\
        Bob,Okafor,01/15/1990,3125550104,2\n\
        Cy,Chen,01/04/1992,3125550105,3\n";
    let p = preview(csv.as_bytes(), "resource.csv");
    assert_eq!(edge(&p, "provider"), None);
    assert_eq!(ambiguity_columns(&p, AmbiguityKind::CellsDisagree), [["Resource"]]);
    // Titles and credentials say provider under headers that do not: `Column`, `Seen By`.
    for header in ["Column", "Booked With", "Seen By"] {
        let csv = format!(
            "First Name,Last Name,DOB,Phone,{header}\n\
             Ann,Lee,11/30/1972,3125550102,Dr. Maria Ruiz\n\
             Bob,Okafor,01/15/1990,3125550104,\"CHEN, ANN MD\"\n\
             Cy,Chen,01/04/1992,3125550105,Dr. Maria Ruiz\n"
        );
        let p = preview(csv.as_bytes(), "provider.csv");
        assert_eq!(edge(&p, "provider"), Some((header.into(), MatchMethod::Content)), "{header}");
    }
    // ...but not under a header that names something else.
    let csv = "First Name,Last Name,DOB,Phone,Provider Phone\n\
        Ann,Lee,11/30/1972,3125550102,Dr. Maria Ruiz\n\
        Bob,Okafor,01/15/1990,3125550104,Dr. Maria Ruiz\n\
        Cy,Chen,01/04/1992,3125550105,Dr. Maria Ruiz\n";
    assert_eq!(edge(&preview(csv.as_bytes(), "provider.csv"), "provider"), None);
}

#[test]
fn a_start_and_an_end_date_and_time_give_the_appointment_from_the_start() {
    let csv = "First Name,Last Name,DOB,Phone,Start Date & Time,End Date & Time\n\
        Ann,Lee,11/30/1972,3125550102,2026-12-08 09:30,2026-12-08 10:00\n\
        Bob,Okafor,01/15/1990,3125550104,2026-12-09 14:00,2026-12-09 14:30\n\
        Cy,Chen,01/04/1992,3125550105,2026-12-10 08:15,2026-12-10 08:45\n";
    let p = preview(csv.as_bytes(), "calendar.csv");
    let start =
        |field: &str| p.mapping.iter().find(|m| m.field == field).map(|m| (m.header.as_str(), m.part));
    assert_eq!(start("appointmentDate"), Some(("Start Date & Time", ValuePart::Date)));
    assert_eq!(start("appointmentTime"), Some(("Start Date & Time", ValuePart::Time)));
    assert_eq!(
        (vars_at(&p, 3)["appointmentDate"].as_str(), vars_at(&p, 3)["appointmentTime"].as_str()),
        ("2026-12-09", "14:00")
    );
    // A stamp of when a row was written is not an appointment.
    let csv = "First Name,Last Name,DOB,Phone,Date/Time Created\n\
        Ann,Lee,11/30/1972,3125550102,2026-12-01 09:30\n\
        Bob,Okafor,01/15/1990,3125550104,2026-12-01 09:31\n\
        Cy,Chen,01/04/1992,3125550105,2026-12-01 09:32\n";
    assert_eq!(edge(&preview(csv.as_bytes(), "stamp.csv"), "appointmentDate"), None);
}
