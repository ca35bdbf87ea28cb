//! PHI at rest, tried as an outsider with a copy of the database would (issue 15, items 2 and 3):
//! after a full simulator run, a dump of the database (`pg_dump` on PostgreSQL, the database files
//! themselves on SQLite) holds none of the sheet's names, phone numbers or birth dates, nor the
//! uploaded file's name; and the same patient, phone number and do-not-call entry in two clinics
//! have unrelated lookup keys, so one clinic's rows cannot be joined with another's.

use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use crate::calls::{calling_app, run_to_completion};
use crate::support::seed;
use crate::support::TestApp;

/// Names, numbers and dates no other test or fixture uses, so a hit can only be a leak.
const SHEET: &[u8] = b"First Name,Last Name,Date of Birth,Phone,Appointment Date\n\
Zebulon,Quixote,1947-08-19,(312) 555-0171,2026-12-03\n\
Philippa,Marchbanks,1939-11-23,(312) 555-0172,2026-12-03\n";

const FILE_NAME: &str = "Quixote and Marchbanks.csv";

/// Every form in which the sheet's PHI could have been written.
const NEEDLES: &[&str] = &[
    "zebulon",
    "quixote",
    "philippa",
    "marchbanks",
    "3125550171",
    "3125550172",
    "555-0171",
    "555-0172",
    "1947-08-19",
    "1939-11-23",
    "08/19/1947",
    "11/23/1939",
];

/// Everything the database holds, as text: a plain-format `pg_dump` (bytea as hex), or the bytes
/// of the SQLite database files (the main file, its journal and its write-ahead log).
async fn dump(app: &TestApp) -> String {
    if app.database.is_postgres() {
        let output = std::process::Command::new("pg_dump")
            .args(["--no-owner", "--dbname", &app.database.url])
            .output()
            .expect("pg_dump runs");
        assert!(output.status.success(), "pg_dump: {}", String::from_utf8_lossy(&output.stderr));
        return String::from_utf8_lossy(&output.stdout).into_owned();
    }
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(app.data_dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("rivvi.db") {
            bytes.extend(std::fs::read(&path).unwrap());
        }
    }
    assert!(!bytes.is_empty(), "no SQLite database files in {}", app.data_dir.path().display());
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test]
async fn a_database_dump_after_a_full_run_holds_no_name_phone_birth_date_or_file_name() {
    // Arrange: a run of two patients through the simulator, every call reached (transcripts
    // name the patient), one of them put on the do-not-call list afterwards.
    let (app, clock, world) = calling_app().await;
    let (admin, member) = (world.alpha.admin.as_str(), world.alpha.member.as_str());
    let input = json!({"orgId": world.alpha.id, "campaign": seed::reminder_campaign("Sealed")});
    let campaign =
        app.mutation(Some(&world.super_admin), "campaigns.create", input).await.data()["id"].clone();
    for number in ["+13125550171", "+13125550172"] {
        let script = json!({"toNumber": number, "outcomes": ["reached"]});
        let response = app.http.post(app.url("/simulator/retell/script")).json(&script).send().await.unwrap();
        assert_eq!(response.status(), 204);
    }
    let upload = app.upload(admin, FILE_NAME, SHEET.to_vec()).await;
    let input =
        json!({"campaignId": campaign, "uploadId": upload, "name": "Sealed", "clientRequestId": "sealed"});
    let run = app.mutation(Some(admin), "runs.create", input).await.data()["id"].as_str().unwrap().to_owned();

    // Act
    run_to_completion(&app, &clock, member, &[&run]).await;
    let listed =
        app.mutation(Some(admin), "dnc.add", json!({"phone": "(312) 555-0172", "reason": "asked"})).await;
    listed.data();

    // Assert: the API still shows everything, opened...
    let calls = app.query(Some(member), "calls.list", json!({"runId": run, "limit": 10})).await;
    let calls = calls.data()["calls"].as_array().unwrap().clone();
    assert_eq!(calls.len(), 2, "{calls:?}");
    for call in &calls {
        let detail = app.query(Some(member), "calls.get", json!({"id": call["id"]})).await;
        let detail = detail.data();
        let transcript = detail["transcript"].as_str().unwrap();
        assert!(transcript.contains("Zebulon") || transcript.contains("Philippa"), "{transcript}");
        assert!(detail["recordingUrl"].as_str().is_some_and(|url| !url.is_empty()), "{detail}");
        assert!(detail["analysis"].is_object(), "{detail}");
    }
    let rows = app.query(Some(member), "runs.getRows", json!({"runId": run, "limit": 10})).await;
    assert!(rows.data()["rows"].as_array().unwrap().iter().all(|r| r["status"] == "completed"));

    // ...and the stored bytes show none of it.
    let dump = dump(&app).await.to_lowercase();
    assert!(dump.contains("calls") || dump.len() > 10_000, "the dump holds the database");
    for needle in NEEDLES.iter().chain(&[FILE_NAME]) {
        assert!(!dump.contains(&needle.to_lowercase()), "{needle:?} is stored in clear");
    }
    app.stop().await;
}

/// `(org_id, key)` of every row of `table` whose organization is one of `orgs`, as text.
async fn keys_by_org(db: &sea_orm::DatabaseConnection, sql: &str) -> Vec<(String, String)> {
    let rows = db.query_all(Statement::from_string(db.get_database_backend(), sql.to_owned())).await.unwrap();
    rows.iter()
        .map(|row| {
            let org: uuid::Uuid = row.try_get("", "org_id").unwrap();
            let key: String = row.try_get("", "lookup_key").unwrap();
            (org.to_string(), key)
        })
        .collect()
}

fn key_of<'a>(rows: &'a [(String, String)], org: &str) -> Vec<&'a str> {
    rows.iter().filter(|(o, _)| o == org).map(|(_, k)| k.as_str()).collect()
}

#[tokio::test]
async fn the_same_person_in_two_clinics_has_unrelated_lookup_keys() {
    // Arrange: the same patient (same name, birth date and phone) and the same do-not-call number
    // in two organizations.
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let same =
        json!({"firstName": "Ida", "lastName": "Same", "birthDate": "1970-01-02", "phone": "(312) 555-0199"});
    let mut patient_ids = Vec::new();
    for admin in [&world.alpha.admin, &world.beta.admin] {
        let created = app.mutation(Some(admin), "patients.create", same.clone()).await;
        patient_ids.push(created.data()["patient"]["id"].as_str().unwrap().to_owned());
        app.mutation(Some(admin), "dnc.add", json!({"phone": "(312) 555-0199"})).await.data();
    }

    // Act: read the stored keys as someone with the database would.
    let db = app.database.connect().await;
    let identity = keys_by_org(&db, "SELECT org_id, identity_key AS lookup_key FROM patients").await;
    let phone = keys_by_org(&db, "SELECT org_id, phone_key AS lookup_key FROM patients").await;
    let dnc = keys_by_org(&db, "SELECT org_id, phone_key AS lookup_key FROM do_not_call").await;

    // Assert: every organization's keys are its own; nothing joins across them.
    let (alpha, beta) = (world.alpha.id.as_str(), world.beta.id.as_str());
    for (what, rows) in [("identity", &identity), ("patient phone", &phone), ("do-not-call", &dnc)] {
        let (a, b) = (key_of(rows, alpha), key_of(rows, beta));
        assert!(!a.is_empty() && !b.is_empty(), "{what}: {rows:?}");
        assert!(a.iter().all(|key| !b.contains(key)), "{what} keys shared across clinics: {a:?} {b:?}");
    }
    // Each clinic still finds its own patient by phone.
    for (admin, id) in [(&world.alpha.admin, &patient_ids[0]), (&world.beta.admin, &patient_ids[1])] {
        let found =
            app.query(Some(admin), "patients.searchByPhone", json!({"phone": "(312) 555-0199"})).await;
        let found: Vec<Value> = found.data().as_array().unwrap().clone();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0]["id"], json!(id));
    }
    db.close().await.unwrap();
    app.stop().await;
}
