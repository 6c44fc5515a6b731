//! Entra ID token endpoint and the Power BI bearer / profile-header checks.
mod common;
use common::*;
use serde_json::json;

fn cc(app: &str, secret: &str, scope: &str) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "client_credentials".into()),
        ("client_id", app.into()),
        ("client_secret", secret.into()),
        ("scope", scope.into()),
    ]
}

fn form(emu: &Emu, tenant: &str, f: Vec<(&'static str, String)>) -> Resp {
    let v: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    emu.token_form(tenant, &v)
}

fn assert_entra_error(r: &Resp, status: u16, error: &str, code: u64) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.json["error"], error, "{}", r.text);
    assert_eq!(r.json["error_codes"][0], code, "{}", r.text);
    let desc = r.json["error_description"].as_str().unwrap();
    assert!(desc.starts_with(&format!("AADSTS{code}:")), "{desc}");
    assert!(
        r.json["trace_id"].is_string()
            && r.json["correlation_id"].is_string()
            && r.json["timestamp"].is_string()
    );
}

#[test]
fn client_credentials_success_and_errors() {
    let emu = Emu::demo();
    let ok = form(&emu, TENANT, cc(APP, SECRET, SCOPE));
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.json["token_type"], "Bearer");
    assert_eq!(ok.json["expires_in"], 3599);
    assert_eq!(ok.json["ext_expires_in"], 3599);
    assert_eq!(
        ok.json["access_token"].as_str().unwrap().split('.').count(),
        3
    );
    // the tenant's domain name works as well as its id
    assert_eq!(
        form(
            &emu,
            "embedgate-demo.onmicrosoft.com",
            cc(APP, SECRET, SCOPE)
        )
        .status,
        200
    );

    let r = form(&emu, TENANT, cc(APP, "wrong", SCOPE));
    assert_entra_error(&r, 401, "invalid_client", 7000215);
    assert!(r.json["error_description"]
        .as_str()
        .unwrap()
        .contains("Invalid client secret provided"));

    let r = form(
        &emu,
        "99999999-0000-4000-8000-000000000000",
        cc(APP, SECRET, SCOPE),
    );
    assert_entra_error(&r, 400, "invalid_request", 90002);
    assert!(r.json["error_description"]
        .as_str()
        .unwrap()
        .contains("Tenant '99999999-0000-4000-8000-000000000000' not found"));

    let r = form(
        &emu,
        TENANT,
        cc("12345678-0000-4000-8000-000000000000", SECRET, SCOPE),
    );
    assert_entra_error(&r, 400, "unauthorized_client", 700016);

    let r = form(
        &emu,
        TENANT,
        cc(APP, SECRET, "https://graph.microsoft.com/.default"),
    );
    assert_entra_error(&r, 400, "invalid_scope", 500011);
    let r = form(
        &emu,
        TENANT,
        cc(
            APP,
            SECRET,
            "https://analysis.windows.net/powerbi/api/Report.Read.All",
        ),
    );
    assert_entra_error(&r, 400, "invalid_scope", 1002012);
    let r = form(&emu, TENANT, cc(APP, SECRET, ""));
    assert_entra_error(&r, 400, "invalid_request", 900144);

    let r = form(
        &emu,
        TENANT,
        vec![
            ("grant_type", "authorization_code".into()),
            ("client_id", APP.into()),
        ],
    );
    assert_entra_error(&r, 400, "unsupported_grant_type", 70003);
    let r = form(&emu, TENANT, vec![("client_id", APP.into())]);
    assert_entra_error(&r, 400, "invalid_request", 900144);
    let r = form(
        &emu,
        TENANT,
        vec![
            ("grant_type", "client_credentials".into()),
            ("client_id", APP.into()),
            ("scope", SCOPE.into()),
        ],
    );
    assert_entra_error(&r, 401, "invalid_client", 7000216);
}

#[test]
fn password_grant_for_master_users() {
    let emu = Emu::demo();
    let f = |user: &str, pw: &str| {
        vec![
            ("grant_type", "password".to_string()),
            ("client_id", APP.to_string()),
            ("username", user.to_string()),
            ("password", pw.to_string()),
            ("scope", SCOPE.to_string()),
        ]
    };
    let ok = form(&emu, TENANT, f(USER, USER_PW));
    assert_eq!(ok.status, 200, "{}", ok.text);
    let tok = ok.json["access_token"].as_str().unwrap();
    // the master user is Admin of the legacy workspace and sees it
    let g = emu.pbi("GET", "/groups", tok, None, None);
    assert_eq!(g.status, 200);
    assert_eq!(g.json["value"][0]["id"], W_LEGACY);
    assert_eq!(form(&emu, "organizations", f(USER, USER_PW)).status, 200);
    assert_entra_error(
        &form(&emu, TENANT, f(USER, "nope")),
        400,
        "invalid_grant",
        50126,
    );
    assert_entra_error(
        &form(&emu, TENANT, f("ghost@embedgate-demo.onmicrosoft.com", "x")),
        400,
        "invalid_grant",
        50034,
    );
}

#[test]
fn bearer_is_required_and_verified() {
    let emu = Emu::demo();
    let r = emu.get("/v1.0/myorg/groups", &[]);
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "PowerBINotAuthorizedException");
    assert_eq!(
        r.json["error"]["pbi.error"]["code"],
        "PowerBINotAuthorizedException"
    );
    assert!(r.header("www-authenticate").is_some());

    let r = emu.pbi("GET", "/groups", "not-a-token", None, None);
    assert_eq!(r.status, 401);
    // a token signed with another key (tampered signature)
    let good = emu.sp_token();
    let (head, _) = good.rsplit_once('.').unwrap();
    let r = emu.pbi("GET", "/groups", &format!("{head}.AAAA"), None, None);
    assert_eq!(r.status, 401);

    let expired = emu.admin_token(json!({"appId": APP, "expiresIn": -5}));
    let r = emu.pbi("GET", "/groups", &expired, None, None);
    assert_eq!(r.status, 403);
    assert_eq!(r.code(), "TokenExpired");
    assert_eq!(
        r.message(),
        "Access token has expired, resubmit with a new access token"
    );
}

#[test]
fn token_lifetime_comes_from_the_fixture_and_expiry_is_honoured() {
    let emu = Emu::demo();
    let mut st = emu.get("/__emulator/state", &[]).json;
    // Whole seconds: a 4 s token is still good for the first call on a loaded machine.
    st["settings"]["entraTokenLifetimeSeconds"] = json!(4);
    assert_eq!(emu.post("/__emulator/state", st).status, 200);
    let r = form(&emu, TENANT, cc(APP, SECRET, SCOPE));
    assert_eq!(r.json["expires_in"], 4);
    let tok = r.json["access_token"].as_str().unwrap().to_string();
    assert_eq!(emu.pbi("GET", "/groups", &tok, None, None).status, 200);
    std::thread::sleep(std::time::Duration::from_millis(4600));
    let r = emu.pbi("GET", "/groups", &tok, None, None);
    assert_eq!((r.status, r.code()), (403, "TokenExpired"));
}

#[test]
fn profile_header_rules() {
    let emu = Emu::demo();
    let tok = emu.sp_token();
    let auth = format!("Bearer {tok}");
    // twice
    let r = emu.request(
        "GET",
        "/v1.0/myorg/groups",
        &[
            ("Authorization", &auth),
            ("X-PowerBI-Profile-Id", P_CONTOSO),
            ("X-PowerBI-Profile-Id", P_CONTOSO),
        ],
        Body::None,
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.code(), "InvalidRequest");
    // not a GUID
    let r = emu.pbi("GET", "/groups", &tok, Some("contoso"), None);
    assert_eq!(r.status, 400);
    // unknown profile
    let r = emu.pbi(
        "GET",
        "/groups",
        &tok,
        Some("0badbad0-0000-4000-8000-000000000000"),
        None,
    );
    assert_eq!((r.status, r.code()), (404, "PowerBIEntityNotFound"));
    // a master user cannot act as a profile
    let user = emu.user_token(USER, USER_PW);
    assert_eq!(
        emu.pbi("GET", "/groups", &user, Some(P_CONTOSO), None)
            .status,
        401
    );
}

#[test]
fn a_profile_of_another_service_principal_is_refused() {
    let emu = Emu::kinds();
    let other_profile = kid("bbbbbbbb", 2); // owned by APP2
    let tok = emu.sp_token();
    let r = emu.pbi("GET", "/groups", &tok, Some(&other_profile), None);
    assert_eq!((r.status, r.code()), (404, "PowerBIEntityNotFound"));
    let tok2 = emu.sp_token_for(APP2, "second-secret");
    assert_eq!(
        emu.pbi("GET", "/groups", &tok2, Some(&other_profile), None)
            .status,
        200
    );
}
