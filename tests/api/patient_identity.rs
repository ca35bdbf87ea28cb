//! Patients that keep their identity when their number changes (issue 16, item 5), through HTTP:
//! a sheet row with a known patient's MRN, or with the name and birth date of exactly one known
//! patient, joins that patient, and a number new to them becomes one of their contact points
//! (the preview says so first, and writes nothing). Inbound calls and phone search find the
//! patient by that number.
//!
//! The server runs as for production Retell (a known API key, which signs webhooks) with a Retell
//! simulator of the test's own behind `RETELL_BASE_URL`, as in `inbound.rs`: runs publish their
//! agent version there, and the test signs inbound requests with the same key.

use std::sync::Arc;

use rivvi_domain::ids::{CallId, OrgId, PatientId};
use rivvi_execution::clock::{Clock, SystemClock};
use rivvi_execution::retell::webhook;
use rivvi_persistence::{calls, OrgScope};
use serde_json::{json, Value};

use crate::support::{scalar, seed, simulated, text_without_ids, TestApp};

const KEY: &str = "key_identity_tests_5b20a1";
const CLINIC_NUMBER: &str = "+13125550100";
const HEADER: &str = "First Name,Last Name,DOB,Phone,MRN,Appt Date,Appt Time\n";

/// Alpha of the seeded world, with a reminder campaign whose variables map [`HEADER`].
struct Clinic {
    app: TestApp,
    world: seed::World,
    campaign_id: String,
    clock: Arc<dyn Clock>,
    _simulator: simulated::Listener,
}

impl Clinic {
    async fn start() -> Clinic {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let simulated::Simulated { app, listener, .. } = simulated::spawn(KEY, clock.clone(), |_| {}).await;
        let (world, campaign_id) = seed::world_with_reminders(&app).await;
        Clinic { app, world, campaign_id, clock, _simulator: listener }
    }

    fn admin(&self) -> &str {
        &self.world.alpha.admin
    }

    /// Adds a patient by hand; their id.
    async fn patient(&self, input: Value) -> String {
        let created = self.app.mutation(Some(self.admin()), "patients.create", input).await;
        assert_eq!(created.data()["created"], true, "{:?}", created.data());
        created.data()["patient"]["id"].as_str().unwrap().to_owned()
    }

    /// Uploads `rows` under [`HEADER`]; the upload's id and its preview.
    async fn preview(&self, file_name: &str, rows: &str) -> (String, Value) {
        let upload = self.app.upload(self.admin(), file_name, format!("{HEADER}{rows}").into_bytes()).await;
        let preview = self
            .app
            .query(
                Some(self.admin()),
                "runs.preview",
                json!({"campaignId": self.campaign_id, "uploadId": upload}),
            )
            .await;
        (upload, preview.data().clone())
    }

    /// Creates a run from `upload`; its rows.
    async fn create_run(&self, upload: &str) -> Vec<Value> {
        let input = json!({"campaignId": self.campaign_id, "uploadId": upload, "name": "Reminders", "clientRequestId": upload});
        let run = self.app.mutation(Some(self.admin()), "runs.create", input).await;
        let rows = self
            .app
            .query(Some(self.admin()), "runs.getRows", json!({"runId": run.data()["id"], "limit": 100}))
            .await;
        rows.data()["rows"].as_array().unwrap().clone()
    }

    async fn patient_count(&self) -> u64 {
        let page = self.app.query(Some(self.admin()), "patients.list", json!({"limit": 1})).await;
        page.data()["total"].as_u64().unwrap()
    }

    async fn get(&self, id: &str) -> Value {
        self.app.query(Some(self.admin()), "patients.get", json!({"id": id})).await.data().clone()
    }

    async fn table_count(&self, table: &str) -> i64 {
        let db = self.app.database.connect().await;
        scalar(&db, &format!("SELECT COUNT(*) FROM {table}")).await
    }

    /// Retell's inbound request for a call from `from` to the clinic's number, signed; the answer.
    async fn call_in(&self, from: &str) -> Value {
        let body = json!({"event": "call_inbound", "call_inbound": {"agent_id": "agent_inbound_1", "agent_version": 1, "from_number": from, "to_number": CLINIC_NUMBER}}).to_string();
        let signature = webhook::sign(KEY, body.as_bytes(), self.clock.now_ms());
        let response = self
            .app
            .http
            .post(self.app.url("/webhooks/retell/inbound"))
            .header(webhook::SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let answer: Value = response.json().await.unwrap();
        answer["call_inbound"].clone()
    }

    async fn stop(self) {
        self.app.stop().await;
    }
}

fn row_of<'a>(rows: &'a [Value], first_name: &str) -> &'a Value {
    rows.iter().find(|r| r["variables"]["firstName"] == first_name).unwrap()
}

fn phones_of(patient: &Value) -> Vec<(String, String)> {
    patient["contactPoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["phone"].as_str().unwrap().to_owned(), c["source"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test]
async fn a_known_patient_with_a_new_number_joins_them_and_the_preview_says_so_first() {
    // Arrange
    let clinic = Clinic::start().await;
    let ada = clinic
        .patient(json!({"firstName": "Ada", "lastName": "Byron", "birthDate": "1985-12-10", "phone": "(312) 555-0171"}))
        .await;
    let patients_before = clinic.patient_count().await;
    let rows = "ADA,byron,1985-12-10,(312) 555-0271,,2026-12-01,9:30 AM\n\
                Grace,Hopper,1976-12-09,(312) 555-0172,,2026-12-02,10:00 AM\n";

    // Act: preview, then create the run.
    let (upload, preview) = clinic.preview("new-number.csv", rows).await;
    let written_by_preview = (clinic.table_count("patient_phones").await, clinic.patient_count().await);
    let run_rows = clinic.create_run(&upload).await;

    // Assert: the preview told, and wrote nothing.
    let sample = preview["sampleRows"].as_array().unwrap();
    assert_eq!(sample[0]["patient"]["kind"], "newPhone", "{preview}");
    assert_eq!(sample[0]["patient"]["note"], "new phone for an existing patient");
    assert_eq!(sample[0]["patient"]["patientId"], ada.as_str());
    assert_eq!(sample[1]["patient"]["kind"], "new");
    assert_eq!(sample[1]["patient"]["patientId"], Value::Null);
    assert_eq!(
        (preview["counts"]["newPhoneRows"].clone(), preview["counts"]["existingPatientRows"].clone()),
        (json!(1), json!(1))
    );
    let listed: Vec<&Value> =
        preview["newPhoneRows"].as_array().unwrap().iter().map(|r| &r["sheetRow"]).collect();
    assert_eq!(listed, [&json!(2)]);
    assert_eq!(written_by_preview, (0, patients_before));

    // Assert: the run joined Ada, who has both numbers; only Grace is new.
    assert_eq!(clinic.patient_count().await, patients_before + 1);
    assert_eq!(row_of(&run_rows, "ADA")["patientId"], ada.as_str());
    assert_ne!(row_of(&run_rows, "Grace")["patientId"], ada.as_str());
    let record = clinic.get(&ada).await;
    assert_eq!(record["phone"], "+13125550171", "the record's own number stays");
    assert_eq!(record["firstName"], "Ada", "and so does its spelling");
    assert_eq!(phones_of(&record), [("+13125550271".to_owned(), "upload".to_owned())]);
    let found = clinic
        .app
        .query(Some(clinic.admin()), "patients.searchByPhone", json!({"phone": "312.555.0271"}))
        .await;
    let found: Vec<&Value> = found.data().as_array().unwrap().iter().map(|p| &p["id"]).collect();
    assert_eq!(found, [&json!(ada)]);

    // Assert: the addition is audited by ids, never the number.
    let entries = seed::audit_entries(&clinic.app, clinic.admin()).await;
    let added: Vec<&Value> = entries.iter().filter(|e| e["action"] == "patient.phone_added").collect();
    assert_eq!(added.len(), 1, "{entries:?}");
    assert_eq!(added[0]["entityId"], ada.as_str());
    let contact_point = format!("contactPoint:{}", record["contactPoints"][0]["id"].as_str().unwrap());
    assert!(added[0]["changedFields"].as_array().unwrap().contains(&json!(contact_point)), "{}", added[0]);
    assert!(!text_without_ids(added[0]).contains("0271"), "{}", added[0]);

    // Assert: the same sheet again is Ada with a number she has now.
    let again = clinic
        .app
        .query(
            Some(clinic.admin()),
            "runs.preview",
            json!({"campaignId": clinic.campaign_id, "uploadId": upload}),
        )
        .await;
    assert_eq!(again.data()["sampleRows"][0]["patient"]["kind"], "existing");
    assert_eq!(again.data()["counts"]["newPhoneRows"], 0);
    clinic.stop().await;
}

#[tokio::test]
async fn an_mrn_names_the_patient_whatever_the_spelling_and_two_mrns_are_two_people() {
    // Arrange: Katherine has an MRN; Dorothy has another one.
    let clinic = Clinic::start().await;
    let katherine = clinic
        .patient(json!({"firstName": "Katherine", "lastName": "Johnson", "birthDate": "1918-08-26", "phone": "(312) 555-0181", "mrn": "MRN-004411"}))
        .await;
    let dorothy = clinic
        .patient(json!({"firstName": "Dorothy", "lastName": "Vaughan", "birthDate": "1910-09-20", "phone": "(312) 555-0182", "mrn": "MRN-1"}))
        .await;
    let patients_before = clinic.patient_count().await;
    // Katherine under her married name and a new number; a Dorothy Vaughan born the same day but
    // with another MRN.
    let rows = "Kathrine,Johnson Goble,1918-08-26,(312) 555-0281,mrn 004411,2026-12-01,9:30 AM\n\
                Dorothy,Vaughan,1910-09-20,(312) 555-0282,MRN-2,2026-12-02,10:00 AM\n";

    // Act
    let (upload, preview) = clinic.preview("mrn.csv", rows).await;
    let run_rows = clinic.create_run(&upload).await;

    // Assert
    let sample = preview["sampleRows"].as_array().unwrap();
    assert_eq!(
        (sample[0]["patient"]["kind"].clone(), sample[0]["patient"]["patientId"].clone()),
        (json!("newPhone"), json!(katherine))
    );
    assert_eq!(sample[1]["patient"]["kind"], "new", "a different MRN is someone else: {preview}");
    assert_eq!(row_of(&run_rows, "Kathrine")["patientId"], katherine.as_str());
    assert_ne!(row_of(&run_rows, "Dorothy")["patientId"], dorothy.as_str());
    assert_eq!(clinic.patient_count().await, patients_before + 1, "only the second Dorothy is new");
    assert_eq!(phones_of(&clinic.get(&katherine).await), [("+13125550281".to_owned(), "upload".to_owned())]);
    assert!(phones_of(&clinic.get(&dorothy).await).is_empty());
    // An MRN names one patient: giving Dorothy Katherine's is refused.
    let taken = json!({"id": dorothy, "mrn": "MRN 004411"});
    let refused = clinic.app.mutation(Some(clinic.admin()), "patients.update", taken).await;
    assert_eq!(refused.code(), 409);
    assert!(refused.message().contains("another patient already has this MRN"), "{}", refused.message());
    clinic.stop().await;
}

/// Two new rows of one sheet with one MRN, under two names and numbers, are one patient: the
/// preview says so before anything is written, and creating the run does what it said.
#[tokio::test]
async fn new_rows_of_one_sheet_with_one_mrn_are_one_patient_in_the_preview_and_in_the_run() {
    // Arrange: nobody on file; Grace twice (maiden and married name, two numbers), then Ada.
    let clinic = Clinic::start().await;
    let patients_before = clinic.patient_count().await;
    let rows = "Grace,Hopper,1906-12-09,(312) 555-0301,H-1906,2026-12-01,9:30 AM\n\
                Grace,Murray Hopper,1906-12-09,(312) 555-0302,h 1906,2026-12-02,10:00 AM\n\
                Ada,Lovelace,1955-12-10,(312) 555-0303,,2026-12-02,10:30 AM\n";

    // Act
    let (upload, preview) = clinic.preview("same-mrn.csv", rows).await;
    let run_rows = clinic.create_run(&upload).await;

    // Assert: the preview names the first Grace's row on the second, and nobody else's.
    let sample = preview["sampleRows"].as_array().unwrap();
    let patient = |i: usize| &sample[i]["patient"];
    assert_eq!([&patient(0)["kind"], &patient(1)["kind"], &patient(2)["kind"]], ["new", "new", "new"]);
    assert_eq!(patient(0)["samePatientAsSheetRow"], Value::Null);
    assert_eq!(patient(1)["samePatientAsSheetRow"], sample[0]["sheetRow"], "{preview}");
    assert!(patient(1)["note"].as_str().unwrap().contains("same MRN"), "{}", patient(1)["note"]);
    assert_eq!(patient(2)["samePatientAsSheetRow"], Value::Null);
    assert_eq!(preview["counts"]["existingPatientRows"], 0);
    // ... and the run is what it said: one Grace with both numbers, and Ada.
    assert_eq!(clinic.patient_count().await, patients_before + 2);
    let grace = run_rows[0]["patientId"].as_str().unwrap();
    assert_eq!(run_rows[1]["patientId"], grace);
    assert_ne!(run_rows[2]["patientId"], grace);
    assert_eq!(phones_of(&clinic.get(grace).await), [("+13125550302".to_owned(), "upload".to_owned())]);
    clinic.stop().await;
}

/// Entered by hand with a known MRN and a new number, a patient is the one already on file: the
/// number becomes a contact point learnt by hand, audited by ids.
#[tokio::test]
async fn a_patient_entered_by_hand_with_a_known_mrn_and_a_new_number_gains_the_number() {
    // Arrange
    let clinic = Clinic::start().await;
    let mary = clinic
        .patient(json!({"firstName": "Mary", "lastName": "Jackson", "birthDate": "1921-04-09", "phone": "(312) 555-0191", "mrn": "A-77"}))
        .await;

    // Act
    let again = json!({"firstName": "Mary", "lastName": "Jackson", "birthDate": "1921-04-09", "phone": "312.555.0291", "mrn": "a77"});
    let created = clinic.app.mutation(Some(clinic.admin()), "patients.create", again).await;

    // Assert
    assert_eq!(created.data()["created"], false, "{}", created.body);
    assert_eq!(created.data()["patient"]["id"], mary.as_str());
    let record = clinic.get(&mary).await;
    assert_eq!(record["phone"], "+13125550191");
    assert_eq!(phones_of(&record), [("+13125550291".to_owned(), "manual".to_owned())]);
    let entries = seed::audit_entries(&clinic.app, clinic.admin()).await;
    let added: Vec<&Value> = entries.iter().filter(|e| e["action"] == "patient.phone_added").collect();
    assert_eq!(added.len(), 1, "{entries:?}");
    assert_eq!(added[0]["entityId"], mary.as_str());
    assert!(!added[0].to_string().contains("0291"), "{}", added[0]);
    clinic.stop().await;
}

#[tokio::test]
async fn a_new_number_for_a_name_and_birth_date_two_patients_share_is_a_new_patient() {
    // Arrange: two John Smiths born the same day, entered by hand (the person typing decides).
    let clinic = Clinic::start().await;
    let john = json!({"firstName": "John", "lastName": "Smith", "birthDate": "1980-01-01", "phone": "(312) 555-0191"});
    let first = clinic.patient(john.clone()).await;
    let mut other = john;
    other["phone"] = json!("(312) 555-0192");
    let second = clinic.patient(other).await;
    assert_ne!(first, second);
    let patients_before = clinic.patient_count().await;

    // Act: a sheet with a John Smith born that day and a third number.
    let (upload, preview) =
        clinic.preview("smiths.csv", "John,Smith,1980-01-01,(312) 555-0193,,2026-12-01,9:30 AM\n").await;
    let run_rows = clinic.create_run(&upload).await;

    // Assert: never a merge on doubt.
    assert_eq!(preview["sampleRows"][0]["patient"]["kind"], "new", "{preview}");
    assert_eq!(preview["counts"]["newPhoneRows"], 0);
    assert_eq!(clinic.patient_count().await, patients_before + 1);
    let joined = &row_of(&run_rows, "John")["patientId"];
    assert!(joined != first.as_str() && joined != second.as_str(), "{joined}");
    assert_eq!(clinic.table_count("patient_phones").await, 0);
    clinic.stop().await;
}

#[tokio::test]
async fn a_call_from_a_patients_new_number_is_recognised_as_that_patient() {
    // Arrange: alpha answers CLINIC_NUMBER; a sheet showed Ada with a new number.
    let clinic = Clinic::start().await;
    seed::assign_number(&clinic.app, &clinic.world.super_admin, &clinic.world.alpha.id, CLINIC_NUMBER).await;
    let ada = clinic
        .patient(json!({"firstName": "Ada", "lastName": "Byron", "birthDate": "1985-12-10", "phone": "(312) 555-0171"}))
        .await;
    let (upload, _) =
        clinic.preview("new-number.csv", "Ada,Byron,1985-12-10,(312) 555-0271,,2026-12-01,9:30 AM\n").await;
    clinic.create_run(&upload).await;

    // Act
    let answer = clinic.call_in("+13125550271").await;

    // Assert
    let variables = &answer["dynamic_variables"];
    assert_eq!(variables["caller_known"], "true", "{answer}");
    assert_eq!(variables["first_name"], "Ada");
    let call_id = CallId(answer["metadata"]["call_id"].as_str().unwrap().parse().unwrap());
    let scope = OrgScope::for_verified_org(OrgId(clinic.world.alpha.id.parse().unwrap()));
    let call = calls::get(&clinic.app.database.connect().await, &scope, call_id).await.unwrap();
    assert_eq!(call.patient_id, Some(PatientId(ada.parse().unwrap())));
    clinic.stop().await;
}
