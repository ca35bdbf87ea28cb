//! Every procedure against every kind of caller, in one table (DESIGN.md §3, STYLE.md §6).
//!
//! The table must list exactly the procedures of `bindings/procedures.ts`: a new procedure without
//! a row fails here until someone decides who may call it. The README's API table is checked
//! against it too, so the documented least roles are the ones the server enforces.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::support::seed::{self, World};
use crate::support::{TestApp, TokenBuilder};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Query,
    Mutation,
}

/// The callers, in the order of the expected codes in [`TABLE`].
const CALLERS: [&str; 6] = [
    "no token",
    "member",
    "admin",
    "super admin",
    "member of another org",
    "signed in without an active org",
];

/// Procedure, kind, expected code per caller (see [`CALLERS`]). The input for each is built by
/// [`valid_input`], always valid, so that only authorization decides the code. The object is
/// always `org_alpha`'s; "member of another org" is a member of `org_beta`, who gets 404 (not
/// 403) where the answer would reveal whether alpha's object exists.
const TABLE: &[(&str, Kind, [u16; 6])] = &[
    // Own organization reads: any member.
    ("organizations.getCurrent", Kind::Query, [401, 200, 200, 200, 200, 403]),
    ("organizations.getMembers", Kind::Query, [401, 200, 200, 200, 200, 403]),
    // Anyone signed in may ask.
    ("organizations.isSuperAdmin", Kind::Query, [401, 200, 200, 200, 200, 200]),
    // Settings: admins (a super admin changes the operator organization itself).
    ("organizations.update", Kind::Mutation, [401, 403, 200, 200, 403, 403]),
    ("audit.list", Kind::Query, [401, 403, 200, 200, 403, 403]),
    // Campaign reads name alpha explicitly: alpha's own people and the operator may read them.
    ("campaigns.list", Kind::Query, [401, 200, 200, 200, 404, 403]),
    ("campaigns.get", Kind::Query, [401, 200, 200, 200, 404, 403]),
    ("campaigns.promptHistory", Kind::Query, [401, 200, 200, 200, 404, 403]),
    // Patients: any member of the organization; another organization's patient is not found.
    ("patients.list", Kind::Query, [401, 200, 200, 200, 200, 403]),
    // A super admin acts in the operator organization here: alpha's patient is not theirs.
    ("patients.get", Kind::Query, [401, 200, 200, 404, 404, 403]),
    ("patients.searchByPhone", Kind::Query, [401, 200, 200, 200, 200, 403]),
    ("patients.create", Kind::Mutation, [401, 200, 200, 200, 200, 403]),
    ("patients.update", Kind::Mutation, [401, 200, 200, 404, 404, 403]),
    // Operator only.
    ("campaigns.create", Kind::Mutation, [401, 403, 403, 200, 403, 403]),
    ("campaigns.update", Kind::Mutation, [401, 403, 403, 200, 403, 403]),
    // The super admin acts in the operator organization, where alpha's campaign is not.
    ("organizations.phoneNumbers", Kind::Query, [401, 200, 200, 200, 200, 403]),
    ("admin.phoneNumbers.list", Kind::Query, [401, 403, 403, 200, 403, 403]),
    ("admin.runs.list", Kind::Query, [401, 403, 403, 200, 403, 403]),
    ("admin.organizations.update", Kind::Mutation, [401, 403, 403, 200, 403, 403]),
    // In this order: the super admin assigns the number, then releases it.
    ("admin.phoneNumbers.assign", Kind::Mutation, [401, 403, 403, 200, 403, 403]),
    ("admin.phoneNumbers.release", Kind::Mutation, [401, 403, 403, 200, 403, 403]),
    ("campaignRequests.list", Kind::Query, [401, 200, 200, 200, 200, 403]),
    ("campaignRequests.get", Kind::Query, [401, 200, 200, 404, 404, 403]),
    ("campaignRequests.create", Kind::Mutation, [401, 403, 200, 200, 403, 403]),
    ("admin.campaignRequests.list", Kind::Query, [401, 403, 403, 200, 403, 403]),
    // In this order: the super admin takes the request, then fulfils it.
    ("admin.campaignRequests.update", Kind::Mutation, [401, 403, 403, 200, 403, 403]),
    ("admin.campaignRequests.fulfil", Kind::Mutation, [401, 403, 403, 200, 403, 403]),
    ("campaigns.suggestPromptVariation", Kind::Mutation, [401, 200, 200, 404, 404, 403]),
    ("campaigns.applyPromptVariation", Kind::Mutation, [401, 403, 403, 200, 403, 403]),
    // Runs: members of the organization; another organization's run is not found.
    ("runs.list", Kind::Query, [401, 200, 200, 200, 200, 403]),
    ("runs.get", Kind::Query, [401, 200, 200, 404, 404, 403]),
    ("runs.getRows", Kind::Query, [401, 200, 200, 404, 404, 403]),
    ("runs.preview", Kind::Query, [401, 200, 200, 404, 404, 403]),
    ("runs.create", Kind::Mutation, [401, 200, 200, 404, 404, 403]),
    ("runs.getStats", Kind::Query, [401, 200, 200, 404, 404, 403]),
    // Lifecycle: any member. These rows act, in table order, on alpha's one seeded run, so the
    // member's call moves it (ready -> running -> paused -> running -> cancelled) and the
    // admin's identical call after it is a state conflict (409), not a permission problem.
    ("runs.start", Kind::Mutation, [401, 200, 409, 404, 404, 403]),
    ("runs.pause", Kind::Mutation, [401, 200, 409, 404, 404, 403]),
    ("runs.resume", Kind::Mutation, [401, 200, 409, 404, 404, 403]),
    ("runs.cancel", Kind::Mutation, [401, 200, 409, 404, 404, 403]),
    ("runs.schedule", Kind::Mutation, [401, 409, 409, 404, 404, 403]),
    // Calls: members of the organization; another organization's call is not found.
    ("calls.list", Kind::Query, [401, 200, 200, 200, 200, 403]),
    ("calls.get", Kind::Query, [401, 200, 200, 404, 404, 403]),
    // Analytics: members; another organization's run or campaign is not found.
    ("analytics.overview", Kind::Query, [401, 200, 200, 200, 200, 403]),
    ("analytics.campaign", Kind::Query, [401, 200, 200, 404, 404, 403]),
    ("analytics.run", Kind::Query, [401, 200, 200, 404, 404, 403]),
    ("analytics.timeOfDay", Kind::Query, [401, 200, 200, 404, 404, 403]),
    // The do-not-call list: admins of the organization (the super admin edits the operator
    // organization's own list here).
    ("dnc.list", Kind::Query, [401, 403, 200, 200, 403, 403]),
    ("dnc.add", Kind::Mutation, [401, 403, 200, 200, 403, 403]),
    ("dnc.remove", Kind::Mutation, [401, 403, 200, 200, 403, 403]),
    ("admin.organizations.list", Kind::Query, [401, 403, 403, 200, 403, 403]),
    ("admin.organizations.get", Kind::Query, [401, 403, 403, 200, 403, 403]),
    ("admin.organizations.create", Kind::Mutation, [401, 403, 403, 200, 403, 403]),
];

/// The least roles the README's API table may name, from weakest to strongest.
const ROLES: [&str; 4] = ["signed in", "member", "admin", "super admin"];

/// The least role [`TABLE`]'s codes allow: "signed in" when a caller without an active
/// organization gets through, else the weakest of member, admin and super admin whose call is
/// not refused (401/403). A 404 or 409 is an allowed call that found nothing or the wrong state.
fn least_role(key: &str, codes: &[u16; 6]) -> &'static str {
    let allowed = |code: u16| !matches!(code, 401 | 403);
    if allowed(codes[5]) {
        return ROLES[0];
    }
    [(codes[1], ROLES[1]), (codes[2], ROLES[2]), (codes[3], ROLES[3])]
        .into_iter()
        .find(|(code, _)| allowed(*code))
        .map(|(_, role)| role)
        .unwrap_or_else(|| panic!("{key}: TABLE refuses every caller"))
}

/// The README's API table between `<!-- procedures:start -->` and `<!-- procedures:end -->`:
/// full procedure key (`namespace.procedure`) to least role, plus every problem with its form.
fn readme_procedures() -> (BTreeMap<String, String>, Vec<String>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let (start, end) = ("<!-- procedures:start -->", "<!-- procedures:end -->");
    let table = text
        .split_once(start)
        .and_then(|(_, rest)| rest.split_once(end))
        .map(|(table, _)| table)
        .unwrap_or_else(|| panic!("README.md: the API table must sit between {start} and {end}"));
    let mut rows = table.lines().map(str::trim).filter(|line| !line.is_empty());
    let header = "| namespace | procedures | least role | notes |";
    assert_eq!(rows.next(), Some(header), "README.md: the API table's header");
    assert!(
        rows.next().is_some_and(|line| line.starts_with("|---")),
        "README.md: the header's separator row"
    );

    let backticked = |cell: &str| -> Option<String> {
        let name = cell.strip_prefix('`')?.strip_suffix('`')?;
        let word = |c: char| c.is_ascii_alphanumeric() || c == '.';
        (!name.is_empty() && name.chars().all(word)).then(|| name.to_owned())
    };
    let mut listed = BTreeMap::new();
    let mut problems = Vec::new();
    let mut namespace: Option<String> = None;
    for row in rows {
        let cells: Vec<&str> = row.trim_matches('|').splitn(4, '|').map(str::trim).collect();
        let &[namespace_cell, procedures, role, _notes] = cells.as_slice() else {
            problems.push(format!("row {row:?}: needs 4 cells (namespace, procedures, least role, notes)"));
            continue;
        };
        if !namespace_cell.is_empty() {
            namespace = backticked(namespace_cell);
            if namespace.is_none() {
                problems.push(format!("row {row:?}: the namespace must be one backticked name, or blank"));
            }
        }
        let Some(namespace) = &namespace else {
            problems.push(format!("row {row:?}: no namespace here or in a row above"));
            continue;
        };
        if !ROLES.contains(&role) {
            problems.push(format!("row {row:?}: the least role must be one of {ROLES:?}, not {role:?}"));
        }
        for cell in procedures.split(',').map(str::trim) {
            let Some(procedure) = backticked(cell) else {
                problems.push(format!(
                    "row {row:?}: {cell:?} is not a backticked procedure name; the procedures cell holds \
                     only names separated by commas, explanations go in the notes column"
                ));
                continue;
            };
            let key = format!("{namespace}.{procedure}");
            if listed.insert(key.clone(), role.to_owned()).is_some() {
                problems.push(format!("{key} is listed more than once: keep one row for it"));
            }
        }
    }
    (listed, problems)
}

#[test]
fn the_readme_api_table_lists_every_procedure_with_its_least_role() {
    // Arrange: what the server enforces, as TABLE records it (the test above holds TABLE to it).
    let enforced: BTreeMap<String, &str> =
        TABLE.iter().map(|(key, _, codes)| ((*key).to_owned(), least_role(key, codes))).collect();

    // Act
    let (documented, mut problems) = readme_procedures();

    // Assert
    for (key, role) in &enforced {
        match documented.get(key) {
            None => problems.push(format!("{key} is missing: add it with least role \"{role}\"")),
            Some(said) if said != role => {
                problems.push(format!("{key} says \"{said}\", but its least role is \"{role}\""))
            }
            Some(_) => {}
        }
    }
    for key in documented.keys().filter(|key| !enforced.contains_key(*key)) {
        problems.push(format!("{key} is not a procedure of the router: remove it"));
    }
    assert!(
        problems.is_empty(),
        "README.md's API table (between <!-- procedures:start --> and <!-- procedures:end -->) \
         disagrees with the router; edit README.md, or if the permissions changed on purpose, TABLE \
         in tests/api/authorization.rs:\n{}",
        problems.join("\n")
    );
}

/// Objects of alpha's the inputs name besides the seeded world's.
struct Seeded {
    /// A call (see [`crate::calls::seed_call`]).
    call_id: String,
    /// A prompt variation of alpha's campaign.
    variation_id: Value,
    /// A campaign request of alpha's.
    request_id: Value,
}

fn valid_input(key: &str, world: &World, seeded: &Seeded) -> Value {
    let (call_id, variation_id, request_id) = (&seeded.call_id, &seeded.variation_id, &seeded.request_id);
    let alpha = &world.alpha;
    match key {
        "organizations.getCurrent" | "organizations.isSuperAdmin" => Value::Null,
        "organizations.getMembers" => json!({"limit": 10}),
        "organizations.update" => json!({"callsPerMinute": 12}),
        "audit.list" => json!({"limit": 10}),
        "organizations.phoneNumbers" => Value::Null,
        "campaignRequests.list" => json!({"limit": 10}),
        "campaignRequests.get" => json!({"id": request_id}),
        "campaignRequests.create" => {
            json!({"name": "Flu shots", "goal": "Book a flu shot", "description": "Everyone over 65"})
        }
        "admin.campaignRequests.list" => json!({"status": "pending"}),
        "admin.campaignRequests.update" => json!({"id": request_id, "status": "in_progress"}),
        "admin.campaignRequests.fulfil" => json!({"id": request_id, "campaignId": alpha.campaign_id}),
        "admin.phoneNumbers.list" => json!({"limit": 10}),
        "admin.runs.list" => json!({"limit": 10}),
        "admin.organizations.update" => json!({"id": alpha.id, "patch": {"callsPerMinute": 13}}),
        "admin.phoneNumbers.assign" => {
            json!({"orgId": alpha.id, "number": "+13125550177", "purpose": "both"})
        }
        "admin.phoneNumbers.release" => json!({"number": "+13125550177"}),
        "campaigns.list" => json!({"orgId": alpha.id}),
        "campaigns.get" => json!({"id": alpha.campaign_id, "orgId": alpha.id}),
        "campaigns.promptHistory" => json!({"campaignId": alpha.campaign_id, "orgId": alpha.id}),
        // The only success is the super admin's, so one name is enough.
        "campaigns.create" => {
            json!({"orgId": alpha.id, "campaign": seed::valid_campaign("Recall reminders")})
        }
        "campaigns.update" => {
            json!({"orgId": alpha.id, "id": alpha.campaign_id, "patch": {"name": "Alpha confirmations, renamed"}})
        }
        "campaigns.suggestPromptVariation" => {
            json!({"campaignId": alpha.campaign_id, "request": "be warmer"})
        }
        // The only success is the super admin's (once).
        "campaigns.applyPromptVariation" => json!({"orgId": alpha.id, "variationId": variation_id}),
        "patients.list" => json!({"limit": 10}),
        "patients.get" => json!({"id": alpha.patient_id}),
        "patients.searchByPhone" => json!({"phone": "+13125550143"}),
        "patients.create" => seed::patient_input("table"),
        "patients.update" => json!({"id": alpha.patient_id, "mrn": "MRN-1"}),
        "runs.list" => json!({}),
        "runs.get" => json!({"id": alpha.run_id}),
        "runs.getRows" => json!({"runId": alpha.run_id}),
        "runs.getStats" => json!({"id": alpha.run_id}),
        "runs.start" | "runs.resume" | "runs.cancel" => json!({"id": alpha.run_id}),
        "runs.pause" => json!({"id": alpha.run_id, "reason": "table"}),
        "runs.schedule" => json!({"runId": alpha.run_id, "scheduledAt": "2099-01-01T00:00:00Z"}),
        "runs.preview" => json!({"campaignId": alpha.campaign_id, "uploadId": alpha.upload_id}),
        // A fresh request id per caller, so each success is a real create.
        "runs.create" => json!({
            "campaignId": alpha.campaign_id, "uploadId": alpha.upload_id, "name": "Table run",
            "clientRequestId": uuid::Uuid::new_v4().to_string()
        }),
        "calls.list" => json!({"status": "ended", "limit": 10}),
        "calls.get" => json!({"id": call_id}),
        "analytics.overview" => json!({"from": "2026-01-01"}),
        "analytics.campaign" => json!({"campaignId": alpha.campaign_id}),
        "analytics.run" => json!({"runId": alpha.run_id}),
        "analytics.timeOfDay" => json!({"campaignId": alpha.campaign_id}),
        "dnc.list" => json!({"limit": 10}),
        "dnc.add" => json!({"phone": "(312) 555-0199", "reason": "table"}),
        // By number, so each caller's removal succeeds whether or not the number is listed.
        "dnc.remove" => json!({"phone": "(312) 555-0199"}),
        "admin.organizations.list" => json!({"search": "alpha"}),
        "admin.organizations.get" => json!({"id": alpha.id}),
        "admin.organizations.create" => json!({"clerkOrgId": "org_gamma", "name": "Gamma Clinic"}),
        other => panic!("no input for {other}: add it to valid_input"),
    }
}

/// The procedure keys of the generated bindings, by kind: the `key: "..."` entries of the
/// `Procedures` map, split at its `mutations:` and `subscriptions:` sections.
fn bound_procedures() -> (BTreeSet<String>, BTreeSet<String>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bindings/procedures.ts");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let start = text.find("export type Procedures = {").expect("a Procedures map");
    let map = &text[start..];
    let map = &map[..map.find("\n};").expect("the end of the Procedures map")];
    let mutations_at = map.find("mutations:").expect("a mutations section");
    let subscriptions_at = map.find("subscriptions:").expect("a subscriptions section");
    let keys = |section: &str| -> BTreeSet<String> {
        section
            .split("key: \"")
            .skip(1)
            .map(|rest| rest[..rest.find('"').expect("closing quote")].to_owned())
            .collect()
    };
    (keys(&map[..mutations_at]), keys(&map[mutations_at..subscriptions_at]))
}

#[tokio::test]
async fn every_procedure_answers_every_kind_of_caller_as_declared() {
    // The table covers exactly the procedures the bindings expose, each with its kind.
    let (queries, mutations) = bound_procedures();
    let listed = |kind: Kind| -> BTreeSet<String> {
        TABLE.iter().filter(|(_, k, _)| *k == kind).map(|(key, _, _)| (*key).to_owned()).collect()
    };
    assert_eq!(listed(Kind::Query), queries, "queries in the table vs bindings/procedures.ts");
    assert_eq!(listed(Kind::Mutation), mutations, "mutations in the table vs bindings/procedures.ts");
    assert_eq!(TABLE.len(), queries.len() + mutations.len(), "a procedure is listed twice");

    // Arrange
    let app = TestApp::spawn().await;
    let world = seed::world(&app).await;
    // A caller number, so that alpha's run may start (runs.start refuses a run without one).
    // Office hours closed all week: the started run dials nothing, whatever the hour.
    let caller = json!({"callerNumber": "+13125550100", "officeHours": {}});
    seed::configure(&app, &world.super_admin, &world.alpha.admin, &world.alpha.id, caller).await;
    let call_id = crate::calls::seed_call(&app, &world.alpha).await;
    let suggest = json!({"campaignId": world.alpha.campaign_id, "request": "mention parking"});
    let variation = app.mutation(Some(&world.alpha.admin), "campaigns.suggestPromptVariation", suggest).await;
    let variation_id = variation.data()["variationId"].clone();
    let request = json!({"name": "Recalls", "goal": "Patients book", "description": "Overdue recalls"});
    let request = app.mutation(Some(&world.alpha.admin), "campaignRequests.create", request).await;
    let seeded = Seeded { call_id, variation_id, request_id: request.data()["id"].clone() };
    let no_org = TokenBuilder::user("user_without_org").sign();
    let callers: [Option<&str>; 6] = [
        None,
        Some(&world.alpha.member),
        Some(&world.alpha.admin),
        Some(&world.super_admin),
        Some(&world.beta.member),
        Some(&no_org),
    ];

    // Act
    let mut mismatches = Vec::new();
    for (key, kind, expected) in TABLE {
        let input = valid_input(key, &world, &seeded);
        for ((caller, token), want) in CALLERS.iter().zip(callers).zip(expected) {
            let response = match kind {
                Kind::Query => app.query(token, key, input.clone()).await,
                Kind::Mutation => app.mutation(token, key, input.clone()).await,
            };
            if response.code() != *want {
                mismatches.push(format!(
                    "{key} as {caller}: expected {want}, got {} ({})",
                    response.code(),
                    response.body
                ));
            }
        }
    }

    // Assert
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
    for (token, expected) in [(&world.super_admin, true), (&world.alpha.admin, false), (&no_org, false)] {
        let response = app.query(Some(token), "organizations.isSuperAdmin", Value::Null).await;
        assert_eq!(response.data(), &json!(expected));
    }
    app.stop().await;
}
