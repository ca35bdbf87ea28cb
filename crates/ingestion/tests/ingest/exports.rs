//! Exports shaped like those of the practice systems clinics use (Epic, athenahealth,
//! eClinicalWorks, Dentrix, NextGen, Kareo/Tebra, DrChrono, an all-caps legacy extract and a
//! hand-made Google Sheet): each one's own header spellings, name layouts, date, time and phone
//! forms. Every row is callable with the same patient values, and every appointment field the
//! file holds is found without an explicit mapping.

use crate::support::{preview, vars_at};

/// John Smith's values as every export below gives them.
const JOHN: [(&str, &str); 5] = [
    ("firstName", "John"),
    ("lastName", "Smith"),
    ("dob", "1985-03-04"),
    ("primaryPhone", "+13125550101"),
    ("appointmentDate", "2026-12-01"),
];

/// (file name, contents, the fields mapped besides John's five and appointmentTime)
const EXPORTS: &[(&str, &str, &[&str])] = &[
    (
        "athena.csv",
        r#"patientid,patient firstname,patient lastname,patientdob,patient mobile no,patient homephone,appt date,appt time,appt type,rndrng prvdr,svc dprtmnt
10021,John,Smith,03/04/1985,3125550101,3125550109,12/01/2026,09:30 AM,FOLLOWUP,JONES MARY,MAIN CLINIC
10022,María,García,11/30/1972,,3125550103,12/01/2026,10:15 AM,NEW PT,JONES MARY,MAIN CLINIC"#,
        &["mrn", "secondaryPhone", "provider", "location"],
    ),
    (
        "dentrix.csv",
        r#"Patient,Birthdate,Wireless Phone,Home Phone,Appt Date,Time,Provider,Chair
John Smith,3/4/1985,(312)555-0101 (cell),,12/1/2026,9:30am,DDS1,OP1
María García,11/30/1972,(312)555-0103,(312)555-0110,12/1/2026,10:15am,DDS1,OP2"#,
        &["secondaryPhone", "provider"],
    ),
    (
        "drchrono.csv",
        r#"id,first_name,last_name,date_of_birth,cell_phone,scheduled_time,doctor,office
1,John,Smith,1985-03-04,+1 312-555-0101,2026-12-01T09:30:00,Dr. Jones,Lakeside
2,María,García,1972-11-30,+13125550103,2026-12-01T10:15:00,Dr. Jones,Lakeside"#,
        &["mrn", "provider", "location"],
    ),
    (
        "ecw.csv",
        r#"Patient Acct No,Patient Name,Patient DOB,Patient Cell Phone,Appointment Date,Appointment Start Time,Resource Provider Name,Facility Name
AC1001,"Smith, John Q.",03/04/1985,312-555-0101,12/01/2026,9:30 AM,"Jones, Mary",Lakeside
AC1002,"García, María",11/30/1972,312-555-0103,12/01/2026,10:15 AM,"Jones, Mary",Lakeside"#,
        &["mrn", "provider", "location"],
    ),
    (
        "epic.csv",
        r#"Patient Name,MRN,DOB,Home Phone,Mobile Phone,Appt Date/Time,Department,Visit Type,Provider
"SMITH, JOHN A",E1002233,03/04/1985,(312) 555-0109,(312) 555-0101,12/01/2026 09:30 AM,FAMILY MED,OFFICE VISIT,"JONES, MARY MD"
"GARCIA, MARÍA",E1002234,11/30/1972,,312-555-0103,12/01/2026 10:15 AM,FAMILY MED,FOLLOW UP,"JONES, MARY MD"
"O'BRIEN, PATRICK",E1002235,7/9/2001,312.555.0104,,12/02/2026 1:00 PM,PEDS,WELL CHILD,"LEE, ANN DO""#,
        &["mrn", "secondaryPhone", "provider", "location"],
    ),
    (
        "gsheet.csv",
        r#"Name,Date of Birth,Phone Number,Appointment,Doctor,Notes
John Smith,"March 4, 1985",+1 (312) 555-0101,"Tuesday, December 1, 2026 at 9:30 AM",Dr. Jones,prefers mornings
María García,"Nov 30, 1972",312 555 0103,"Tuesday, December 1, 2026 at 10:15 AM",Dr. Jones,"#,
        &["provider"],
    ),
    (
        "kareo.csv",
        r#"Patient ID,Patient First Name,Patient Last Name,Patient Date of Birth,Patient Mobile Phone,Appointment Start Date,Appointment Start Time,Service Location,Resource
P1,John,Smith,03/04/1985,(312) 555-0101,12/01/2026,09:30 AM,Lakeside,Dr. Jones
P2,María,García,11/30/1972,(312) 555-0103,12/01/2026,10:15 AM,Lakeside,Dr. Jones"#,
        &["mrn", "provider", "location"],
    ),
    (
        "nextgen.csv",
        r#"person_nbr,last_name,first_name,birth_date,cell_phone,home_phone,appt_date,begintime,rendering,location_name
501,Smith,John,19850304,3125550101,,20261201,0930,Mary Jones MD,Lakeside
502,García,María,19721130,,3125550103,20261201,1015,Mary Jones MD,Lakeside"#,
        &["mrn", "secondaryPhone", "provider", "location"],
    ),
    (
        "upper.csv",
        r#"PT_FNAME,PT_LNAME,PT_DOB,PT_CELL,PT_HOME,APPT_DT,APPT_TM,PROV_NAME,LOC_NAME
JOHN,SMITH,03/04/85,3125550101,,12/01/26,0930,JONES,LAKESIDE
MARIA,GARCIA,11/30/72,,3125550103,12/01/26,1015,JONES,LAKESIDE"#,
        &["secondaryPhone", "provider", "location"],
    ),
];

#[test]
fn every_practice_system_export_maps_without_help_and_reads_the_same_patient() {
    for (file, text, extra) in EXPORTS {
        let p = preview(text.as_bytes(), file);

        assert_eq!(
            p.counts.callable_rows,
            p.counts.data_rows,
            "{file}: {:?}",
            p.rows.iter().map(|r| &r.errors).collect::<Vec<_>>()
        );
        assert!(p.ambiguities.is_empty(), "{file}: {:?}", p.ambiguities);
        assert!(
            p.rows.iter().all(|r| r.warnings.is_empty()),
            "{file}: {:?}",
            p.rows.iter().map(|r| &r.warnings).collect::<Vec<_>>()
        );
        let john = vars_at(&p, 2);
        for (field, value) in JOHN {
            // Names keep the file's case (`SMITH, JOHN` stays upper case).
            let got = john.get(field).map(|v| v.to_lowercase());
            assert_eq!(got, Some(value.to_lowercase()), "{file}: {field}");
        }
        assert_eq!(john.get("appointmentTime").map(String::as_str), Some("09:30"), "{file}");
        let mut mapped: Vec<&str> = p.mapping.iter().map(|m| m.field.as_str()).collect();
        mapped.sort_unstable();
        let mut wanted: Vec<&str> =
            JOHN.iter().map(|(f, _)| *f).chain(["appointmentTime"]).chain(extra.iter().copied()).collect();
        wanted.sort_unstable();
        assert_eq!(mapped, wanted, "{file}");
    }
}

#[test]
fn a_vague_column_counts_as_date_and_time_only_when_its_cells_have_times_of_day() {
    let at_midnight = "First Name,Last Name,DOB,Phone,Appointment\n\
                       Ann,Lee,1/2/1980,3125550143,2026-12-01 00:00\n\
                       Bob,Ray,2/3/1970,3125550144,2026-12-02 00:00\n";
    let p = preview(at_midnight.as_bytes(), "a.csv");
    assert!(p.mapping.iter().all(|m| m.header != "Appointment"), "{:?}", p.mapping);
    assert!(p.ambiguities.iter().any(|a| a.message.contains("Appointment")), "{:?}", p.ambiguities);

    let mostly_text = "First Name,Last Name,DOB,Phone,Appointment\n\
                       Ann,Lee,1/2/1980,3125550143,2026-12-01 09:30\n\
                       Bob,Ray,2/3/1970,3125550144,see notes\n\
                       Cy,Fox,3/4/1960,3125550145,call first\n";
    let p = preview(mostly_text.as_bytes(), "a.csv");
    assert!(p.mapping.iter().all(|m| m.header != "Appointment"), "{:?}", p.mapping);
}

/// What export tools do to values on the way out: Excel's `="..."` text formula (kept leading
/// zeros), midnight ISO timestamps for dates, scientific notation that still has every digit, a
/// number cell that lost a time's leading zero. Each reads as what it means; the original cells
/// are kept as written.
#[test]
fn export_tool_artifacts_read_as_what_they_mean() {
    let csv = "First Name,Last Name,DOB,Phone,MRN,Appt Date,Appt Time\n\
               Ann,Lee,1985-03-04T00:00:00.000Z,=\"3125550143\",=\"001234\",2026-12-01,930\n\
               Bob,Ray,1970-02-03T05:00:00Z,3.125550144E9,=\"000777\",2026-12-02,1415\n";

    let p = preview(csv.as_bytes(), "export.csv");

    assert_eq!(p.counts.callable_rows, 2, "{:?}", p.rows.iter().map(|r| &r.errors).collect::<Vec<_>>());
    let ann = vars_at(&p, 2);
    assert_eq!(
        (
            ann["dob"].as_str(),
            ann["primaryPhone"].as_str(),
            ann["mrn"].as_str(),
            ann["appointmentTime"].as_str()
        ),
        ("1985-03-04", "+13125550143", "001234", "09:30")
    );
    let bob = vars_at(&p, 3);
    assert_eq!((bob["dob"].as_str(), bob["primaryPhone"].as_str()), ("1970-02-03", "+13125550144"));
    assert_eq!(crate::support::cells_at(&p, 2)[3], "=\"3125550143\"");
}

/// A two-row header: `Appointment` spans `Date` and `Time` (a merged cell keeps its text in the
/// first cell), so the bare `Date` is the appointment's, not the birth date. A title above a
/// header is not a group label.
#[test]
fn a_group_label_above_the_header_settles_a_bare_column_name() {
    let grouped = "Patient,,,,Appointment,\n\
                   First,Last,Birth Date,Phone,Date,Time\n\
                   Ann,Lee,1/2/1980,3125550143,12/01/2026,9:30 AM\n";
    let p = preview(grouped.as_bytes(), "grouped.csv");
    assert_eq!(p.header_row, 2);
    assert_eq!(
        p.mapping.iter().find(|m| m.header == "Date").map(|m| m.field.as_str()),
        Some("appointmentDate")
    );
    assert_eq!(vars_at(&p, 3)["appointmentDate"], "2026-12-01");
    assert!(p.ambiguities.is_empty(), "{:?}", p.ambiguities);

    // One title cell, or labels carrying digits, are not groups: the bare Date stays in doubt.
    for above in ["Appointment list,,,,,", "Appointments,,,,Printed 11/20/2026,"] {
        let csv = format!("{above}\nFirst,Last,Birth Date,Phone,Date,Time\nAnn,Lee,1/2/1980,3125550143,12/01/2026,9:30 AM\n");
        let p = preview(csv.as_bytes(), "titled.csv");
        assert!(p.mapping.iter().all(|m| m.header != "Date"), "{above}: {:?}", p.mapping);
    }
}
