//! The sans-IO client through the native driver against the emulator: every call family the
//! migration needs, as the service principal and as a profile, plus retries on a 429 storm.

use embedgate_cli::net::{Driver, Event, CLI_POLICY};
use embedgate_client::entra::{parse_token, Entra, POWERBI_SCOPE};
use embedgate_client::powerbi::{self, Api, As, NameConflict};
use embedgate_client::{Failure, Request, RetryPolicy};
use embedgate_core::powerbi::GroupUserAccessRight;
mod common;
use common::emulator;
use std::sync::{Arc, Mutex};

const TENANT: &str = "11111111-1111-4111-8111-111111111111";
const APP: &str = "22222222-2222-4222-8222-222222222222";
const SP_OID: &str = "33333333-3333-4333-8333-333333333333";
const P_CONTOSO: &str = "c0c0c0c0-0000-4000-8000-000000000001";
const W_CONTOSO: &str = "c0c0c0c0-0000-4000-8000-00000000a001";
const R_CONTOSO: &str = "c0c0c0c0-0000-4000-8000-00000000b001";

fn sp_token(d: &Driver, base: &str) -> String {
    let entra = Entra {
        authority: base.to_string(),
        tenant_id: TENANT.into(),
        client_id: APP.into(),
        scope: POWERBI_SCOPE.into(),
    };
    let body = d
        .send(&entra.client_credentials("emulator-demo-secret"))
        .unwrap();
    parse_token(&body, 0).unwrap().access_token
}

fn raw(d: &Driver, r: Request) -> String {
    d.send(&r).unwrap_or_else(|f| panic!("{}: {f:?}", r.name))
}

#[test]
fn migration_calls_round_trip_through_the_native_driver() {
    let emu = emulator();
    let d = Driver::new(CLI_POLICY);
    let api = Api {
        base: emu.base.clone(),
    };
    let token = sp_token(&d, &emu.base);

    // Profiles CRUD.
    let created = powerbi::read_profile(&raw(&d, api.create_profile(&token, "Northwind"))).unwrap();
    let listed = powerbi::read_profiles(&raw(&d, api.get_profiles(&token))).unwrap();
    assert!(listed.iter().any(|p| p.id == created.id));
    raw(
        &d,
        api.update_profile(&token, &created.id, "Northwind Traders"),
    );
    let me = As {
        token: &token,
        profile: Some(&created.id),
    };

    // A workspace made as the profile: the profile is its Admin.
    let ws = powerbi::read_group(&raw(&d, api.create_group(me, "Northwind"))).unwrap();
    let users = powerbi::read_group_users(&raw(&d, api.get_group_users(me, &ws.id))).unwrap();
    assert!(users
        .iter()
        .any(|u| u.profile.as_ref().is_some_and(|p| p.id == created.id)
            && u.group_user_access_right == GroupUserAccessRight::Admin));
    let mine = powerbi::read_groups(&raw(&d, api.get_groups(me, None))).unwrap();
    assert_eq!(
        mine.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(),
        [ws.id.as_str()],
        "a profile sees only its own"
    );

    // Import, then poll the import.
    let pbix = br#"{"format":"embedgate-pbix/1","reportType":"PowerBIReport","dataset":{"model":"Import"}}"#;
    let imp = powerbi::read_import(&raw(
        &d,
        api.post_import(
            me,
            &ws.id,
            "Sales.pbix",
            NameConflict::Abort,
            pbix,
            "b0undary",
        ),
    ))
    .unwrap();
    let mut done = None;
    for _ in 0..200 {
        let i = powerbi::read_import(&raw(&d, api.get_import(me, &ws.id, &imp.id))).unwrap();
        assert!(!i.failed(), "{i:?}");
        if i.done() {
            done = Some(i);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let done = done.expect("import finished");
    assert_eq!(done.reports.len(), 1);
    let reports: Vec<serde_json::Value> =
        powerbi::read_list(&raw(&d, api.get_reports(me, &ws.id))).unwrap();
    assert_eq!(reports[0]["id"], done.reports[0].id.as_str());

    // Grant and remove a member, then delete the workspace and the profile.
    let member = Api::profile_member(SP_OID, P_CONTOSO, GroupUserAccessRight::Viewer);
    raw(&d, api.add_group_user(me, &ws.id, &member));
    raw(
        &d,
        api.delete_group_user(me, &ws.id, SP_OID, Some(P_CONTOSO)),
    );
    raw(&d, api.delete_group(me, &ws.id));
    match d.send(&api.get_group(me, &ws.id)) {
        Err(f) => assert!(matches!(f.status(), Some(401 | 403 | 404)), "{f:?}"),
        Ok(b) => panic!("deleted workspace still answers: {b}"),
    }
    raw(&d, api.delete_profile(&token, &created.id));

    // The worker's metadata reads, as the Contoso profile.
    let contoso = As {
        token: &token,
        profile: Some(P_CONTOSO),
    };
    let report =
        powerbi::read_object(&raw(&d, api.get_report(contoso, W_CONTOSO, R_CONTOSO))).unwrap();
    let (ds, ds_ws) = powerbi::report_dataset(&report, W_CONTOSO).unwrap();
    let full = powerbi::dataset_with_sources(
        &raw(&d, api.get_dataset(contoso, &ds_ws, &ds)),
        &raw(&d, api.get_datasources(contoso, &ds_ws, &ds)),
    )
    .unwrap();
    assert_eq!(full["id"], ds.as_str());
}

#[test]
fn a_429_storm_is_waited_out_and_a_final_refusal_is_typed() {
    let emu = emulator();
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let mut d = Driver::new(RetryPolicy {
        base_ms: 20,
        cap_ms: 200,
        ..CLI_POLICY
    });
    d.on_event = Some(Box::new(move |e: &Event| {
        seen.lock().unwrap().push(e.clone())
    }));
    let api = Api {
        base: emu.base.clone(),
    };
    let token = sp_token(&d, &emu.base);
    let faults = Request {
        name: "emulator.faults",
        method: embedgate_client::Method::Post,
        url: format!("{}/__emulator/faults", emu.base),
        headers: vec![("content-type", "application/json".into())],
        body: Some(
            br#"{"route":"powerbi.getProfiles","count":2,"fault":{"status":429,"retryAfter":1}}"#
                .to_vec(),
        ),
    };
    raw(&d, faults);
    let started = std::time::Instant::now();
    let list = powerbi::read_profiles(&raw(&d, api.get_profiles(&token))).unwrap();
    assert!(!list.is_empty());
    let waited: Vec<u64> = events
        .lock()
        .unwrap()
        .iter()
        .map(
            |Event::Retry {
                 wait_ms, status, ..
             }| {
                assert_eq!(*status, Some(429));
                *wait_ms
            },
        )
        .collect();
    assert_eq!(waited.len(), 2, "two throttled attempts, then success");
    assert!(
        waited.iter().all(|w| *w >= 1000),
        "Retry-After honoured: {waited:?}"
    );
    assert!(started.elapsed().as_millis() >= 2000);
    // A 404 is not retried and comes back typed, with Power BI's code.
    let me = As {
        token: &token,
        profile: Some(P_CONTOSO),
    };
    let f = d
        .send(&api.get_report(me, W_CONTOSO, "00000000-0000-4000-8000-000000000000"))
        .unwrap_err();
    assert!(matches!(f, Failure::Status { status: 404, .. }), "{f:?}");
    assert_eq!(events.lock().unwrap().len(), 2);
}
