//! Power BI REST routes: profiles, groups, group users, reports, datasets, dashboards, imports, profile scoping.
mod common;
use common::*;
use serde_json::{json, Value};

fn ids(r: &Resp) -> Vec<String> {
    r.json["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn profiles_crud_uniqueness_and_limits() {
    let emu = Emu::demo();
    let tok = emu.sp_token();
    let list = emu.pbi("GET", "/profiles", &tok, None, None);
    assert_eq!(list.status, 200);
    let names: Vec<&str> = list.json["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Contoso", "Fabrikam"]);
    assert!(list.json["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("$metadata#profiles"));

    let created = emu.pbi(
        "POST",
        "/profiles",
        &tok,
        None,
        Some(json!({"displayName": "Northwind"})),
    );
    assert_eq!(created.status, 200, "{}", created.text);
    let id = created.json["id"].as_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    assert_eq!(created.json["displayName"], "Northwind");
    assert_eq!(
        emu.pbi("GET", &format!("/profiles/{id}"), &tok, None, None)
            .json["displayName"],
        "Northwind"
    );

    let dup = emu.pbi(
        "POST",
        "/profiles",
        &tok,
        None,
        Some(json!({"displayName": "contoso"})),
    );
    assert_eq!(dup.status, 409, "{}", dup.text);
    assert_eq!(dup.code(), "PowerBIEntityAlreadyExists");
    assert_eq!(
        emu.pbi("POST", "/profiles", &tok, None, Some(json!({})))
            .status,
        400
    );
    assert_eq!(emu.pbi("POST", "/profiles", &tok, None, None).status, 400);

    // rename; renaming onto an existing name conflicts
    assert_eq!(
        emu.pbi(
            "PUT",
            &format!("/profiles/{id}"),
            &tok,
            None,
            Some(json!({"displayName": "Northwind Traders"}))
        )
        .status,
        200
    );
    assert_eq!(
        emu.pbi("GET", &format!("/profiles/{id}"), &tok, None, None)
            .json["displayName"],
        "Northwind Traders"
    );
    assert_eq!(
        emu.pbi(
            "PUT",
            &format!("/profiles/{id}"),
            &tok,
            None,
            Some(json!({"displayName": "Fabrikam"}))
        )
        .status,
        409
    );

    // $filter, $top, $skip
    let f = emu.pbi(
        "GET",
        "/profiles?$filter=displayName%20eq%20'Fabrikam'",
        &tok,
        None,
        None,
    );
    assert_eq!(ids(&f), [P_FABRIKAM]);
    let page = emu.pbi("GET", "/profiles?$top=1&$skip=1", &tok, None, None);
    assert_eq!(ids(&page), [P_FABRIKAM]);

    // only a service principal, without a profile, may call the profiles API
    let user = emu.user_token(USER, USER_PW);
    assert_eq!(emu.pbi("GET", "/profiles", &user, None, None).status, 401);
    assert_eq!(
        emu.pbi("GET", "/profiles", &tok, Some(P_CONTOSO), None)
            .status,
        401
    );

    // delete; it then is gone, and so are its workspace memberships
    assert_eq!(
        emu.pbi(
            "DELETE",
            &format!("/profiles/{P_CONTOSO}"),
            &tok,
            None,
            None
        )
        .status,
        200
    );
    assert_eq!(
        emu.pbi("GET", &format!("/profiles/{P_CONTOSO}"), &tok, None, None)
            .status,
        404
    );
    assert_eq!(
        emu.pbi(
            "DELETE",
            &format!("/profiles/{P_CONTOSO}"),
            &tok,
            None,
            None
        )
        .status,
        404
    );
    let users = emu.pbi(
        "GET",
        &format!("/groups/{W_LEGACY}/users"),
        &tok,
        None,
        None,
    );
    assert_eq!(users.status, 200);
    let st = emu.get("/__emulator/state", &[]).json;
    let contoso_ws = st["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == W_CONTOSO)
        .unwrap();
    assert!(contoso_ws["members"].as_array().unwrap().is_empty());

    // limit per service principal
    let mut st = emu.get("/__emulator/state", &[]).json;
    st["settings"]["maxProfilesPerServicePrincipal"] = json!(2);
    assert_eq!(emu.post("/__emulator/state", st).status, 200);
    let over = emu.pbi(
        "POST",
        "/profiles",
        &tok,
        None,
        Some(json!({"displayName": "Third"})),
    );
    assert_eq!(over.status, 400, "{}", over.text);
    assert_eq!(over.code(), "ProfileLimitExceeded");
}

#[test]
fn groups_listing_scoping_creation_and_types() {
    let emu = Emu::kinds();
    let sp = emu.sp_token();
    let user = emu.user_token(USER, USER_PW);
    // the service principal without a profile sees the workspaces it (not its profiles) belongs to
    assert_eq!(
        ids(&emu.pbi("GET", "/groups", &sp, None, None)),
        [ws(1), ws(2), ws(3)]
    );
    // the profile sees only its own
    assert_eq!(
        ids(&emu.pbi("GET", "/groups", &sp, Some(&kid("bbbbbbbb", 1)), None)),
        [ws(1)]
    );
    // My workspace is not listed, but has type PersonalGroup
    assert_eq!(
        ids(&emu.pbi("GET", "/groups", &user, None, None)),
        [ws(1), ws(2), ws(3)]
    );
    for (n, t) in [(1, "Workspace"), (3, "Group"), (4, "PersonalGroup")] {
        let g = emu.pbi("GET", &format!("/groups/{}", ws(n)), &user, None, None);
        assert_eq!(g.status, 200, "{}", g.text);
        assert_eq!(g.json["type"], t);
        assert_eq!(g.json["id"], ws(n));
    }
    let filtered = emu.pbi(
        "GET",
        "/groups?$filter=name%20eq%20'Classic'",
        &user,
        None,
        None,
    );
    assert_eq!(ids(&filtered), [ws(3)]);
    assert_eq!(
        ids(&emu.pbi("GET", "/groups?$top=1&$skip=1", &user, None, None)),
        [ws(2)]
    );
    assert_eq!(
        emu.pbi("GET", "/groups?$filter=weird", &user, None, None)
            .status,
        400
    );
    // A quote inside an OData string literal is doubled; a lone one is a syntax error, as in Power BI.
    let sp = emu.sp_token();
    let made = emu.pbi(
        "POST",
        "/groups",
        &sp,
        None,
        Some(json!({"name": "O'Brien & Sons"})),
    );
    assert_eq!(made.status, 200, "{}", made.text);
    let found = emu.pbi(
        "GET",
        "/groups?$filter=name%20eq%20'O''Brien%20%26%20Sons'",
        &sp,
        None,
        None,
    );
    assert_eq!(ids(&found), [made.json["id"].as_str().unwrap()]);
    for bad in ["name%20eq%20'O'Brien%20%26%20Sons'", "contains(name,'O'B')"] {
        let r = emu.pbi("GET", &format!("/groups?$filter={bad}"), &sp, None, None);
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    // not a member / unknown: 401
    assert_eq!(
        emu.pbi("GET", &format!("/groups/{}", ws(4)), &sp, None, None)
            .status,
        401
    );
    assert_eq!(
        emu.pbi(
            "GET",
            "/groups/00000000-0000-4000-8000-000000000000",
            &sp,
            None,
            None
        )
        .status,
        401
    );

    // create as a profile: the profile becomes Admin, and only it sees the workspace
    let p = kid("bbbbbbbb", 1);
    let c = emu.pbi(
        "POST",
        "/groups?workspaceV2=True",
        &sp,
        Some(&p),
        Some(json!({"name": "Tenant One Workspace"})),
    );
    assert_eq!(c.status, 200, "{}", c.text);
    assert_eq!(c.json["type"], "Workspace");
    let gid = c.json["id"].as_str().unwrap().to_string();
    let users = emu.pbi("GET", &format!("/groups/{gid}/users"), &sp, Some(&p), None);
    assert_eq!(users.json["value"][0]["groupUserAccessRight"], "Admin");
    assert_eq!(users.json["value"][0]["principalType"], "App");
    assert_eq!(users.json["value"][0]["identifier"], SP_OID);
    assert_eq!(users.json["value"][0]["profile"]["id"], p);
    assert_eq!(
        emu.pbi("GET", &format!("/groups/{gid}"), &sp, None, None)
            .status,
        401
    );
    assert!(ids(&emu.pbi("GET", "/groups", &sp, Some(&p), None)).contains(&gid));
    // names are unique in the tenant; a name is required
    assert_eq!(
        emu.pbi(
            "POST",
            "/groups",
            &sp,
            None,
            Some(json!({"name": "tenant one workspace"}))
        )
        .status,
        409
    );
    assert_eq!(
        emu.pbi("POST", "/groups", &sp, None, Some(json!({"name": ""})))
            .status,
        400
    );
    // delete needs Admin
    assert_eq!(
        emu.pbi("DELETE", &format!("/groups/{}", ws(2)), &sp, None, None)
            .status,
        401
    );
    assert_eq!(
        emu.pbi("DELETE", &format!("/groups/{gid}"), &sp, Some(&p), None)
            .status,
        200
    );
    assert_eq!(
        emu.pbi("GET", &format!("/groups/{gid}"), &sp, Some(&p), None)
            .status,
        401
    );
}

#[test]
fn group_users_add_list_delete() {
    let emu = Emu::demo();
    let sp = emu.sp_token();
    // Fabrikam's profile cannot see the legacy workspace until added with principalType App + profile
    assert_eq!(
        emu.pbi(
            "GET",
            &format!("/groups/{W_LEGACY}"),
            &sp,
            Some(P_FABRIKAM),
            None
        )
        .status,
        401
    );
    let add = json!({"groupUserAccessRight": "Member", "identifier": SP_OID, "principalType": "App", "profile": {"id": P_FABRIKAM}});
    let r = emu.pbi(
        "POST",
        &format!("/groups/{W_LEGACY}/users"),
        &sp,
        None,
        Some(add.clone()),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        emu.pbi(
            "GET",
            &format!("/groups/{W_LEGACY}"),
            &sp,
            Some(P_FABRIKAM),
            None
        )
        .status,
        200
    );
    let again = emu.pbi(
        "POST",
        &format!("/groups/{W_LEGACY}/users"),
        &sp,
        None,
        Some(add),
    );
    assert_eq!(
        (again.status, again.code()),
        (400, "AddingAlreadyExistsGroupUserNotSupportedError")
    );
    let list = emu.pbi("GET", &format!("/groups/{W_LEGACY}/users"), &sp, None, None);
    let rows = list.json["value"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let prof = rows
        .iter()
        .find(|u| u["profile"]["id"] == P_FABRIKAM)
        .unwrap();
    assert_eq!(prof["profile"]["displayName"], "Fabrikam");
    assert_eq!(prof["groupUserAccessRight"], "Member");
    // a Member cannot add users; bad bodies are refused
    let r = emu.pbi("POST", &format!("/groups/{W_LEGACY}/users"), &sp, Some(P_FABRIKAM),
                    Some(json!({"groupUserAccessRight": "Admin", "identifier": "x@y.z", "principalType": "User"})));
    assert_eq!(r.status, 401);
    for bad in [
        json!({"identifier": SP_OID, "principalType": "App"}),
        json!({"groupUserAccessRight": "Owner", "identifier": SP_OID, "principalType": "App"}),
        json!({"groupUserAccessRight": "Admin", "identifier": "99999999-0000-4000-8000-000000000000", "principalType": "App"}),
        json!({"groupUserAccessRight": "Admin", "identifier": SP_OID, "principalType": "App", "profile": {"id": "99999999-0000-4000-8000-000000000000"}}),
        json!({"groupUserAccessRight": "Admin", "identifier": SP_OID, "principalType": "Robot"}),
    ] {
        let r = emu.pbi(
            "POST",
            &format!("/groups/{W_LEGACY}/users"),
            &sp,
            None,
            Some(bad.clone()),
        );
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    // delete the profile's membership (identifier + profileId)
    let r = emu.pbi(
        "DELETE",
        &format!("/groups/{W_LEGACY}/users/{SP_OID}?profileId={P_FABRIKAM}"),
        &sp,
        None,
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        emu.pbi(
            "GET",
            &format!("/groups/{W_LEGACY}"),
            &sp,
            Some(P_FABRIKAM),
            None
        )
        .status,
        401
    );
    assert_eq!(
        emu.pbi(
            "DELETE",
            &format!("/groups/{W_LEGACY}/users/{SP_OID}?profileId={P_FABRIKAM}"),
            &sp,
            None,
            None
        )
        .status,
        404
    );
    // the service principal itself is still there
    assert_eq!(
        emu.pbi("GET", &format!("/groups/{W_LEGACY}"), &sp, None, None)
            .status,
        200
    );
}

#[test]
fn reports_datasets_dashboards_and_datasources() {
    let emu = Emu::kinds();
    let sp = emu.sp_token();
    let reps = emu.pbi(
        "GET",
        &format!("/groups/{}/reports", ws(1)),
        &sp,
        None,
        None,
    );
    assert_eq!(reps.status, 200);
    let r1 = reps.json["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == rep(1))
        .unwrap()
        .clone();
    assert_eq!(r1["reportType"], "PowerBIReport");
    assert_eq!(r1["datasetId"], ds(1));
    assert_eq!(
        r1["embedUrl"],
        format!(
            "https://emu.powerbi.com:{}/reportEmbed?reportId={}&groupId={}",
            emu.embed_port,
            rep(1),
            ws(1)
        )
    );
    let pag = emu.pbi(
        "GET",
        &format!("/groups/{}/reports/{}", ws(1), rep(30)),
        &sp,
        None,
        None,
    );
    assert_eq!(pag.json["reportType"], "PaginatedReport");
    assert!(pag.json["embedUrl"]
        .as_str()
        .unwrap()
        .contains("/rdlEmbed?reportId="));
    assert!(pag.json.get("datasetId").is_none());
    let cross = emu.pbi(
        "GET",
        &format!("/groups/{}/reports/{}", ws(1), rep(20)),
        &sp,
        None,
        None,
    );
    assert_eq!(cross.json["datasetWorkspaceId"], ws(2));
    // a report of another workspace is not found here
    assert_eq!(
        emu.pbi(
            "GET",
            &format!("/groups/{}/reports/{}", ws(1), rep(9)),
            &sp,
            None,
            None
        )
        .status,
        404
    );

    let expect: [(u64, bool, bool, &str); 8] = [
        (1, true, true, "Abf"),
        (2, false, false, "Abf"),
        (3, true, true, "DirectQuery"),
        (4, true, true, "DirectQuery"),
        (5, true, false, "Unknown"),
        (6, true, false, "Unknown"),
        (7, true, false, "Unknown"),
        (8, true, true, "DirectLake"),
    ];
    for (n, eir, eirr, mode) in expect {
        let d = emu.pbi(
            "GET",
            &format!("/groups/{}/datasets/{}", ws(1), ds(n)),
            &sp,
            None,
            None,
        );
        assert_eq!(d.status, 200);
        assert_eq!(d.json["isEffectiveIdentityRequired"], eir, "dataset {n}");
        assert_eq!(
            d.json["isEffectiveIdentityRolesRequired"], eirr,
            "dataset {n}"
        );
        assert_eq!(d.json["targetStorageMode"], mode, "dataset {n}");
    }
    let list = emu.pbi(
        "GET",
        &format!("/groups/{}/datasets", ws(1)),
        &sp,
        None,
        None,
    );
    assert_eq!(list.json["value"].as_array().unwrap().len(), 8);
    let src = emu.pbi(
        "GET",
        &format!("/groups/{}/datasets/{}/datasources", ws(1), ds(6)),
        &sp,
        None,
        None,
    );
    assert_eq!(src.json["value"][0]["gatewayId"], kid("99999999", 1));
    assert_eq!(src.json["value"][0]["datasourceId"], kid("99999999", 2));
    assert_eq!(src.json["value"][0]["connectionDetails"]["server"], "srv");

    let dashes = emu.pbi(
        "GET",
        &format!("/groups/{}/dashboards", ws(1)),
        &sp,
        None,
        None,
    );
    assert_eq!(dashes.json["value"][0]["displayName"], "Dash");
    let tiles = emu.pbi(
        "GET",
        &format!("/groups/{}/dashboards/{}/tiles", ws(1), kid("dbdbdbdb", 1)),
        &sp,
        None,
        None,
    );
    assert_eq!(tiles.json["value"].as_array().unwrap().len(), 2);
    assert_eq!(tiles.json["value"][1]["reportId"], rep(1));
}

#[test]
fn profile_scoping_read_and_mint() {
    let emu = Emu::demo();
    let sp = emu.sp_token();
    // Contoso's profile sees its workspace and report...
    assert_eq!(
        ids(&emu.pbi("GET", "/groups", &sp, Some(P_CONTOSO), None)),
        [W_CONTOSO]
    );
    assert_eq!(
        emu.pbi(
            "GET",
            &format!("/groups/{W_CONTOSO}/reports/{R_CONTOSO}"),
            &sp,
            Some(P_CONTOSO),
            None
        )
        .status,
        200
    );
    // ...but nothing of Fabrikam's
    for path in [
        format!("/groups/{W_FABRIKAM}"),
        format!("/groups/{W_FABRIKAM}/reports"),
        format!("/groups/{W_FABRIKAM}/reports/{R_FABRIKAM}"),
        format!("/groups/{W_FABRIKAM}/datasets/{D_FABRIKAM}"),
    ] {
        let r = emu.pbi("GET", &path, &sp, Some(P_CONTOSO), None);
        assert_eq!(
            (r.status, r.code()),
            (401, "PowerBINotAuthorizedException"),
            "{path}"
        );
    }
    let ident = json!([{"username": "Fabrikam", "roles": ["Customer"], "datasets": [D_FABRIKAM]}]);
    let v1 = emu.pbi(
        "POST",
        &format!("/groups/{W_FABRIKAM}/reports/{R_FABRIKAM}/GenerateToken"),
        &sp,
        Some(P_CONTOSO),
        Some(json!({"accessLevel": "View", "identities": ident})),
    );
    assert_eq!(v1.status, 401, "{}", v1.text);
    let v2 = emu.pbi("POST", "/GenerateToken", &sp, Some(P_CONTOSO),
                     Some(json!({"reports": [{"id": R_FABRIKAM}], "datasets": [{"id": D_FABRIKAM}], "identities": ident})));
    assert_eq!(v2.status, 401, "{}", v2.text);
    // the service principal without a profile doesn't see the profiles' workspaces either
    assert_eq!(
        emu.pbi("GET", &format!("/groups/{W_CONTOSO}"), &sp, None, None)
            .status,
        401
    );
    // while Fabrikam's profile can mint for its own report
    let own = emu.pbi(
        "POST",
        "/GenerateToken",
        &sp,
        Some(P_FABRIKAM),
        Some(json!({"reports": [{"id": R_FABRIKAM}], "identities": ident})),
    );
    assert_eq!(own.status, 200, "{}", own.text);
    let payload = emu.inspect(own.json["token"].as_str().unwrap());
    assert_eq!(payload["payload"]["caller"]["profileId"], P_FABRIKAM);
}

fn multipart(boundary: &str, content: &str) -> Vec<u8> {
    format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"sales.pbix\"\r\nContent-Type: application/octet-stream\r\n\r\n{content}\r\n--{boundary}--\r\n").into_bytes()
}

#[test]
fn imports_create_a_report_and_dataset() {
    let emu = Emu::demo();
    let sp = emu.sp_token();
    let pbix = json!({"format": "embedgate-pbix/1",
        "report": {"pages": [{"name": "S1", "displayName": "Imported page"}]},
        "dataset": {"kind": "Import", "columns": ["Customer", "Amount"],
                    "rows": [{"Customer": "Contoso", "Amount": 1}, {"Customer": "Contoso", "Amount": 2}]}}).to_string();
    let auth = format!("Bearer {sp}");
    let path = format!("/v1.0/myorg/groups/{W_CONTOSO}/imports?datasetDisplayName=Imported.pbix&nameConflict=Abort");
    let h = [
        ("Authorization", auth.as_str()),
        ("X-PowerBI-Profile-Id", P_CONTOSO),
    ];
    let r = emu.request(
        "POST",
        &path,
        &h,
        Body::Raw(
            "multipart/form-data; boundary=xYzZY".into(),
            multipart("xYzZY", &pbix),
        ),
    );
    assert_eq!(r.status, 202, "{}", r.text);
    let import_id = r.json["id"].as_str().unwrap().to_string();
    let got = emu.pbi(
        "GET",
        &format!("/groups/{W_CONTOSO}/imports/{import_id}"),
        &sp,
        Some(P_CONTOSO),
        None,
    );
    assert_eq!(got.status, 200);
    assert_eq!(got.json["importState"], "Succeeded");
    assert_eq!(got.json["name"], "Imported");
    let report_id = got.json["reports"][0]["id"].as_str().unwrap().to_string();
    let dataset_id = got.json["datasets"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        got.json["datasets"][0]["isEffectiveIdentityRequired"],
        false
    );
    let rep = emu.pbi(
        "GET",
        &format!("/groups/{W_CONTOSO}/reports/{report_id}"),
        &sp,
        Some(P_CONTOSO),
        None,
    );
    assert_eq!(rep.json["datasetId"], dataset_id);
    assert_eq!(
        emu.pbi(
            "GET",
            &format!("/groups/{W_CONTOSO}/imports"),
            &sp,
            Some(P_CONTOSO),
            None
        )
        .json["value"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // *Migrate multi-customer applications to the service principal profiles model*: with a profile and no identity, USERNAME() is the profile's name
    let t = emu.pbi(
        "POST",
        "/GenerateToken",
        &sp,
        Some(P_CONTOSO),
        Some(json!({"reports": [{"id": report_id}]})),
    );
    assert_eq!(t.status, 200, "{}", t.text);
    let view = emu.render(t.json["token"].as_str().unwrap(), &report_id);
    assert_eq!(view["username"], "Contoso");
    assert_eq!(column(&view, "Amount"), ["1", "2"]);

    // nameConflict=Abort on an existing name; corrupted file; missing datasetDisplayName; raw body also accepted
    let again = emu.request(
        "POST",
        &path,
        &h,
        Body::Raw(
            "multipart/form-data; boundary=b".into(),
            multipart("b", &pbix),
        ),
    );
    assert_eq!(again.status, 409, "{}", again.text);
    let bad = emu.request(
        "POST",
        &path.replace("Imported", "Other"),
        &h,
        Body::Raw(
            "multipart/form-data; boundary=b".into(),
            multipart("b", "PK\u{3}\u{4}binary"),
        ),
    );
    assert_eq!(
        (bad.status, bad.code()),
        (400, "RequestedFileIsEncryptedOrCorrupted")
    );
    let missing = emu.request(
        "POST",
        &format!("/v1.0/myorg/groups/{W_CONTOSO}/imports"),
        &h,
        Body::Raw("application/octet-stream".into(), pbix.clone().into_bytes()),
    );
    assert_eq!(missing.status, 400);
    let raw = emu.request(
        "POST",
        &format!("/v1.0/myorg/groups/{W_CONTOSO}/imports?datasetDisplayName=Raw.pbix"),
        &h,
        Body::Raw("application/octet-stream".into(), pbix.into_bytes()),
    );
    assert_eq!(raw.status, 202, "{}", raw.text);
    // a profile cannot import into another profile's workspace
    let foreign = emu.request(
        "POST",
        &format!("/v1.0/myorg/groups/{W_FABRIKAM}/imports?datasetDisplayName=X.pbix"),
        &h,
        Body::Raw("application/octet-stream".into(), b"{}".to_vec()),
    );
    assert_eq!(foreign.status, 401);
}

#[test]
fn imports_with_rls_and_overwrite() {
    let emu = Emu::demo();
    let sp = emu.sp_token();
    let mk = |amount: i64| {
        json!({"format": "embedgate-pbix/1", "dataset": {"kind": "Import",
        "roles": [{"name": "Customer", "filter": "[Customer] = USERNAME()"}],
        "rows": [{"Customer": "Contoso", "Amount": amount}, {"Customer": "Fabrikam", "Amount": 5}]}}).to_string().into_bytes()
    };
    let auth = format!("Bearer {sp}");
    let h = [("Authorization", auth.as_str())];
    let base = format!("/v1.0/myorg/groups/{W_LEGACY}/imports?datasetDisplayName=Rls.pbix");
    let r = emu.request(
        "POST",
        &base,
        &h,
        Body::Raw("application/octet-stream".into(), mk(7)),
    );
    assert_eq!(r.status, 202, "{}", r.text);
    let imp = emu.pbi(
        "GET",
        &format!(
            "/groups/{W_LEGACY}/imports/{}",
            r.json["id"].as_str().unwrap()
        ),
        &sp,
        None,
        None,
    );
    let report = imp.json["reports"][0]["id"].as_str().unwrap().to_string();
    let dataset = imp.json["datasets"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        imp.json["datasets"][0]["isEffectiveIdentityRolesRequired"],
        true
    );
    let r2 = emu.request(
        "POST",
        &format!("{base}&nameConflict=CreateOrOverwrite"),
        &h,
        Body::Raw("application/octet-stream".into(), mk(9)),
    );
    assert_eq!(r2.status, 202);
    let imp2 = emu.pbi(
        "GET",
        &format!(
            "/groups/{W_LEGACY}/imports/{}",
            r2.json["id"].as_str().unwrap()
        ),
        &sp,
        None,
        None,
    );
    assert_eq!(
        imp2.json["reports"][0]["id"],
        report.as_str(),
        "overwrite keeps the ids"
    );
    let t = emu.pbi(
        "POST",
        "/GenerateToken",
        &sp,
        None,
        Some(json!({"reports": [{"id": report}],
        "identities": [{"username": "Contoso", "roles": ["Customer"], "datasets": [dataset]}]})),
    );
    assert_eq!(t.status, 200, "{}", t.text);
    let view = emu.render(t.json["token"].as_str().unwrap(), &report);
    assert_eq!(column(&view, "Amount"), ["9"]);
    let invalid_role = json!({"format": "embedgate-pbix/1", "dataset": {"roles": [{"name": "R", "filter": "[C] ?? 1"}]}});
    let bad = emu.request(
        "POST",
        &base.replace("Rls", "Bad"),
        &h,
        Body::Raw(
            "application/octet-stream".into(),
            invalid_role.to_string().into_bytes(),
        ),
    );
    assert_eq!(bad.status, 400);
    let _: Value = bad.json;
}

#[test]
fn a_slow_import_is_publishing_and_hides_its_items_until_it_succeeds() {
    let emu = Emu::demo();
    let sp = emu.sp_token();
    assert_eq!(
        emu.post("/__emulator/settings", json!({"importPublishMs": 1500}))
            .status,
        200
    );
    let pbix = json!({"format": "embedgate-pbix/1", "report": {}, "dataset": {"kind": "Import"}})
        .to_string();
    let auth = format!("Bearer {sp}");
    let h = [
        ("Authorization", auth.as_str()),
        ("X-PowerBI-Profile-Id", P_CONTOSO),
    ];
    let path = format!(
        "/v1.0/myorg/groups/{W_CONTOSO}/imports?datasetDisplayName=Slow&nameConflict=Abort"
    );
    let r = emu.request(
        "POST",
        &path,
        &h,
        Body::Raw(
            "multipart/form-data; boundary=q".into(),
            multipart("q", &pbix),
        ),
    );
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.json["id"].as_str().unwrap().to_string();
    let state = |emu: &Emu| {
        emu.pbi(
            "GET",
            &format!("/groups/{W_CONTOSO}/imports/{id}"),
            &sp,
            Some(P_CONTOSO),
            None,
        )
    };
    let names = |emu: &Emu, what: &str| -> Vec<String> {
        emu.pbi(
            "GET",
            &format!("/groups/{W_CONTOSO}/{what}"),
            &sp,
            Some(P_CONTOSO),
            None,
        )
        .json["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap().to_string())
            .collect()
    };
    let early = state(&emu);
    assert_eq!(early.json["importState"], "Publishing");
    assert_eq!(early.json["reports"], json!([]));
    assert!(!names(&emu, "reports").contains(&"Slow".to_string()));
    assert!(!names(&emu, "datasets").contains(&"Slow".to_string()));
    // The name is taken meanwhile: a second import aborts rather than duplicating.
    let twice = emu.request(
        "POST",
        &path,
        &h,
        Body::Raw(
            "multipart/form-data; boundary=q".into(),
            multipart("q", &pbix),
        ),
    );
    assert_eq!(twice.status, 409, "{}", twice.text);
    std::thread::sleep(std::time::Duration::from_millis(1600));
    let late = state(&emu);
    assert_eq!(late.json["importState"], "Succeeded");
    assert_eq!(late.json["reports"][0]["name"], "Slow");
    assert!(names(&emu, "reports").contains(&"Slow".to_string()));
}

#[test]
fn a_fixed_rate_throttle_answers_429_past_the_rate_and_spares_other_routes() {
    let emu = Emu::demo();
    let sp = emu.sp_token();
    assert_eq!(
        emu.post("/__emulator/settings", json!({"powerBiCallsPerSecond": 5}))
            .status,
        200
    );
    let statuses: Vec<u16> = (0..12)
        .map(|_| emu.pbi("GET", "/profiles", &sp, None, None).status)
        .collect();
    let ok = statuses.iter().filter(|&&s| s == 200).count();
    let limited = statuses.iter().filter(|&&s| s == 429).count();
    // Twelve calls may straddle a second boundary: at most two windows' worth pass.
    assert!((5..=10).contains(&ok), "{statuses:?}");
    assert_eq!(ok + limited, 12, "{statuses:?}");
    let r = emu.pbi("GET", "/profiles", &sp, None, None);
    if r.status == 429 {
        assert_eq!(r.json["error"]["code"], "TooManyRequests");
    }
    // Entra is not Power BI: tokens are still issued.
    let _ = emu.sp_token();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(emu.pbi("GET", "/profiles", &sp, None, None).status, 200);
    assert_eq!(
        emu.post("/__emulator/settings", json!({"powerBiCallsPerSecond": 0}))
            .status,
        200
    );
    assert!((0..12).all(|_| emu.pbi("GET", "/profiles", &sp, None, None).status == 200));
}
