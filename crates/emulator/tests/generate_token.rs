//! GenerateToken V2 and V1: the service's checks, one assertion per documented rule (see README.md).
mod common;
use common::*;
use serde_json::{json, Value};

struct Who {
    token: String,
    profile: Option<String>,
}

struct Env {
    emu: Emu,
    sp: Who,
    user: Who,
    viewer: Who,
    profile: Who,
    sp2: Who,
}

fn env() -> Env {
    let emu = Emu::kinds();
    let sp = Who {
        token: emu.sp_token(),
        profile: None,
    };
    let user = Who {
        token: emu.user_token(USER, USER_PW),
        profile: None,
    };
    let viewer = Who {
        token: emu.user_token(VIEWER, "viewer-password"),
        profile: None,
    };
    let profile = Who {
        token: sp.token.clone(),
        profile: Some(kid("bbbbbbbb", 1)),
    };
    let sp2 = Who {
        token: emu.sp_token_for(APP2, "second-secret"),
        profile: None,
    };
    Env {
        emu,
        sp,
        user,
        viewer,
        profile,
        sp2,
    }
}

impl Env {
    fn mint(&self, who: &Who, path: &str, body: Value) -> Resp {
        self.emu
            .pbi("POST", path, &who.token, who.profile.as_deref(), Some(body))
    }
    fn v2(&self, who: &Who, body: Value) -> Resp {
        self.mint(who, "/GenerateToken", body)
    }
    fn v1_report(&self, who: &Who, ws_n: u64, rep_n: u64, body: Value) -> Resp {
        self.mint(
            who,
            &format!("/groups/{}/reports/{}/GenerateToken", ws(ws_n), rep(rep_n)),
            body,
        )
    }
}

fn ok(r: &Resp) -> Value {
    assert_eq!(r.status, 200, "expected success, got {}", r.text);
    assert!(r.json["token"].as_str().unwrap().starts_with("EGE1."));
    assert!(uuid::Uuid::parse_str(r.json["tokenId"].as_str().unwrap()).is_ok());
    assert!(r.json["expiration"].as_str().unwrap().ends_with('Z'));
    assert!(r.json["@odata.context"]
        .as_str()
        .unwrap()
        .contains("TokenInfo"));
    r.json.clone()
}

fn invalid(r: &Resp, message: &str) {
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.code(), "InvalidRequest", "{}", r.text);
    assert_eq!(r.message(), message, "{}", r.text);
}

fn invalid_contains(r: &Resp, fragment: &str) {
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.code(), "InvalidRequest", "{}", r.text);
    assert!(
        r.message().contains(fragment),
        "{:?} lacks {fragment:?}",
        r.message()
    );
}

fn ident(username: &str, roles: &[&str], datasets: &[String]) -> Value {
    json!({"username": username, "roles": roles, "datasets": datasets})
}

fn pre(n: u64) -> String {
    format!("Creating embed token for accessing dataset {} ", ds(n))
}

#[test]
fn cloud_rls_identity_rules() {
    let e = env();
    // no RLS: fine without identity, refused with one
    ok(&e.v2(&e.sp, json!({"reports": [{"id": rep(2)}]})));
    invalid(&e.v2(&e.sp, json!({"reports": [{"id": rep(2)}], "identities": [ident("a", &["Customer"], &[ds(2)])]})),
            &format!("{}shouldn't have effective identity", pre(2)));
    // RLS, service principal: identity required, with roles
    invalid(
        &e.v2(&e.sp, json!({"reports": [{"id": rep(1)}]})),
        &format!("{}requires effective identity to be provided", pre(1)),
    );
    invalid(
        &e.v2(
            &e.sp,
            json!({"reports": [{"id": rep(1)}], "identities": [ident("Contoso", &[], &[ds(1)])]}),
        ),
        &format!(
            "{}requires roles to be included in provided effective identity",
            pre(1)
        ),
    );
    ok(&e.v2(&e.sp, json!({"reports": [{"id": rep(1)}], "identities": [ident("Contoso", &["Customer"], &[ds(1)])]})));
    // an identity naming a dataset outside the token is refused (as the core's EG0202)
    invalid(&e.v2(&e.sp, json!({"reports": [{"id": rep(1)}], "identities": [ident("Contoso", &["Customer"], &[ds(3)])]})),
            &format!("Effective identity datasets must be included in the token; dataset {} is not", ds(3)));
    // DirectQuery follows the same rules
    invalid(
        &e.v2(&e.sp, json!({"reports": [{"id": rep(3)}]})),
        &format!("{}requires effective identity to be provided", pre(3)),
    );
    // a profile is a service principal too
    invalid(
        &e.v2(&e.profile, json!({"reports": [{"id": rep(1)}]})),
        &format!("{}requires effective identity to be provided", pre(1)),
    );
    // a master user may omit the identity (Cloud RLS: master user ✔), but roles are required when one is given
    ok(&e.v2(&e.user, json!({"reports": [{"id": rep(1)}]})));
    invalid(
        &e.v2(
            &e.user,
            json!({"reports": [{"id": rep(1)}], "identities": [ident("x", &[], &[ds(1)])]}),
        ),
        &format!(
            "{}requires roles to be included in provided effective identity",
            pre(1)
        ),
    );
    // identityBlob only for DirectQuery to Azure SQL
    let blob = json!({"username": "u", "roles": ["Customer"], "datasets": [ds(1)], "identityBlob": {"value": "eyJ0"}});
    invalid_contains(
        &e.v2(
            &e.sp,
            json!({"reports": [{"id": rep(1)}], "identities": [blob]}),
        ),
        "shouldn't have identityBlob",
    );
    // multiple identities for one dataset
    invalid(&e.v2(&e.sp, json!({"reports": [{"id": rep(1)}], "identities": [ident("a", &["Customer"], &[ds(1)]), ident("b", &["Customer"], &[ds(1)])]})),
            "Creating embed token with multiple identities is not supported");
    // ...but one identity per dataset is fine in V2
    ok(&e.v2(&e.sp, json!({"reports": [{"id": rep(1)}, {"id": rep(3)}],
                            "identities": [ident("a", &["Customer"], &[ds(1)]), ident("b", &["Region"], &[ds(3)])]})));
    // and in V1 any second identity is refused
    invalid(&e.v1_report(&e.sp, 1, 1, json!({"identities": [ident("a", &["Customer"], &[ds(1)]), ident("b", &["Customer"], &[ds(3)])]})),
            "Creating embed token with multiple identities is not supported");
}

#[test]
fn sso_azure_sql_rules() {
    let e = env();
    let blob = |username: Option<&str>, roles: &[&str]| {
        let mut v = json!({"datasets": [ds(4)], "identityBlob": {"value": "aad-access-token"}, "roles": roles});
        if let Some(u) = username {
            v["username"] = json!(u);
        }
        v
    };
    invalid(
        &e.v2(&e.sp, json!({"reports": [{"id": rep(4)}]})),
        &format!("{}requires effective identity to be provided", pre(4)),
    );
    // service principal: an RLS username is required with the blob
    invalid(
        &e.v2(
            &e.sp,
            json!({"reports": [{"id": rep(4)}], "identities": [blob(None, &[])]}),
        ),
        &format!(
            "{}requires effective identity username to be provided",
            pre(4)
        ),
    );
    ok(&e.v2(&e.sp, json!({"reports": [{"id": rep(4)}], "identities": [blob(Some("alice@contoso.com"), &["Customer"])]})));
    // SSO + cloud RLS: roles needed when a username is given
    invalid(
        &e.v2(
            &e.sp,
            json!({"reports": [{"id": rep(4)}], "identities": [blob(Some("alice"), &[])]}),
        ),
        &format!(
            "{}requires roles to be included in provided effective identity",
            pre(4)
        ),
    );
    // master user: may omit the identity; with SSO and cloud RLS (this dataset has roles) a blob
    // alone is not enough (*Considerations when generating an embed token*: the blob and the RLS username), but blob, username and roles are
    ok(&e.v2(&e.user, json!({"reports": [{"id": rep(4)}]})));
    invalid(
        &e.v2(
            &e.user,
            json!({"reports": [{"id": rep(4)}], "identities": [blob(None, &["Customer"])]}),
        ),
        &format!(
            "{}requires effective identity username to be provided",
            pre(4)
        ),
    );
    ok(&e.v2(&e.user, json!({"reports": [{"id": rep(4)}], "identities": [blob(Some("alice@contoso.com"), &["Customer"])]})));
    // a username is otherwise required, and the blob must have a value
    invalid(&e.v2(&e.user, json!({"reports": [{"id": rep(1)}], "identities": [{"roles": ["Customer"], "datasets": [ds(1)]}]})),
            "Effective identity username must be provided");
    invalid(&e.v2(&e.user, json!({"reports": [{"id": rep(4)}], "identities": [{"datasets": [ds(4)], "identityBlob": {"value": ""}}]})),
            "Effective identity identityBlob must have a non-empty value");
}

#[test]
fn analysis_services_rules() {
    let e = env();
    // AAS: service principal must pass its object id; roles optional
    invalid(
        &e.v2(&e.sp, json!({"reports": [{"id": rep(5)}]})),
        &format!("{}requires effective identity to be provided", pre(5)),
    );
    invalid(&e.v2(&e.sp, json!({"reports": [{"id": rep(5)}], "identities": [ident("alice@contoso.com", &[], &[ds(5)])]})),
            &format!("{}requires effective identity username to be identical to the caller's principal name", pre(5)));
    let t = ok(&e.v2(&e.sp, json!({"reports": [{"id": rep(5)}], "identities": [{"username": SP_OID, "customData": "North", "datasets": [ds(5)]}]})));
    // with no roles in the identity, the roles assigned to the username apply (ContosoOnly is assigned to the SP)
    let view = e.emu.render(t["token"].as_str().unwrap(), &rep(5));
    assert_eq!(view["roles"], json!(["ContosoOnly"]));
    assert_eq!(column(&view, "Customer"), ["Contoso", "Contoso"]);
    // master user: its UPN; may omit the identity
    ok(&e.v2(
        &e.user,
        json!({"reports": [{"id": rep(5)}], "identities": [ident(USER, &["Customer"], &[ds(5)])]}),
    ));
    invalid_contains(
        &e.v2(
            &e.user,
            json!({"reports": [{"id": rep(5)}], "identities": [ident(SP_OID, &[], &[ds(5)])]}),
        ),
        "identical to the caller's principal name",
    );
    ok(&e.v2(&e.user, json!({"reports": [{"id": rep(5)}]})));

    // SSAS: a service principal must send an identity, a master user may omit it (*Considerations when generating an embed token*'s table; found by the
    // differential test); gateway admin or ReadOverrideEffectiveIdentity; on-prem username charset; no CustomData
    invalid(
        &e.v2(&e.sp, json!({"reports": [{"id": rep(6)}]})),
        &format!("{}requires effective identity to be provided", pre(6)),
    );
    ok(&e.v2(&e.user, json!({"reports": [{"id": rep(6)}]})));
    ok(&e.v2(&e.sp, json!({"reports": [{"id": rep(6)}], "identities": [ident("CONTOSO\\alice", &[], &[ds(6)])]})));
    ok(&e.v2(&e.user, json!({"reports": [{"id": rep(6)}], "identities": [ident("alice@contoso.com", &[], &[ds(6)])]})));
    let r = e.v2(&e.sp, json!({"reports": [{"id": rep(7)}], "identities": [ident("alice@contoso.com", &[], &[ds(7)])]}));
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r
        .message()
        .contains("gateway admin or to have ReadOverrideEffectiveIdentity"));
    invalid_contains(
        &e.v2(
            &e.sp,
            json!({"reports": [{"id": rep(6)}], "identities": [ident("alice$x", &[], &[ds(6)])]}),
        ),
        "Windows account as the on-premises effective identity username",
    );
    // *Set effective identity*: "a Windows account, using UPN or DOMAIN\username format" (an object id is neither)
    invalid_contains(
        &e.v2(&e.sp, json!({"reports": [{"id": rep(6)}], "identities": [ident("6b0c7a38-0f0e-4c55-9a66-0a8c8a1e3f01", &[], &[ds(6)])]})),
        "Windows account",
    );
    invalid_contains(&e.v2(&e.sp, json!({"reports": [{"id": rep(6)}], "identities": [{"username": "alice", "customData": "x", "datasets": [ds(6)]}]})),
                     "shouldn't have customData");
}

#[test]
fn direct_lake_and_paginated_reports() {
    let e = env();
    invalid_contains(
        &e.v1_report(
            &e.sp,
            1,
            8,
            json!({"identities": [ident("a", &["Customer"], &[ds(8)])]}),
        ),
        "Direct Lake model; use the multi-resource GenerateToken API",
    );
    ok(&e.v2(
        &e.sp,
        json!({"reports": [{"id": rep(8)}], "identities": [ident("a", &["Customer"], &[ds(8)])]}),
    ));
    invalid_contains(&e.v2(&e.profile, json!({"reports": [{"id": rep(8)}], "identities": [ident("a", &["Customer"], &[ds(8)])]})),
                     "Direct Lake models don't support service principal profiles");

    // paginated: service principal only, identity in `reports` feeding UserID
    let t = ok(&e.v2(&e.sp, json!({"reports": [{"id": rep(30)}]})));
    let payload = e.emu.inspect(t["token"].as_str().unwrap());
    assert_eq!(
        payload["payload"]["reports"][0]["reportType"],
        "PaginatedReport"
    );
    invalid_contains(
        &e.v2(&e.user, json!({"reports": [{"id": rep(30)}]})),
        "not supported with a master user",
    );
    // the V1 report endpoint embeds them too (Microsoft's example for it), still service principal only
    let t = ok(&e.v1_report(
        &e.sp,
        1,
        30,
        json!({"accessLevel": "View", "identities": [{"username": "alice", "reports": [rep(30)]}]}),
    ));
    assert_eq!(
        column(
            &e.emu.render(t["token"].as_str().unwrap(), &rep(30)),
            "Item"
        ),
        ["A"]
    );
    invalid_contains(
        &e.v1_report(&e.user, 1, 30, json!({"accessLevel": "View"})),
        "not supported with a master user",
    );
    let t = ok(&e.v2(&e.sp, json!({"reports": [{"id": rep(30)}], "identities": [{"username": "alice", "reports": [rep(30)]}]})));
    let view = e.emu.render(t["token"].as_str().unwrap(), &rep(30));
    assert_eq!(view["username"], "alice");
    assert_eq!(column(&view, "Item"), ["A"]);
    invalid_contains(&e.v2(&e.sp, json!({"reports": [{"id": rep(2)}], "identities": [{"username": "alice", "reports": [rep(2)]}]})),
                     "only supported for paginated reports");
}

#[test]
fn workspace_kinds_and_access_rights() {
    let e = env();
    let classic_v1 = |who: &Who| {
        e.mint(
            who,
            &format!("/groups/{}/reports/{}/GenerateToken", ws(3), rep(10)),
            json!({"accessLevel": "View"}),
        )
    };
    ok(&classic_v1(&e.user));
    let r = classic_v1(&e.sp);
    assert_eq!((r.status, r.code()), (401, "PowerBINotAuthorizedException"));
    let r = classic_v1(&e.viewer); // Member, not Admin, of the classic workspace
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.message().contains("requires the Admin role"));
    invalid_contains(
        &e.v2(&e.user, json!({"reports": [{"id": rep(10)}]})),
        "supports only new workspaces",
    );
    invalid(
        &e.mint(
            &e.user,
            &format!("/groups/{}/reports/{}/GenerateToken", ws(3), rep(21)),
            json!({}),
        ),
        "In a classic workspace the dataset and the item must be in the same workspace",
    );
    // My workspace
    invalid(
        &e.mint(
            &e.user,
            &format!("/groups/{}/reports/{}/GenerateToken", ws(4), rep(11)),
            json!({}),
        ),
        "Creating embed token for items in My workspace is not supported",
    );
    // new workspace: at least Member
    let r = e.v2(&e.viewer, json!({"reports": [{"id": rep(2)}]}));
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.message().contains("at least Member access"));
    assert_eq!(
        e.v2(&e.sp2, json!({"reports": [{"id": rep(2)}]})).status,
        403
    ); // Contributor
       // dataset in another new workspace: Member of both
    ok(&e.v1_report(&e.sp, 1, 20, json!({})));
    assert_eq!(e.v1_report(&e.user, 1, 20, json!({})).status, 403); // Viewer of the dataset's workspace
                                                                    // target workspaces need rights too
    ok(&e.v2(
        &e.sp,
        json!({"reports": [{"id": rep(2)}], "targetWorkspaces": [{"id": ws(2)}]}),
    ));
    assert_eq!(
        e.v2(
            &e.profile,
            json!({"reports": [{"id": rep(2)}], "targetWorkspaces": [{"id": ws(2)}]})
        )
        .status,
        401
    );
    // unknown items
    let r = e.v2(
        &e.sp,
        json!({"reports": [{"id": "0e0e0e0e-0000-4000-8000-000000000000"}]}),
    );
    assert_eq!((r.status, r.code()), (404, "PowerBIEntityNotFound"));
    assert_eq!(e.v1_report(&e.sp, 1, 9, json!({})).status, 404); // report of workspace 2 asked in workspace 1
}

#[test]
fn token_permissions_v1() {
    let e = env();
    let g = ws(1);
    let t = ok(&e.v1_report(
        &e.sp,
        1,
        2,
        json!({"accessLevel": "Edit", "allowSaveAs": true}),
    ));
    let p = e.emu.inspect(t["token"].as_str().unwrap())["payload"].clone();
    assert_eq!(p["accessLevel"], "Edit");
    assert_eq!(p["allowSaveAs"], true);
    assert_eq!(p["reports"][0]["allowEdit"], true);
    invalid(
        &e.v1_report(&e.sp, 1, 2, json!({"accessLevel": "Create"})),
        "Create access level only applies when generating an embed token for report creation",
    );
    invalid_contains(
        &e.v1_report(&e.sp, 1, 2, json!({"accessLevel": "Owner"})),
        "accessLevel \"Owner\" is not valid",
    );
    let ds_path = format!("/groups/{g}/datasets/{}/GenerateToken", ds(2));
    ok(&e.mint(&e.sp, &ds_path, json!({"accessLevel": "View"})));
    invalid(
        &e.mint(&e.sp, &ds_path, json!({"accessLevel": "Edit"})),
        "Edit access level only applies when generating an embed token for a report",
    );
    invalid(
        &e.mint(&e.sp, &ds_path, json!({"allowSaveAs": true})),
        "allowSaveAs only applies when generating an embed token for a report",
    );
    let create = format!("/groups/{g}/reports/GenerateToken");
    invalid(
        &e.mint(&e.sp, &create, json!({"accessLevel": "Create"})),
        "Generating an embed token for report creation requires datasetId",
    );
    invalid(
        &e.mint(
            &e.sp,
            &create,
            json!({"accessLevel": "View", "datasetId": ds(2)}),
        ),
        "Generating an embed token for report creation requires accessLevel Create",
    );
    let t = ok(&e.mint(
        &e.sp,
        &create,
        json!({"accessLevel": "Create", "datasetId": ds(2)}),
    ));
    let p = e.emu.inspect(t["token"].as_str().unwrap())["payload"].clone();
    assert_eq!(p["createForDataset"], ds(2));
    assert_eq!(p["accessLevel"], "Create");
    // create needs the identity rules of the dataset too
    invalid(
        &e.mint(
            &e.sp,
            &create,
            json!({"accessLevel": "Create", "datasetId": ds(1)}),
        ),
        &format!("{}requires effective identity to be provided", pre(1)),
    );

    // dashboards and tiles: datasets behind the tiles
    let dash = format!(
        "/groups/{g}/dashboards/{}/GenerateToken",
        kid("dbdbdbdb", 1)
    );
    invalid(
        &e.mint(&e.sp, &dash, json!({})),
        &format!("{}requires effective identity to be provided", pre(1)),
    );
    let t = ok(&e.mint(
        &e.sp,
        &dash,
        json!({"identities": [ident("Contoso", &["Customer"], &[ds(1)])]}),
    ));
    assert_eq!(
        e.emu.inspect(t["token"].as_str().unwrap())["payload"]["dashboards"][0]["id"],
        kid("dbdbdbdb", 1)
    );
    invalid(
        &e.mint(&e.sp, &dash, json!({"accessLevel": "Edit"})),
        "Edit access level only applies when generating an embed token for a report",
    );
    let tile = |n: u64| {
        format!(
            "/groups/{g}/dashboards/{}/tiles/{}/GenerateToken",
            kid("dbdbdbdb", 1),
            kid("71717171", n)
        )
    };
    ok(&e.mint(&e.sp, &tile(1), json!({})));
    invalid(
        &e.mint(&e.sp, &tile(2), json!({})),
        &format!("{}requires effective identity to be provided", pre(1)),
    );
    assert_eq!(e.mint(&e.sp, &tile(9), json!({})).status, 404);
}

#[test]
fn request_limits_and_shape() {
    let e = env();
    let many: Vec<Value> = (0..51).map(|_| json!({"id": rep(2)})).collect();
    invalid(
        &e.v2(&e.sp, json!({"reports": many})),
        "The number of reports in the request exceeds the maximum of 50",
    );
    let many: Vec<Value> = (0..51).map(|_| json!({"id": ds(2)})).collect();
    invalid(
        &e.v2(&e.sp, json!({"datasets": many})),
        "The number of datasets in the request exceeds the maximum of 50",
    );
    let ids51: Vec<Value> = (0..51)
        .map(|i| ident(&format!("u{i}"), &["Customer"], &[ds(1)]))
        .collect();
    invalid(
        &e.v2(
            &e.sp,
            json!({"reports": [{"id": rep(1)}], "identities": ids51}),
        ),
        "The number of identities in the request exceeds the maximum of 50",
    );
    let r1 = |id: Value| {
        e.v2(
            &e.sp,
            json!({"reports": [{"id": rep(1)}], "identities": [id]}),
        )
    };
    invalid(
        &r1(ident(&"u".repeat(257), &["Customer"], &[ds(1)])),
        "Effective identity username must not exceed 256 characters",
    );
    ok(&r1(ident(&"u".repeat(256), &["Customer"], &[ds(1)])));
    invalid(
        &r1(ident("alice smith", &["Customer"], &[ds(1)])),
        "Effective identity username must not contain spaces",
    );
    let roles51: Vec<String> = (0..51).map(|i| format!("r{i}")).collect();
    let roles51: Vec<&str> = roles51.iter().map(String::as_str).collect();
    invalid(
        &r1(ident("a", &roles51, &[ds(1)])),
        "Effective identity can contain up to 50 roles",
    );
    let long = "r".repeat(51);
    invalid(
        &r1(ident("a", &[long.as_str()], &[ds(1)])),
        &format!("Role '{long}' exceeds the maximum length of 50 characters"),
    );
    invalid(
        &r1(ident("a", &["a,b"], &[ds(1)])),
        "Role 'a,b' must not contain ','",
    );
    invalid(
        &r1(json!({"username": "a", "roles": ["Customer"]})),
        "Effective identity must specify the datasets it applies to",
    );
    invalid(
        &e.v2(
            &e.sp,
            json!({"reports": [{"id": rep(2)}], "lifetimeInMinutes": -1}),
        ),
        "lifetimeInMinutes must be a positive integer",
    );
    invalid(
        &e.v2(
            &e.sp,
            json!({"reports": [{"id": rep(2)}], "identities": {"username": "a"}}),
        ),
        "identities must be a list",
    );
    invalid(
        &e.v2(&e.sp, json!({"targetWorkspaces": [{"id": ws(1)}]})),
        "GenerateToken requires at least one report or dataset",
    );
    invalid_contains(
        &e.v2(
            &e.sp,
            json!({"datasets": [{"id": ds(2), "xmlaPermissions": "ReadWrite"}]}),
        ),
        "xmlaPermissions 'ReadWrite' is not valid",
    );
    let t = ok(&e.v2(
        &e.sp,
        json!({"datasets": [{"id": ds(2), "xmlaPermissions": "ReadOnly"}]}),
    ));
    assert_eq!(
        e.emu.inspect(t["token"].as_str().unwrap())["payload"]["datasets"][0]["xmlaPermissions"],
        "ReadOnly"
    );
    let auth = format!("Bearer {}", e.sp.token);
    let r = e.emu.request(
        "POST",
        "/v1.0/myorg/GenerateToken",
        &[("Authorization", &auth)],
        Body::Raw("application/json".into(), b"{not json".to_vec()),
    );
    assert_eq!((r.status, r.code()), (400, "BadRequest"));
}

fn exp_of(r: &Value) -> i64 {
    let t = time::OffsetDateTime::parse(
        r["expiration"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    t.unix_timestamp()
}

#[test]
fn token_lifetime_and_payload() {
    let e = env();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    // Lifetimes are minutes; 10 s of slack covers five calls on a loaded machine.
    let near = |a: i64, b: i64| (a - b).abs() <= 10;
    let body = |m: i64| json!({"reports": [{"id": rep(2)}], "lifetimeInMinutes": m});
    assert!(near(exp_of(&ok(&e.v2(&e.sp, body(5)))), now + 300));
    assert!(near(exp_of(&ok(&e.v2(&e.sp, body(0)))), now + 3600));
    assert!(
        near(exp_of(&ok(&e.v2(&e.sp, body(1000)))), now + 3600),
        "lifetime can only shorten"
    );
    // never outlives the Entra token
    let short = Who {
        token: e.emu.admin_token(json!({"appId": APP, "expiresIn": 120})),
        profile: None,
    };
    assert!(near(exp_of(&ok(&e.v2(&short, body(30)))), now + 120));
    // the embed token carries its items, identities, caller and id
    let t = ok(&e.v2(&e.profile, json!({"reports": [{"id": rep(1), "allowEdit": true}],
                                        "identities": [{"username": "Contoso", "roles": ["Customer"], "customData": "North", "datasets": [ds(1)]}]})));
    let p = e.emu.inspect(t["token"].as_str().unwrap());
    assert_eq!(p["valid"], true);
    let p = &p["payload"];
    assert_eq!(p["tokenId"], t["tokenId"]);
    assert_eq!(p["caller"]["profileName"], "Tenant One");
    assert_eq!(p["reports"][0]["allowEdit"], true);
    assert_eq!(p["datasets"][0]["id"], ds(1));
    assert_eq!(p["identities"][0]["customData"], "North");
    // a tampered token is recognised
    let tok = t["token"].as_str().unwrap();
    let forged = format!("{}x", &tok[..tok.len() - 1]);
    assert_eq!(e.emu.inspect(&forged)["valid"], false);
}
