//! `patients.*` through HTTP: one patient per person however the name or number is written,
//! sealed at rest, found by whole phone number, scoped to the organization.

use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use crate::support::{seed, TestApp};

#[tokio::test]
async fn the_same_person_written_differently_is_one_patient() {
    // Arrange
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let admin = world.alpha.admin.as_str();
    let first = json!({"firstName": "José", "lastName": "O'Brien", "birthDate": "1985-03-04", "phone": "312-555-0199"});
    let again = json!({"firstName": "  jose ", "lastName": "OBRIEN", "birthDate": "1985-03-04", "phone": "+1 (312) 555 0199"});

    // Act
    let created = app.mutation(Some(admin), "patients.create", first).await;
    let repeated = app.mutation(Some(admin), "patients.create", again).await;

    // Assert
    assert_eq!(created.data()["created"], true);
    assert_eq!(repeated.data()["created"], false);
    assert_eq!(repeated.data()["patient"]["id"], created.data()["patient"]["id"]);
    assert_eq!(created.data()["patient"]["phone"], "+13125550199");
    assert_eq!(repeated.data()["patient"]["firstName"], "José", "the first spelling is kept");
    app.stop().await;
}

#[tokio::test]
async fn patient_fields_are_sealed_at_rest() {
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let input = json!({"firstName": "Zebulon", "lastName": "Quixotic", "birthDate": "1970-01-02", "phone": "6175550123", "mrn": "MRN-778899"});
    app.mutation(Some(&world.alpha.admin), "patients.create", input).await.data();

    let db = app.database.connect().await;
    let backend = db.get_database_backend();
    let rows =
        db.query_all(Statement::from_string(backend, "SELECT * FROM patients".to_owned())).await.unwrap();
    let dump = format!("{rows:?}");

    for clear in ["Zebulon", "Quixotic", "1970-01-02", "6175550123", "+16175550123", "MRN-778899"] {
        assert!(!dump.contains(clear), "{clear} is stored in clear");
    }
    app.stop().await;
}

#[tokio::test]
async fn search_by_phone_matches_a_whole_number_in_any_format_within_the_org() {
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;

    let alpha = app
        .query(Some(&world.alpha.member), "patients.searchByPhone", json!({"phone": "312.555.0143"}))
        .await;
    let beta =
        app.query(Some(&world.beta.member), "patients.searchByPhone", json!({"phone": "3125550143"})).await;
    let partial =
        app.query(Some(&world.alpha.member), "patients.searchByPhone", json!({"phone": "0143"})).await;

    let found = alpha.data().as_array().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], world.alpha.patient_id.as_str());
    let beta_found = beta.data().as_array().unwrap();
    assert_eq!(beta_found.len(), 1, "beta has its own patient with that number");
    assert_ne!(beta_found[0]["id"], world.alpha.patient_id.as_str());
    assert_eq!(partial.code(), 400);
    assert!(partial.message().contains("\"field\":\"phone\""), "{}", partial.message());
    app.stop().await;
}

#[tokio::test]
async fn another_orgs_patient_is_not_found_for_reads_or_changes() {
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let beta_admin = world.beta.admin.as_str();

    let read = app.query(Some(beta_admin), "patients.get", json!({"id": world.alpha.patient_id})).await;
    let change = app
        .mutation(Some(beta_admin), "patients.update", json!({"id": world.alpha.patient_id, "mrn": "X"}))
        .await;
    let listed = app.query(Some(beta_admin), "patients.list", json!({})).await;

    assert_eq!(read.code(), 404);
    assert_eq!(change.code(), 404);
    let ids: Vec<&Value> = listed.data()["patients"].as_array().unwrap().iter().map(|p| &p["id"]).collect();
    assert!(!ids.contains(&&json!(world.alpha.patient_id)));
    app.stop().await;
}

#[tokio::test]
async fn an_update_changes_only_what_it_names_and_is_audited_without_values() {
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let admin = world.alpha.admin.as_str();

    let updated = app
        .mutation(
            Some(admin),
            "patients.update",
            json!({"id": world.alpha.patient_id, "secondaryPhone": "(617) 555-0100"}),
        )
        .await;
    let audit = app.query(Some(admin), "audit.list", json!({"entityType": "patient"})).await;

    assert_eq!(updated.data()["secondaryPhone"], "+16175550100");
    assert_eq!(updated.data()["firstName"], "Ada");
    let entry = &audit.data()["entries"][0];
    assert_eq!(entry["action"], "patient.updated");
    assert_eq!(entry["changedFields"], json!(["secondaryPhone"]));
    assert!(!entry.to_string().contains("5550100"), "no values in the audit log: {entry}");
    app.stop().await;
}

#[tokio::test]
async fn an_update_that_makes_a_patient_another_existing_one_is_a_conflict() {
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let admin = world.alpha.admin.as_str();
    let other = app
        .mutation(Some(admin), "patients.create", json!({"firstName": "Grace", "lastName": "Hopper", "birthDate": "1906-12-09", "phone": "2125550111"}))
        .await;
    let other_id = other.data()["patient"]["id"].clone();

    let clash = app
        .mutation(
            Some(admin),
            "patients.update",
            json!({"id": other_id, "firstName": "Ada", "lastName": "alpha Lovelace", "birthDate": "1961-02-04", "phone": "3125550143"}),
        )
        .await;

    assert_eq!(clash.code(), 409, "{}", clash.body);
    let unchanged = app.query(Some(admin), "patients.get", json!({"id": other_id})).await;
    assert_eq!(unchanged.data()["firstName"], "Grace");
    app.stop().await;
}

#[tokio::test]
async fn invalid_patients_are_refused_naming_each_field_and_write_nothing() {
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    let admin = world.alpha.admin.as_str();
    let before = seed::row_counts(&app).await;

    let cases = [
        (
            json!({"firstName": "", "lastName": "X", "birthDate": "1961-02-04", "phone": "3125550143"}),
            "firstName",
        ),
        (
            json!({"firstName": "A", "lastName": "X", "birthDate": "02/04/1961", "phone": "3125550143"}),
            "birthDate",
        ),
        (
            json!({"firstName": "A", "lastName": "X", "birthDate": "2999-01-01", "phone": "3125550143"}),
            "birthDate",
        ),
        (json!({"firstName": "A", "lastName": "X", "birthDate": "1961-02-04", "phone": "555-0100"}), "phone"),
        (
            json!({"firstName": "A", "lastName": "X", "birthDate": "1961-02-04", "phone": "3125550143", "secondaryPhone": "12"}),
            "secondaryPhone",
        ),
        (json!({"firstName": "A", "lastName": "X", "birthDate": "1961-02-04"}), "phone"),
    ];
    for (input, field) in cases {
        let response = app.mutation(Some(admin), "patients.create", input.clone()).await;
        assert_eq!(response.code(), 400, "{input}");
        assert!(
            response.message().contains(&format!("\"field\":\"{field}\"")),
            "{input}: {}",
            response.message()
        );
    }

    assert_eq!(seed::row_counts(&app).await, before);
    app.stop().await;
}
