use rivvi_persistence::patients::{self, PatientFields, PatientIdentity};
use rivvi_persistence::sealing::Keys;
use rivvi_persistence::testing::on_each_backend;
use rivvi_persistence::Page;

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
