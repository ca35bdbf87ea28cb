//! Sheets in other languages than English (Spanish so far): headers map without help, accents
//! and case do not matter, and month names in dates read; and headers that describe the layout
//! of a whole-name column (`Name (Last, First)`) settle how its cells split.

use rivvi_ingestion::map::{AmbiguityKind, MatchMethod, NameOrder, ValuePart};
use rivvi_ingestion::preview::RowStatus;
use rivvi_ingestion::{ExplicitMapping, ReadOptions};

use crate::support::{preview, preview_with, text_rows, vars_at, xlsx, V};

/// Column header -> variable key, for every mapped column part.
fn mapped(p: &rivvi_ingestion::Preview) -> Vec<(String, String)> {
    p.mapping.iter().map(|m| (m.header.clone(), m.field.clone())).collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(h, f)| ((*h).to_owned(), (*f).to_owned())).collect()
}

fn all_callable(p: &rivvi_ingestion::Preview) {
    let reasons: Vec<_> = p.rows.iter().filter_map(|r| r.reason.clone()).collect();
    assert!(p.rows.iter().all(|r| r.status == RowStatus::Callable), "{reasons:?}");
}

#[test]
fn a_spanish_clinic_export_maps_every_field_it_holds() {
    let csv = "Nombre,Apellido,Fecha de Nacimiento,Teléfono,Celular,Fecha de la Cita,Hora de la Cita,Médico,Consultorio\n\
               María José,Muñoz,15/03/1985,(312) 555-0143,312-555-0199,3 de diciembre de 2026,9:30,Dra. Pérez,Consultorio 2\n\
               Juan,Pérez García,1990-07-21,312 555 0144,,15/12/2026,16:45 hrs,Dr. Ruiz,Sede Norte\n\
               Eva,Gil,1992-01-30,,3125550145,15/12/2026,17:00,Dr. Ruiz,Sede Norte\n";
    let p = preview(csv.as_bytes(), "citas.csv");
    assert_eq!(
        mapped(&p),
        pairs(&[
            ("Nombre", "firstName"),
            ("Apellido", "lastName"),
            ("Fecha de Nacimiento", "dob"),
            ("Teléfono", "primaryPhone"),
            ("Fecha de la Cita", "appointmentDate"),
            ("Hora de la Cita", "appointmentTime"),
            ("Médico", "provider"),
            ("Consultorio", "location"),
        ])
    );
    // `Celular` beside `Teléfono` is what `Cell` is beside `Phone`: the plain phone is called.
    assert_eq!(p.unmapped_columns.iter().map(|c| c.header.as_str()).collect::<Vec<_>>(), ["Celular"]);
    assert!(p.ambiguities.is_empty(), "{:?}", p.ambiguities);
    assert_eq!(p.mapping.iter().find(|m| m.header == "Teléfono").map(|m| m.method), Some(MatchMethod::Alias));
    let statuses: Vec<RowStatus> = p.rows.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [RowStatus::Callable, RowStatus::Callable, RowStatus::Invalid]);
    // As with `Phone` and `Cell`, the unmapped `Celular` does not stand in for an empty `Teléfono`.
    assert_eq!(p.rows[2].reason.as_deref(), Some("phone missing"));
    let v = vars_at(&p, 2);
    assert_eq!(v["firstName"], "María José");
    assert_eq!(v["lastName"], "Muñoz");
    assert_eq!(v["dob"], "1985-03-15");
    assert_eq!(v["primaryPhone"], "+13125550143");
    assert_eq!(v["appointmentDate"], "2026-12-03");
    assert_eq!(v["appointmentTime"], "09:30");
    assert_eq!(v["provider"], "Dra. Pérez");
    assert_eq!(v["location"], "Consultorio 2");
    let v = vars_at(&p, 3);
    assert_eq!((v["firstName"].as_str(), v["lastName"].as_str()), ("Juan", "Pérez García"));
    assert_eq!((v["appointmentDate"].as_str(), v["primaryPhone"].as_str()), ("2026-12-15", "+13125550144"));
    assert_eq!(v["appointmentTime"], "16:45");
}

#[test]
fn a_spanish_export_with_a_whole_name_and_a_date_time_column_maps_without_help() {
    let csv = "Expediente,Nombre del Paciente,Fec. Nac.,Tel. Celular,Fecha/Hora de la Cita\n\
               A-1001,\"Muñoz, María José\",03-mar-1985,312 555 0143,2026-12-15 10:30\n\
               A-1002,\"Pérez García, Juan\",21/JUL/1990,(312) 555-0144,3 dic 2026 9:00 AM\n";
    let p = preview(csv.as_bytes(), "agenda.csv");
    let parts: Vec<(String, String, ValuePart)> =
        p.mapping.iter().map(|m| (m.header.clone(), m.field.clone(), m.part)).collect();
    let expect = |h: &str, f: &str, part| (h.to_owned(), f.to_owned(), part);
    assert_eq!(
        parts,
        [
            expect("Expediente", "mrn", ValuePart::Whole),
            expect("Nombre del Paciente", "firstName", ValuePart::GivenName),
            expect("Nombre del Paciente", "lastName", ValuePart::FamilyName),
            expect("Fec. Nac.", "dob", ValuePart::Whole),
            expect("Tel. Celular", "primaryPhone", ValuePart::Whole),
            expect("Fecha/Hora de la Cita", "appointmentDate", ValuePart::Date),
            expect("Fecha/Hora de la Cita", "appointmentTime", ValuePart::Time),
        ]
    );
    all_callable(&p);
    let v = vars_at(&p, 2);
    assert_eq!((v["firstName"].as_str(), v["lastName"].as_str()), ("María José", "Muñoz"));
    assert_eq!((v["dob"].as_str(), v["mrn"].as_str()), ("1985-03-03", "A-1001"));
    assert_eq!(v["primaryPhone"], "+13125550143");
    assert_eq!((v["appointmentDate"].as_str(), v["appointmentTime"].as_str()), ("2026-12-15", "10:30"));
    let v = vars_at(&p, 3);
    assert_eq!((v["firstName"].as_str(), v["lastName"].as_str()), ("Juan", "Pérez García"));
    assert_eq!(v["dob"], "1990-07-21");
    assert_eq!((v["appointmentDate"].as_str(), v["appointmentTime"].as_str()), ("2026-12-03", "09:00"));
}

#[test]
fn spanish_header_sets_map_what_a_person_would() {
    // (headers, the variable of each column in order, `-` for a column left unmapped)
    let cases: &[(&str, &[&str])] = &[
        (
            "Nº Historia,Paciente,F. Nac.,Teléfono Móvil,Teléfono Fijo,Fecha Cita,Hora Cita,Profesional,Centro",
            &["mrn", "name", "dob", "primaryPhone", "secondaryPhone", "appointmentDate", "appointmentTime", "provider", "location"],
        ),
        (
            "Expediente,Nombre,Apellido Paterno,Apellido Materno,Fecha de Nacimiento,Teléfono Celular,Teléfono Casa,\
             Fecha/Hora de la Cita,Doctor(a),Consultorio",
            &["mrn", "firstName", "lastName", "-", "dob", "primaryPhone", "secondaryPhone", "appointment", "provider", "location"],
        ),
        (
            "Historia Clínica,Nombre del Paciente,Fecha de Nacimiento,Teléfono 1,Teléfono 2,Hora,Médico",
            &["mrn", "name", "dob", "primaryPhone", "secondaryPhone", "appointmentTime", "provider"],
        ),
        (
            "NHC,Apellido y Nombre,Fecha Nac,Tel,Profesional,Obra Social",
            &["mrn", "name", "dob", "primaryPhone", "provider", "-"],
        ),
        (
            "ID Paciente,Nombres,Apellidos,Fecha Nacimiento,Celular,Correo,Hora,Médico Tratante,Sede",
            &["mrn", "firstName", "lastName", "dob", "primaryPhone", "-", "appointmentTime", "provider", "location"],
        ),
        (
            "Nombre,Apellido,Fecha de Nacimiento,Celular,Teléfono Trabajo,Contacto de Emergencia,Teléfono de Emergencia",
            &["firstName", "lastName", "dob", "primaryPhone", "secondaryPhone", "-", "-"],
        ),
    ];
    for (headers, expected) in cases {
        let width = headers.split(',').count();
        let csv = format!("{headers}\n{}\n", vec!["x"; width].join(","));
        let p = preview(csv.as_bytes(), "encabezados.csv");
        let got: Vec<&str> = (0..width)
            .map(|c| {
                let fields: Vec<&str> =
                    p.mapping.iter().filter(|m| m.column == c).map(|m| m.field.as_str()).collect();
                match fields.as_slice() {
                    [] => "-",
                    [one] => one,
                    ["firstName", "lastName"] => "name",
                    ["appointmentDate", "appointmentTime"] => "appointment",
                    other => panic!("{headers}: column {c} fills {other:?}"),
                }
            })
            .collect();
        assert_eq!(got, *expected, "{headers}");
        assert!(p.ambiguities.is_empty(), "{headers}: {:?}", p.ambiguities);
    }
}

#[test]
fn spanish_headers_map_whatever_their_case_and_accents() {
    for header in [
        "NOMBRE,APELLIDOS,FECHA DE NACIMIENTO,TELEFONO,MEDICO",
        "nombre,apellidos,fecha de nacimiento,teléfono,médico",
        "Nombre(s),Apellido(s),F. Nacimiento,TELÉFONO,Doctor(a)",
        "NOMBRES,APELLIDOS,FECHANACIMIENTO,TELEFONO,DOCTORA",
    ] {
        let csv = format!("{header}\nAna,López Díaz,21/07/1990,3125550143,Dr. Ruiz\n");
        let p = preview(csv.as_bytes(), "pacientes.csv");
        let fields: Vec<&str> = p.mapping.iter().map(|m| m.field.as_str()).collect();
        assert_eq!(fields, ["firstName", "lastName", "dob", "primaryPhone", "provider"], "{header}");
        all_callable(&p);
        let v = vars_at(&p, 2);
        assert_eq!((v["firstName"].as_str(), v["lastName"].as_str()), ("Ana", "López Díaz"), "{header}");
        assert_eq!(v["dob"], "1990-07-21", "{header}");
    }
}

#[test]
fn two_surname_columns_give_the_first_surname_as_the_last_name() {
    let csv = "Primer Nombre,Segundo Nombre,Primer Apellido,Segundo Apellido,Fecha de Nacimiento,Celular\n\
               Ana,Lucía,López,Díaz,21/07/1990,3125550143\n";
    let p = preview(csv.as_bytes(), "dos_apellidos.csv");
    assert_eq!(
        mapped(&p),
        pairs(&[
            ("Primer Nombre", "firstName"),
            ("Primer Apellido", "lastName"),
            ("Fecha de Nacimiento", "dob"),
            ("Celular", "primaryPhone"),
        ])
    );
    let unmapped: Vec<&str> = p.unmapped_columns.iter().map(|c| c.header.as_str()).collect();
    assert_eq!(unmapped, ["Segundo Nombre", "Segundo Apellido"]);
    assert!(p.ambiguities.is_empty(), "{:?}", p.ambiguities);
    let v = vars_at(&p, 2);
    assert_eq!((v["firstName"].as_str(), v["lastName"].as_str()), ("Ana", "López"));
    // The second surname stays in the row's cells.
    assert_eq!(p.rows[0].cells[3].text, "Díaz");

    // Mexican exports name the two surnames by parent; the same rule holds.
    let csv = "Nombre(s),Apellido Paterno,Apellido Materno,Fecha de Nacimiento,Celular\n\
               Ana,López,Díaz,21/07/1990,3125550143\n";
    let p = preview(csv.as_bytes(), "paterno.csv");
    let v = vars_at(&p, 2);
    assert_eq!((v["firstName"].as_str(), v["lastName"].as_str()), ("Ana", "López"));
    assert_eq!(
        p.unmapped_columns.iter().map(|c| c.header.as_str()).collect::<Vec<_>>(),
        ["Apellido Materno"]
    );
}

#[test]
fn spanish_month_and_weekday_names_read_in_dates() {
    let csv = "Nombre,Apellido,Fecha de Nacimiento,Teléfono,Fecha de la Cita\n\
               Ana,López,3 de marzo de 1985,3125550101,\"lunes, 7 de diciembre de 2026\"\n\
               Luis,Mora,15/ene/1990,3125550102,7-DIC-2026\n\
               Eva,Gil,\"marzo 3, 1985\",3125550103,Miércoles 9 de Dic. 2026\n\
               Paz,Rey,1 de setiembre de 1999,3125550104,15 ene 2027\n";
    let p = preview(csv.as_bytes(), "fechas.csv");
    all_callable(&p);
    let got: Vec<(String, String)> = (2..=5)
        .map(|row| {
            let v = vars_at(&p, row);
            (v["dob"].clone(), v["appointmentDate"].clone())
        })
        .collect();
    assert_eq!(
        got,
        pairs(&[
            ("1985-03-03", "2026-12-07"),
            ("1990-01-15", "2026-12-07"),
            ("1985-03-03", "2026-12-09"),
            ("1999-09-01", "2027-01-15"),
        ])
    );
}

#[test]
fn numeric_dates_read_in_the_order_of_the_column() {
    // A Spanish header: day first, even when no day is above 12.
    let csv = "Nombre,Apellido,Fecha de Nacimiento,Teléfono,Fecha/Hora de la Cita\n\
               Ana,López,03/04/1985,3125550101,03/12/2026 10:30\n\
               Luis,Mora,05.06.1970,3125550102,01-12-2026 9:15\n";
    let p = preview(csv.as_bytes(), "dia_primero.csv");
    all_callable(&p);
    let v = vars_at(&p, 2);
    assert_eq!((v["dob"].as_str(), v["appointmentDate"].as_str()), ("1985-04-03", "2026-12-03"));
    assert_eq!(v["appointmentTime"], "10:30");
    let v = vars_at(&p, 3);
    assert_eq!((v["dob"].as_str(), v["appointmentDate"].as_str()), ("1970-06-05", "2026-12-01"));

    // The cells outrank the header's language: a day above 12 in second place is US order.
    let csv = "Nombre,Apellido,Fecha de Nacimiento,Teléfono\nAna,López,03/04/1985,3125550101\nLuis,Mora,12/25/1990,3125550102\n";
    let p = preview(csv.as_bytes(), "us.csv");
    assert_eq!(vars_at(&p, 2)["dob"], "1985-03-04");
    assert_eq!(vars_at(&p, 3)["dob"], "1990-12-25");

    // An English header over day-first cells: the column shows its order.
    let csv = "First Name,Last Name,DOB,Phone\nAnn,Lee,03/04/1985,3125550101\nBo,Li,25/12/1990,3125550102\n";
    let p = preview(csv.as_bytes(), "uk.csv");
    assert_eq!(vars_at(&p, 2)["dob"], "1985-04-03");
    assert_eq!(vars_at(&p, 3)["dob"], "1990-12-25");
    // And without evidence, English stays month first.
    let csv = "First Name,Last Name,DOB,Phone\nAnn,Lee,03/04/1985,3125550101\n";
    assert_eq!(vars_at(&preview(csv.as_bytes(), "us.csv"), 2)["dob"], "1985-03-04");
}

#[test]
fn a_spanish_workbook_with_date_cells_maps_and_reads() {
    let header =
        ["No. de Expediente", "Paciente", "Fecha de Nacimiento", "Móvil", "Fecha de la Cita", "Hora"];
    let mut rows = text_rows(&[&header]);
    // 31110 is 1985-03-04 and 46359 is 2026-12-03 in Excel's 1900 system; 0.375 is 9:00.
    rows.push(vec![
        V::S("HC-77"),
        V::S("Ramírez, Sofía"),
        V::F(31110.0, "dd/mm/yyyy"),
        V::S("312-555-0143"),
        V::F(46359.0, "dd/mm/yyyy"),
        V::F(0.375, "hh:mm"),
    ]);
    let bytes = xlsx(&[("Citas", rows)]);
    let p = preview(&bytes, "citas.xlsx");
    all_callable(&p);
    let v = vars_at(&p, 2);
    assert_eq!(v["mrn"], "HC-77");
    assert_eq!((v["firstName"].as_str(), v["lastName"].as_str()), ("Sofía", "Ramírez"));
    assert_eq!((v["dob"].as_str(), v["appointmentDate"].as_str()), ("1985-03-04", "2026-12-03"));
    assert_eq!((v["primaryPhone"].as_str(), v["appointmentTime"].as_str()), ("+13125550143", "09:00"));
}

#[test]
fn an_emergency_contact_column_is_not_read_as_the_patient() {
    let csv = "Nombre,Apellido,Fecha de Nacimiento,Teléfono de Emergencia,Nombre del Cónyuge\n\
               Ana,López,21/07/1990,3125550143,Luis Mora\n";
    let p = preview(csv.as_bytes(), "contactos.csv");
    assert!(p.mapping.iter().all(|m| m.column < 3), "{:?}", mapped(&p));
    assert_eq!(p.rows[0].errors[0].reason, "phone missing");
    assert!(p.ambiguities.iter().all(|a| a.kind == AmbiguityKind::LowConfidence), "{:?}", p.ambiguities);
}

/// (given, family) of the data row at sheet row `row`.
fn name_at(p: &rivvi_ingestion::Preview, row: u32) -> (String, String) {
    let v = vars_at(p, row);
    (v["firstName"].clone(), v["lastName"].clone())
}

fn names(list: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs(list)
}

#[test]
fn a_header_giving_the_name_order_splits_cells_without_a_comma_in_that_order() {
    let csv = "\"Patient Name (Last, First)\",DOB,Phone\n\
               \"Smith, John A\",03/04/1985,3125550101\n\
               \"Van der Berg, Dmitri\",05/06/1970,3125550102\n\
               Lee Ann,07/08/1990,3125550103\n";
    let p = preview(csv.as_bytes(), "layout.csv");
    let edges: Vec<(usize, &str, ValuePart, Option<NameOrder>)> =
        p.mapping.iter().map(|m| (m.column, m.field.as_str(), m.part, m.name_order)).collect();
    assert_eq!(
        edges[..2],
        [
            (0, "firstName", ValuePart::GivenName, Some(NameOrder::LastFirst)),
            (0, "lastName", ValuePart::FamilyName, Some(NameOrder::LastFirst)),
        ]
    );
    all_callable(&p);
    let got: Vec<(String, String)> = (2..=4).map(|row| name_at(&p, row)).collect();
    assert_eq!(got, names(&[("John", "Smith"), ("Dmitri", "Van der Berg"), ("Ann", "Lee")]));
    // The order reaches the JSON the API and the CLI show.
    let json = serde_json::to_value(&p.mapping).unwrap();
    assert_eq!(json[0]["nameOrder"], "lastFirst");
    assert!(json.as_array().unwrap().iter().skip(2).all(|m| m.get("nameOrder").is_none()), "{json}");
    let report = serde_json::to_value(crate::support::report(csv.as_bytes(), "layout.csv")).unwrap();
    assert_eq!(report["mapping"][1]["nameOrder"], "lastFirst");
}

#[test]
fn a_last_first_header_without_a_comma_reads_last_first_cells() {
    let csv = "Name (Last First),DOB,Phone\n\
               SMITH JOHN,03/04/1985,3125550101\n\
               De la Cruz Maria Elena,05/06/1970,3125550102\n\
               \"Lee, Ann\",07/08/1990,3125550103\n";
    let p = preview(csv.as_bytes(), "last_first.csv");
    all_callable(&p);
    let got: Vec<(String, String)> = (2..=4).map(|row| name_at(&p, row)).collect();
    assert_eq!(got, names(&[("JOHN", "SMITH"), ("Maria Elena", "De la Cruz"), ("Ann", "Lee")]));
}

#[test]
fn one_quoted_header_naming_both_parts_is_one_whole_name_column() {
    for header in
        ["\"Last Name, First Name\"", "\"LAST, FIRST\"", "\"Nombre (Apellido, Nombre)\"", "Apellido y Nombre"]
    {
        let csv = format!(
            "{header},DOB,Phone\n\"Smith, John\",03/04/1985,3125550101\n\"Muñoz, María José\",05/06/1970,3125550102\n"
        );
        let p = preview(csv.as_bytes(), "one_column.csv");
        assert_eq!(p.headers.len(), 3, "{header}");
        assert_eq!(p.headers[0], header.trim_matches('"'));
        let parts: Vec<(usize, ValuePart)> =
            p.mapping.iter().filter(|m| m.column == 0).map(|m| (m.column, m.part)).collect();
        assert_eq!(parts, [(0, ValuePart::GivenName), (0, ValuePart::FamilyName)], "{header}");
        all_callable(&p);
        assert_eq!(name_at(&p, 2), ("John".into(), "Smith".into()), "{header}");
        assert_eq!(name_at(&p, 3), ("María José".into(), "Muñoz".into()), "{header}");
    }
}

#[test]
fn a_first_last_header_reads_first_last_cells() {
    for header in ["Patient (First Last)", "Name (First Last)", "Nombre y Apellido"] {
        let csv = format!(
            "{header},DOB,Phone\nJohn Smith,03/04/1985,3125550101\nMaria de la Cruz,05/06/1970,3125550102\n"
        );
        let p = preview(csv.as_bytes(), "first_last.csv");
        assert_eq!(
            p.mapping.iter().find(|m| m.field == "firstName").and_then(|m| m.name_order),
            Some(NameOrder::FirstLast),
            "{header}"
        );
        all_callable(&p);
        assert_eq!(name_at(&p, 2), ("John".into(), "Smith".into()), "{header}");
        assert_eq!(name_at(&p, 3), ("Maria".into(), "de la Cruz".into()), "{header}");
    }
}

#[test]
fn a_header_its_cells_contradict_is_an_ambiguity_not_a_guess() {
    // The header promises `Last, First` but no name has a comma: `John Smith` could be either.
    let csv = "\"Name (Last, First)\",DOB,Phone\nJohn Smith,03/04/1985,3125550101\nMary Jones,05/06/1970,3125550102\n\
               \"Lee, Ann\",07/08/1990,3125550103\n";
    let p = preview(csv.as_bytes(), "contradiction.csv");
    assert!(p.mapping.iter().all(|m| m.column != 0), "{:?}", mapped(&p));
    let doubt =
        p.ambiguities.iter().find(|a| a.kind == AmbiguityKind::NameOrder).expect("a name-order doubt");
    let fields: Vec<&str> = doubt.candidates.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["firstName", "lastName"]);
    assert!(doubt.message.contains("2 of 3 sampled names have none"), "{}", doubt.message);
    assert!(doubt.message.contains("map it to firstName and lastName explicitly"), "{}", doubt.message);
    assert!(p.rows.iter().all(|r| r.status == RowStatus::Invalid));
    assert_eq!(p.rows[0].errors[0].reason, "first name missing");

    // The user settles it: mapped explicitly, each name splits by itself.
    let explicit: ExplicitMapping =
        serde_json::from_str(r#"[{"column": 0, "field": "firstName"}, {"column": 0, "field": "lastName"}]"#)
            .unwrap();
    let p = preview_with(csv.as_bytes(), "contradiction.csv", ReadOptions::default(), Some(explicit));
    all_callable(&p);
    assert_eq!(name_at(&p, 2), ("John".into(), "Smith".into()));
    assert_eq!(name_at(&p, 4), ("Ann".into(), "Lee".into()));

    // And the other way round: `First Last` over cells that are mostly `Last, First`.
    let csv = "Patient (First Last),DOB,Phone\n\"Smith, John\",03/04/1985,3125550101\n\"Jones, Mary\",05/06/1970,3125550102\n";
    let p = preview(csv.as_bytes(), "contradiction2.csv");
    assert!(p.ambiguities.iter().any(|a| a.kind == AmbiguityKind::NameOrder), "{:?}", p.ambiguities);
    assert!(p.mapping.iter().all(|m| m.column != 0));
}

#[test]
fn a_provider_or_contact_name_layout_is_not_the_patient() {
    let csv = "First Name,Last Name,DOB,Phone,\"Provider (Last, First)\"\nJohn,Smith,03/04/1985,3125550101,\"Jones, Mary\"\n";
    let p = preview(csv.as_bytes(), "provider.csv");
    let v = vars_at(&p, 2);
    assert_eq!((v["firstName"].as_str(), v["lastName"].as_str()), ("John", "Smith"));
    assert!(
        p.mapping.iter().filter(|m| m.column == 4).all(|m| m.part == ValuePart::Whole),
        "{:?}",
        mapped(&p)
    );
    let csv = "\"Guarantor Name (Last, First)\",DOB,Phone\n\"Jones, Mary\",03/04/1985,3125550101\n";
    let p = preview(csv.as_bytes(), "guarantor.csv");
    assert!(p.mapping.iter().all(|m| m.column != 0), "{:?}", mapped(&p));
}
