//! `embedgate migrate` on a live deployment: the worker's customers (a stand-in of its admin API, see
//! `support/mod.rs`) and Power BI (the in-process emulator) hold state the tool did not create. One test per
//! defect seen when the migration was tried that way; each failed before its fix.

mod support;

use serde_json::{json, Value};
use support::live::*;

fn lines(o: &std::process::Output) -> String {
    text(o)
}

fn members(l: &Live, ws: &str) -> Vec<Value> {
    l.state()["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == ws)
        .map(|w| w["members"].as_array().unwrap().clone())
        .unwrap_or_default()
}

fn migrate_first_three(tag: &str, extra: impl FnOnce(&mut Value)) -> Live {
    let mut inv = inventory((0..3).map(inv_customer).collect());
    extra(&mut inv);
    let l = Live::new(tag, fixture(|_| {}), inv);
    for step in [
        &["apply"][..],
        &["verify", "--compare-rows"],
        &["rollout", "--percent", "100"],
    ] {
        let o = l.run(step);
        assert!(o.status.success(), "{step:?}: {}", lines(&o));
    }
    l
}

#[test]
fn cleanup_keeps_the_shared_workspace_customers_outside_the_inventory_use_and_any_user_but_the_named_master_user(
) {
    let l = migrate_first_three("cleanup", |_| {});
    let before: Vec<Vec<String>> = (3..N).map(|i| l.rows(&id(i), json!({})).unwrap()).collect();
    // Planted on c001's new workspace: the customer's own auditor, the master user, the service principal.
    let ws1 = l.progress()["customers"]["c001"]["workspaceId"]
        .as_str()
        .unwrap()
        .to_string();
    let mut st = l.state();
    for w in st["workspaces"].as_array_mut().unwrap() {
        if w["id"] == ws1.as_str() {
            let m = w["members"].as_array_mut().unwrap();
            m.push(json!({"principalType": "User", "identifier": AUDITOR, "groupUserAccessRight": "Viewer"}));
            m.push(json!({"principalType": "User", "identifier": MASTER, "groupUserAccessRight": "Member"}));
            m.push(
                json!({"principalType": "App", "identifier": SP, "groupUserAccessRight": "Admin"}),
            );
        }
    }
    l.set_state(st);

    // No master user named: the service principal's own row is the only redundant one.
    let dry = l.run(&["cleanup", "--dry-run"]);
    assert!(dry.status.success(), "{}", lines(&dry));
    let out = String::from_utf8_lossy(&dry.stdout).to_string();
    let would: Vec<&str> = out.lines().filter(|l| l.starts_with("would ")).collect();
    assert_eq!(would.len(), 1, "{out}");
    assert!(
        would[0].starts_with(&format!("would remove App {SP}")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "keep workspace {WS}: customers use it: c003, c004, c005, c006"
        )),
        "{out}"
    );
    assert!(out.contains(&format!("keep User {AUDITOR}")), "{out}");
    assert!(out.contains(&format!("keep User {MASTER}")), "{out}");

    let done = l.run(&["cleanup", "--apply", "--master-user", MASTER]);
    assert!(done.status.success(), "{}", lines(&done));
    let m = members(&l, &ws1);
    let ids: Vec<&str> = m.iter().filter_map(|x| x["identifier"].as_str()).collect();
    assert!(ids.contains(&AUDITOR), "the auditor stays: {m:?}");
    assert!(!ids.contains(&MASTER), "the master user goes: {m:?}");
    assert_eq!(m.len(), 2, "profile + auditor: {m:?}");
    assert!(
        members(&l, WS).len() == 2,
        "the shared workspace is untouched"
    );
    for (k, i) in (3..N).enumerate() {
        assert_eq!(
            l.rows(&id(i), json!({})).unwrap(),
            before[k],
            "{} still embeds",
            id(i)
        );
    }

    // Once no document references it and only the service principal and the master user are members, it goes.
    for i in 3..N {
        l.docs.0.lock().unwrap().remove(&id(i));
    }
    let last = l.run(&["cleanup", "--apply", "--master-user", MASTER]);
    assert!(last.status.success(), "{}", lines(&last));
    assert!(
        String::from_utf8_lossy(&last.stdout).contains(&format!("done: delete workspace {WS}")),
        "{}",
        lines(&last)
    );
    assert!(members(&l, WS).is_empty());
    // Rolling back now would point c000 at a workspace that is gone: refused, nothing changed.
    let back = l.run(&["rollback", "--customers", "c000"]);
    assert_eq!(back.status.code(), Some(2), "{}", lines(&back));
    assert!(
        lines(&back).contains(&format!("workspace {WS} is gone")),
        "{}",
        lines(&back)
    );
    assert_eq!(l.docs.get("c000").unwrap()["flow"], "profile");
    for i in 0..3 {
        assert_eq!(
            l.rows(&id(i), json!({})).unwrap().len(),
            3,
            "{} embeds as its profile",
            id(i)
        );
    }
}

#[test]
fn apply_leaves_a_customer_already_on_the_profile_flow_as_it_is_and_rollback_says_what_it_did() {
    const P_OLD: &str = "9a9a9a9a-0000-4000-8000-0000000000f1";
    const W_OLD: &str = "9a9a9a9a-0000-4000-8000-0000000000a1";
    const R_OLD: &str = "9a9a9a9a-0000-4000-8000-0000000000b1";
    const D_OLD: &str = "9a9a9a9a-0000-4000-8000-0000000000d1";
    let f = fixture(|f| {
        f["profiles"] = json!([{"id": P_OLD, "displayName": "Customer001 (moved by hand)", "servicePrincipal": APP}]);
        f["workspaces"].as_array_mut().unwrap().push(json!({"id": W_OLD, "name": "Customer001 by hand", "type": "Workspace", "members": [
            {"principalType": "App", "identifier": SP, "groupUserAccessRight": "Admin", "profile": {"id": P_OLD}}]}));
        let mut ds = dataset_spec();
        ds["id"] = json!(D_OLD);
        ds["workspaceId"] = json!(W_OLD);
        ds["name"] = json!("Sales");
        f["datasets"].as_array_mut().unwrap().push(ds);
        f["reports"].as_array_mut().unwrap().push(json!({"id": R_OLD, "workspaceId": W_OLD, "name": "Sales", "datasetId": D_OLD, "reportType": "PowerBIReport"}));
    });
    let l = Live::new("flow", f, inventory((0..3).map(inv_customer).collect()));
    let moved = json!({"id": "c001", "name": "Customer 1", "flow": "profile", "profileId": P_OLD, "workspaces": [W_OLD],
        "reports": [{"id": R_OLD, "workspaceId": W_OLD}], "rls": {"username": {"value": key(1)}, "roles": ["Customer"]}});
    l.docs.put(moved.clone());
    let rows1 = l.rows("c001", json!({})).unwrap();

    let o = l.run(&["apply"]);
    assert!(o.status.success(), "{}", lines(&o));
    assert!(
        lines(&o).contains("skipped c001: already on the profile flow"),
        "{}",
        lines(&o)
    );
    let doc = l.docs.get("c001").unwrap();
    assert_eq!(doc["flow"], "profile");
    assert_eq!(doc["profileId"], P_OLD);
    assert_eq!(l.rows("c001", json!({})).unwrap(), rows1);
    let names: Vec<String> = l.state()["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["displayName"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !names.contains(&key(1)),
        "no profile made for c001: {names:?}"
    );
    // Plan shows nothing left for it; rollout and rollback leave it alone too.
    let plan = l.run(&["plan"]);
    assert!(
        lines(&plan)
            .contains("nothing: the worker already serves this customer on the profile flow"),
        "{}",
        lines(&plan)
    );

    let v = l.run(&["verify"]);
    assert!(v.status.success(), "{}", lines(&v));
    assert!(lines(&v).contains("ok      c000"), "{}", lines(&v));
    assert!(
        lines(&v).contains("skipped c001: already on the profile flow"),
        "{}",
        lines(&v)
    );
    let r = l.run(&["rollout", "--customers", "c000"]);
    assert!(r.status.success(), "{}", lines(&r));
    let back = l.run(&["rollback", "--customers", "c000,c001"]);
    assert!(back.status.success(), "{}", lines(&back));
    let out = lines(&back);
    assert!(out.contains("c000: moved back to the legacy flow"), "{out}");
    assert_eq!(l.docs.get("c000").unwrap()["flow"], "legacy");
    assert_eq!(l.rows("c000", json!({})).unwrap().len(), 3);
}

#[test]
fn a_profile_name_someone_else_holds_in_any_case_is_refused_before_anything_is_created() {
    const P_X: &str = "9a9a9a9a-0000-4000-8000-0000000000f2";
    let f = fixture(|f| {
        f["profiles"] = json!([{"id": P_X, "displayName": "customer000", "servicePrincipal": APP}]);
    });
    let l = Live::new("owner", f, inventory((0..3).map(inv_customer).collect()));
    let o = l.run(&["apply"]);
    assert_eq!(o.status.code(), Some(2), "{}", lines(&o));
    let out = lines(&o);
    assert!(
        out.contains("/customers/0: profile name `Customer000` is taken"),
        "{out}"
    );
    assert!(out.contains("nothing was changed"), "{out}");
    let calls = l.calls();
    for k in [
        "powerbi.createProfile",
        "powerbi.createGroup",
        "powerbi.postImport",
    ] {
        assert!(calls.get(k).is_none(), "{k} was called: {calls}");
    }
    // The same profile recorded as a customer outside the inventory: the message names that customer.
    let mut outside = legacy_doc(5);
    outside["profileId"] = json!(P_X);
    l.docs.put(outside);
    let o = l.run(&["apply"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(lines(&o).contains("is customer `c005`'s"), "{}", lines(&o));
    // A name of its own: applies, and c005 keeps its profile.
    let mut inv = inventory((0..3).map(inv_customer).collect());
    inv["customers"][0]["profileName"] = json!("Customer000-own");
    l.write_inventory(&inv);
    let o = l.run(&["apply"]);
    assert!(o.status.success(), "{}", lines(&o));
    let p = l.progress();
    assert_ne!(p["customers"]["c000"]["profileId"], P_X);
    assert_eq!(l.docs.get("c005").unwrap()["profileId"], P_X);
    assert_eq!(
        l.docs.get("c000").unwrap()["profileId"],
        p["customers"]["c000"]["profileId"]
    );
}

#[test]
fn a_quoted_workspace_name_survives_a_lost_create_answer_and_a_name_someone_else_holds_is_named() {
    let f = fixture(|f| {
        f["workspaces"].as_array_mut().unwrap().push(json!({"id": "9a9a9a9a-0000-4000-8000-0000000000a9", "name": "taken analytics", "type": "Workspace", "members": [
            {"principalType": "User", "identifier": "someone@other.onmicrosoft.com", "groupUserAccessRight": "Admin"}]}));
    });
    let mut inv = inventory((0..2).map(inv_customer).collect());
    inv["customers"][0]["target"]["name"] = json!("O'Brien & Sons");
    inv["customers"][1]["target"]["name"] = json!("Taken Analytics");
    let l = Live::new("quote", f, inv);
    l.fault(json!({"route": "powerbi.createGroup", "count": 1, "fault": {"status": 500, "afterHandler": true}}));
    let o = l.run(&["apply", "--concurrency", "1"]);
    assert_eq!(o.status.code(), Some(1), "{}", lines(&o));
    let out = lines(&o);
    assert!(
        out.contains("FAILED  c001: a workspace named `Taken Analytics` already exists"),
        "{out}"
    );
    assert!(
        out.contains("another workspace name (/customers/1/target/name)"),
        "{out}"
    );
    let p = l.progress();
    assert!(p["customers"]["c000"]["workspaceId"].is_string(), "{p}");
    assert!(
        p["customers"]["c001"]["error"]
            .as_str()
            .unwrap()
            .contains("Taken Analytics"),
        "{p}"
    );
    let st = l.state();
    let named = st["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["name"] == "O'Brien & Sons")
        .count();
    assert_eq!(named, 1);
    // A re-run changes nothing for c000 and says the same for c001.
    let again = l.run(&["apply"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(lines(&again).contains("FAILED  c001"), "{}", lines(&again));
}

#[test]
fn verify_mints_with_the_live_document_and_compares_rows_with_it() {
    let mut inv = inventory((0..3).map(inv_customer).collect());
    // c000: roles from a sign-in claim; c001: customData + a role filtering on it.
    inv["customers"][0]["legacy"]["rls"]["roles"] = json!([]);
    inv["customers"][0]["sampleUser"] = json!({"sub": "alice", "roles": ["Customer"]});
    inv["customers"][1]["legacy"]["rls"] =
        json!({"kind": "dynamic", "username": key(1), "roles": ["ByData"], "customData": key(1)});
    let l = Live::new("verify", fixture(|_| {}), inv.clone());
    let mut c0 = legacy_doc(0);
    c0["rls"] =
        json!({"username": {"value": key(0)}, "roleClaim": "roles", "allowedRoles": ["Customer"]});
    l.docs.put(c0);
    let mut c1 = legacy_doc(1);
    c1["rls"] = json!({"username": {"value": key(1)}, "roles": ["ByData"], "customData": {"value": key(1)}});
    l.docs.put(c1);
    let alice = json!({"sub": "alice", "roles": ["Customer"]});
    let before0 = l.rows("c000", alice.clone()).unwrap();
    let before1 = l.rows("c001", json!({})).unwrap();
    assert_eq!((before0.len(), before1.len()), (3, 3));

    assert!(l.run(&["apply"]).status.success());
    let v = l.run(&["verify", "--compare-rows"]);
    assert!(v.status.success(), "{}", lines(&v));
    // A planted change of c001's roles in the inventory is caught: the worker's document is what is served.
    let mut planted = inv.clone();
    planted["customers"][1]["legacy"]["rls"]["roles"] = json!(["Customer"]);
    l.write_inventory(&planted);
    let v = l.run(&["verify", "--compare-rows"]);
    assert_eq!(v.status.code(), Some(1));
    assert!(lines(&v).contains("FAILED  c001: the inventory's roles [Customer] differ from the worker's document's [ByData]"), "{}", lines(&v));
    l.write_inventory(&inv);
    // A sample user the worker would refuse (no role claim): verify says so.
    let mut bare = inv.clone();
    bare["customers"][0]["sampleUser"] = json!({"sub": "bob"});
    l.write_inventory(&bare);
    let v = l.run(&["verify"]);
    assert!(
        lines(&v).contains("FAILED  c000: the worker would refuse the sample user"),
        "{}",
        lines(&v)
    );
    l.write_inventory(&inv);
    assert!(l.run(&["verify", "--compare-rows"]).status.success());
    assert!(l.run(&["rollout", "--percent", "100"]).status.success());
    assert_eq!(
        l.rows("c000", alice).unwrap(),
        before0,
        "the role claim still works after rollout"
    );
    assert_eq!(
        l.rows("c001", json!({})).unwrap(),
        before1,
        "customData still works after rollout"
    );
}

#[test]
fn plan_shows_what_is_left_names_its_sources_and_refuses_what_verify_would() {
    let one = inventory(vec![inv_customer(0)]);
    let l = Live::new("plan", fixture(|_| {}), one.clone());
    let p = l.run(&["plan"]);
    let out = lines(&p);
    assert!(out.contains("1 customer;"), "{out}");
    assert!(out.contains("Migrate multi-customer applications to the service principal profiles model: \"Not all apps benefit from the service principal model. For example, the following apps shouldn't migrate: Small apps that maintain one service principal with a small number of objects.\""), "{out}");
    assert!(out.contains("the app has 1 customer and 1 report"), "{out}");
    assert!(!out.to_lowercase().contains("seed"), "{out}");
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_embedgate"))
        .args(["migrate", "--help"])
        .output()
        .unwrap();
    assert!(
        !text(&help).to_lowercase().contains("seed"),
        "{}",
        text(&help)
    );

    assert!(l.run(&["apply"]).status.success());
    let out = lines(&l.run(&["plan"]));
    assert!(
        !out.contains("create profile") && !out.contains("import `"),
        "{out}"
    );
    assert!(out.contains("at least 0 Power BI calls left"), "{out}");

    // Static RLS: the profile's name becomes the username, so a space is refused by plan, not by verify.
    let mut bad = inventory(vec![inv_customer(1)]);
    bad["customers"][0]["legacy"]["rls"] = json!({"kind": "static", "roles": ["Customer"]});
    bad["customers"][0]["profileName"] = json!("Customer 001");
    l.write_inventory(&bad);
    let o = l.run(&["plan"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        lines(&o).contains("/customers/0/profileName"),
        "{}",
        lines(&o)
    );

    // A wrong client secret names the setting.
    l.write_inventory(&one);
    let o = l
        .cmd(&["verify"])
        .env("EMBEDGATE_CLIENT_SECRET", "wrong")
        .output()
        .unwrap();
    assert!(
        lines(&o).contains("EMBEDGATE_CLIENT_SECRET"),
        "{}",
        lines(&o)
    );
    assert!(!lines(&o).contains("wrong"), "{}", lines(&o));
}

#[test]
fn a_lost_import_answer_while_publishing_is_waited_for() {
    let l = Live::new(
        "publish",
        fixture(|_| {}),
        inventory((0..2).map(inv_customer).collect()),
    );
    l.http(
        "POST",
        "/__emulator/settings",
        Some(json!({"importPublishMs": 1500})),
    );
    l.fault(json!({"route": "powerbi.postImport", "count": 2, "fault": {"status": 500, "afterHandler": true}}));
    let o = l.run(&["apply"]);
    assert!(o.status.success(), "{}", lines(&o));
    let st = l.state();
    assert_eq!(
        st["reports"].as_array().unwrap().len(),
        3,
        "one import per customer"
    );
    let calls = l.calls();
    assert!(
        calls["powerbi.getImports"].as_u64().unwrap_or(0) >= 2,
        "{calls}"
    );
}
