use rivvi_persistence::legacy_phi;
use rivvi_persistence::patients::{self, PatientFields, PatientIdentity, PatientMatch, PhoneSource};
use rivvi_persistence::sealing::{Aad, Keys};
use rivvi_persistence::testing::on_each_backend;
use rivvi_persistence::Page;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::org;

fn patient(i: usize, written: &str) -> PatientIdentity {
    PatientIdentity {
        fields: PatientFields {
            first_name: format!("{written}Zoë {i}"),
            last_name: "O'Brien".to_owned(),
            birth_date: if i.is_multiple_of(5) { String::new() } else { "1985-03-04".to_owned() },
            phone: format!("+1312{i:07}"),
            secondary_phone: i.is_multiple_of(2).then(|| format!("+1773{i:07}")),
            mrn: i.is_multiple_of(3).then(|| format!("MRN-{i}")),
        },
        canonical: format!("zoe {i}|obrien|1985-03-04|+1312{i:07}"),
    }
}

#[tokio::test]
async fn an_identity_repeated_in_a_batch_and_known_from_before_is_one_patient() {
    on_each_backend(|db| async move {
        let keys = Keys::generate().unwrap();
        let (_, scope) = org(&db, "org_a").await;
        let (_, other_org) = org(&db, "org_b").await;
        let known = patients::find_or_create_many(&db, &scope, &keys, &[patient(1, ""), patient(2, "")])
            .await
            .unwrap();
        let elsewhere =
            patients::find_or_create_many(&db, &other_org, &keys, &[patient(3, "")]).await.unwrap();

        // Patient 1 twice (written differently), patient 2 once, patient 3 (known only in another
        // organization) twice, and enough new ones that PostgreSQL upserts in two statements.
        let mut batch =
            vec![patient(1, " "), patient(3, ""), patient(2, ""), patient(1, "  "), patient(3, "")];
        batch.extend((10..5_010).map(|i| patient(i, "")));
        let ids = patients::find_or_create_many(&db, &scope, &keys, &batch).await.unwrap();

        assert_eq!(ids.len(), batch.len());
        assert_eq!((ids[0], ids[3]), (known[0], known[0]));
        assert_eq!(ids[2], known[1]);
        assert_eq!(ids[1], ids[4]);
        assert_ne!(ids[1], elsewhere[0]);
        let mut unique = ids.clone();
        unique.sort_unstable_by_key(|id| id.as_uuid());
        unique.dedup();
        assert_eq!(unique.len(), 3 + 5_000);
        // A known patient keeps the fields it was created with.
        let first = patients::get(&db, &scope, &keys, known[0]).await.unwrap();
        assert_eq!(first.fields, patient(1, "").fields);
        assert_eq!(first.created_at, first.updated_at);
        // New patients read back exactly, sealed fields and all.
        for (i, id) in [(1, ids[1]), (5, ids[5]), (6, ids[6]), (5_004, ids[5_004])] {
            let expected = if i == 1 { patient(3, "") } else { batch[i].clone() };
            assert_eq!(patients::get(&db, &scope, &keys, id).await.unwrap().fields, expected.fields, "{i}");
        }
        let (_, total) = patients::list(&db, &scope, &keys, Page::new(1, 0)).await.unwrap();
        assert_eq!(total, 3 + 5_000);
        let by_phone = patients::find_by_phone(&db, &scope, &keys, "+17730000012").await.unwrap();
        assert_eq!(by_phone.iter().map(|p| p.id).collect::<Vec<_>>(), vec![ids[5 + 2]]);
    })
    .await;
}

fn person(first: &str, last: &str, phone: &str, mrn: Option<&str>) -> PatientIdentity {
    PatientIdentity {
        fields: PatientFields {
            first_name: first.to_owned(),
            last_name: last.to_owned(),
            birth_date: "1985-12-10".to_owned(),
            phone: phone.to_owned(),
            secondary_phone: None,
            mrn: mrn.map(str::to_owned),
        },
        canonical: format!("{}|{}|1985-12-10|{phone}", first.to_lowercase(), last.to_lowercase()),
    }
}

#[tokio::test]
async fn patients_from_before_match_keys_get_them_at_start_up_and_are_recognised_then() {
    on_each_backend(|db| async move {
        // Arrange: Ada (MRN-7) and Bea, as a server before migration 000010 left them: no MRN or
        // name/birth-date key, pending. Bea's record holds the same MRN as Ada's (sealed for her row).
        let keys = Keys::generate().unwrap();
        let (_, scope) = org(&db, "org_legacy_match").await;
        let ada = person("Ada", "Byron", "+13125550171", Some("MRN-7"));
        let bea = person("Bea", "Byron", "+13125550172", None);
        let ids =
            patients::find_or_create_many(&db, &scope, &keys, &[ada.clone(), bea.clone()]).await.unwrap();
        let backend = db.get_database_backend();
        let bea_mrn = keys
            .sealer
            .seal_str(&Aad { table: "patients", column: "mrn_sealed", row_id: ids[1].as_uuid() }, "mrn 7")
            .unwrap();
        db.execute(Statement::from_sql_and_values(
            backend,
            match backend {
                DbBackend::Postgres => "UPDATE patients SET mrn_sealed = $1 WHERE id = $2",
                _ => "UPDATE patients SET mrn_sealed = ? WHERE id = ?",
            },
            [bea_mrn.into(), ids[1].as_uuid().into()],
        ))
        .await
        .unwrap();
        let forget = "UPDATE patients SET mrn_key = NULL, name_dob_key = NULL, match_keys_pending = TRUE";
        db.execute(Statement::from_string(backend, forget)).await.unwrap();
        let new_number = person("ADA", "byron", "+13125550999", None);
        let by_mrn = person("Adah", "Byron-King", "+13125550998", Some("mrn-7"));
        let before = patients::plan_many(
            &db,
            &scope,
            &keys,
            &[new_number.clone(), by_mrn.clone()],
            PhoneSource::Upload,
        )
        .await
        .unwrap();

        // Act: one patient per batch; then again.
        let report = legacy_phi::upgrade(&db, &keys, 1).await.unwrap();
        let again = legacy_phi::upgrade(&db, &keys, legacy_phi::BATCH).await.unwrap();

        // Assert
        assert_eq!(before, [PatientMatch::New, PatientMatch::New], "without keys nobody is recognised");
        assert_eq!((report.patients_match_keyed, again.total()), (2, 0));
        let after = patients::plan_many(&db, &scope, &keys, &[new_number, by_mrn], PhoneSource::Upload)
            .await
            .unwrap();
        assert_eq!(after, [PatientMatch::NewPhone(ids[0]), PatientMatch::NewPhone(ids[0])]);
        // The MRN both records hold stays Ada's (the older); Bea keeps hers sealed, unused.
        let keyed = "SELECT COUNT(*) AS n FROM patients WHERE mrn_key IS NOT NULL";
        let row = db.query_one(Statement::from_string(backend, keyed)).await.unwrap().unwrap();
        assert_eq!(row.try_get::<i64>("", "n").unwrap(), 1);
        assert_eq!(
            patients::get(&db, &scope, &keys, ids[1]).await.unwrap().fields.mrn.as_deref(),
            Some("mrn 7")
        );
        assert_eq!(
            patients::get(&db, &scope, &keys, ids[0]).await.unwrap().fields,
            ada.fields,
            "nothing else changes"
        );
    })
    .await;
}
