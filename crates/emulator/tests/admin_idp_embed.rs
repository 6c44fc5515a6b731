//! Test-control API (faults, call counts, state), the portal identity provider, and the HTTPS embed listener.
mod common;
use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn legacy_token(
    emu: &Emu,
    sp: &str,
    username: &str,
    roles: &[&str],
    custom: Option<&str>,
) -> String {
    let mut id = json!({"username": username, "roles": roles, "datasets": [D_LEGACY]});
    if let Some(c) = custom {
        id["customData"] = json!(c);
    }
    let r = emu.pbi(
        "POST",
        "/GenerateToken",
        sp,
        None,
        Some(json!({"reports": [{"id": R_LEGACY}], "identities": [id]})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["token"].as_str().unwrap().to_string()
}

#[test]
fn faults_and_call_counts() {
    let emu = Emu::demo();
    let sp = emu.sp_token();
    let mint = || {
        emu.pbi("POST", "/GenerateToken", &sp, Some(P_CONTOSO),
        Some(json!({"reports": [{"id": R_CONTOSO}], "identities": [{"username": "Contoso", "roles": ["Customer"], "datasets": [D_CONTOSO]}]})))
    };
    assert_eq!(emu.post("/__emulator/faults", json!({"route": "powerbi.generateToken", "count": 2, "fault": {"status": 429, "retryAfter": 2}})).status, 200);
    for _ in 0..2 {
        let r = mint();
        assert_eq!(r.status, 429);
        assert_eq!(r.header("retry-after"), Some("2"));
        assert_eq!(r.code(), "TooManyRequests");
    }
    assert_eq!(mint().status, 200, "the fault is used up");

    // by path pattern, with a method
    emu.post("/__emulator/faults", json!({"route": "GET /v1.0/myorg/groups/*/reports/**", "fault": {"status": 503, "retryAfter": 1}}));
    let r = emu.pbi(
        "GET",
        &format!("/groups/{W_LEGACY}/reports/{R_LEGACY}"),
        &sp,
        None,
        None,
    );
    assert_eq!((r.status, r.header("retry-after")), (503, Some("1")));
    assert_eq!(
        emu.pbi(
            "GET",
            &format!("/groups/{W_LEGACY}/reports/{R_LEGACY}"),
            &sp,
            None,
            None
        )
        .status,
        200
    );

    // 500, garbage and hang
    emu.post("/__emulator/faults", json!([{"route": "powerbi.getGroups", "fault": {"status": 500}},
                                          {"route": "powerbi.getGroups", "fault": {"garbage": true}},
                                          {"route": "powerbi.getGroups", "fault": {"hangMs": 700}}]));
    assert_eq!(emu.pbi("GET", "/groups", &sp, None, None).status, 500);
    let g = emu.pbi("GET", "/groups", &sp, None, None);
    assert_eq!(g.status, 200);
    assert!(
        serde_json::from_str::<Value>(&g.text).is_err(),
        "garbage must not parse: {}",
        g.text
    );
    let t0 = Instant::now();
    let h = emu.pbi("GET", "/groups", &sp, None, None);
    assert!(t0.elapsed() >= Duration::from_millis(700));
    assert_eq!(h.status, 200, "after the hang the call proceeds");
    assert_eq!(h.json["value"][0]["id"], W_LEGACY);

    // Entra faults answer in Entra's error format
    emu.post(
        "/__emulator/faults",
        json!({"route": "entra.token", "fault": {"status": 503, "retryAfter": 3}}),
    );
    let r = emu.token_form(
        TENANT,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", APP),
            ("client_secret", SECRET),
            ("scope", SCOPE),
        ],
    );
    assert_eq!((r.status, r.header("retry-after")), (503, Some("3")));
    assert_eq!(r.json["error"], "temporarily_unavailable");

    // pending faults can be listed and cleared
    emu.post(
        "/__emulator/faults",
        json!({"route": "powerbi.getReports", "count": 5, "fault": {"status": 500}}),
    );
    assert_eq!(emu.get("/__emulator/faults", &[]).json[0]["remaining"], 5);
    assert_eq!(emu.delete("/__emulator/faults").status, 200);
    assert_eq!(
        emu.pbi(
            "GET",
            &format!("/groups/{W_LEGACY}/reports"),
            &sp,
            None,
            None
        )
        .status,
        200
    );
    // invalid fault bodies
    assert_eq!(
        emu.post("/__emulator/faults", json!({"route": "x", "fault": {}}))
            .status,
        400
    );
    assert_eq!(
        emu.post("/__emulator/faults", json!({"fault": {"status": 500}}))
            .status,
        400
    );
    assert_eq!(
        emu.post(
            "/__emulator/faults",
            json!({"route": "x", "count": 0, "fault": {"status": 500}})
        )
        .status,
        400
    );

    // call counts per route name, including failed calls
    let calls = emu.get("/__emulator/calls", &[]).json;
    assert_eq!(calls["powerbi.generateToken"], 3);
    assert_eq!(calls["powerbi.getGroups"], 3);
    assert_eq!(calls["powerbi.getReport"], 2);
    assert_eq!(calls["powerbi.getReports"], 1);
    assert_eq!(calls["entra.token"], 2);
    let log = emu.get("/__emulator/calls/log", &[]).json;
    let first = &log
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["route"] == "powerbi.generateToken")
        .unwrap();
    assert_eq!(first["status"], 429);
    assert_eq!(first["profileId"], P_CONTOSO);
    assert_eq!(emu.delete("/__emulator/calls").status, 200);
    assert_eq!(emu.get("/__emulator/calls", &[]).json, json!({}));
}

#[test]
fn state_can_be_replaced_and_is_validated() {
    let emu = Emu::demo();
    let sp = emu.sp_token();
    let mut st = emu.get("/__emulator/state", &[]).json;
    st["workspaces"][2]["name"] = json!("Renamed");
    assert_eq!(emu.post("/__emulator/state", st.clone()).status, 200);
    assert_eq!(
        emu.pbi("GET", &format!("/groups/{W_LEGACY}"), &sp, None, None)
            .json["name"],
        "Renamed"
    );
    // broken references and bad filters are refused, leaving the state as it was
    let mut bad = st.clone();
    bad["reports"][0]["datasetId"] = json!("00000000-0000-4000-8000-000000000000");
    let r = emu.post("/__emulator/state", bad);
    assert_eq!(r.status, 400);
    assert!(r.json["error"]
        .as_str()
        .unwrap()
        .contains("unknown dataset"));
    let mut bad = st.clone();
    bad["datasets"][0]["roles"][0]["filter"] = json!("[Customer] === 1");
    assert_eq!(emu.post("/__emulator/state", bad).status, 400);
    assert_eq!(
        emu.post("/__emulator/state", json!({"nope": 1})).status,
        400
    );
    assert_eq!(
        emu.pbi("GET", &format!("/groups/{W_LEGACY}"), &sp, None, None)
            .json["name"],
        "Renamed"
    );
    // a replaced state drops principals: tokens of a removed service principal stop working
    let mut gone = st;
    gone["servicePrincipals"] = json!([]);
    gone["profiles"] = json!([]);
    assert_eq!(emu.post("/__emulator/state", gone).status, 200);
    assert_eq!(emu.pbi("GET", "/groups", &sp, None, None).status, 401);
}

fn b64d(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

fn verify_with_jwks(jwks: &Value, jwt: &str) -> Result<Value, String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let header: Value = serde_json::from_slice(&b64d(parts[0])).unwrap();
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .ok_or("kid not in JWKS")?;
    let input = format!("{}.{}", parts[0], parts[1]);
    let sig = b64d(parts[2]);
    match header["alg"].as_str().unwrap() {
        "RS256" => {
            use sha2::Digest;
            let n = rsa::BigUint::from_bytes_be(&b64d(key["n"].as_str().unwrap()));
            let e = rsa::BigUint::from_bytes_be(&b64d(key["e"].as_str().unwrap()));
            let pk = rsa::RsaPublicKey::new(n, e).unwrap();
            pk.verify(
                rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                &sha2::Sha256::digest(input.as_bytes()),
                &sig,
            )
            .map_err(|e| e.to_string())?;
        }
        "ES256" => {
            use p256::ecdsa::signature::Verifier;
            let mut sec1 = vec![4u8];
            sec1.extend(b64d(key["x"].as_str().unwrap()));
            sec1.extend(b64d(key["y"].as_str().unwrap()));
            let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).unwrap();
            let sig = p256::ecdsa::Signature::from_slice(&sig).unwrap();
            vk.verify(input.as_bytes(), &sig)
                .map_err(|e| e.to_string())?;
        }
        a => return Err(format!("alg {a}")),
    }
    Ok(serde_json::from_slice(&b64d(parts[1])).unwrap())
}

#[test]
fn idp_tokens_jwks_and_rotation() {
    let emu = Emu::demo();
    let jwks = emu.get("/__emulator/idp/jwks.json", &[]).json;
    let algs: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    assert_eq!(algs, ["RS256", "ES256"]);
    let disc = emu
        .get("/__emulator/idp/.well-known/openid-configuration", &[])
        .json;
    assert_eq!(disc["issuer"], "https://idp.embedgate.test/");
    assert!(disc["jwks_uri"]
        .as_str()
        .unwrap()
        .ends_with("/__emulator/idp/jwks.json"));

    for alg in ["RS256", "ES256"] {
        let r = emu.post("/__emulator/idp/token", json!({"sub": "user-1", "claims": {"customer": "contoso", "email": "a@contoso.com"}, "expiresIn": 600, "alg": alg}));
        assert_eq!(r.status, 200, "{}", r.text);
        let claims = verify_with_jwks(&jwks, r.json["id_token"].as_str().unwrap()).unwrap();
        assert_eq!(claims["iss"], "https://idp.embedgate.test/");
        assert_eq!(claims["aud"], "embedgate-portal");
        assert_eq!(claims["sub"], "user-1");
        assert_eq!(claims["customer"], "contoso");
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            600
        );
    }
    // overrides for negative tests: issuer, audience, expired, foreign kid
    let r = emu.post("/__emulator/idp/token", json!({"sub": "u", "iss": "https://evil/", "aud": "other", "expiresIn": -60, "kid": "nope"}));
    let tok = r.json["id_token"].as_str().unwrap();
    assert!(verify_with_jwks(&jwks, tok).is_err(), "unknown kid");
    let header: Value = serde_json::from_slice(&b64d(tok.split('.').next().unwrap())).unwrap();
    assert_eq!(header["kid"], "nope");
    assert_eq!(r.json["claims"]["iss"], "https://evil/");
    assert!(r.json["claims"]["exp"].as_i64().unwrap() < r.json["claims"]["iat"].as_i64().unwrap());
    assert_eq!(
        emu.post("/__emulator/idp/token", json!({"sub": "u", "alg": "HS256"}))
            .status,
        400
    );

    // rotation: a new kid signs from now on; the old key stays published until retired
    let old_kid = jwks["keys"][0]["kid"].as_str().unwrap().to_string();
    let old_token = emu.post("/__emulator/idp/token", json!({"sub": "u"})).json["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    let rot = emu.post("/__emulator/idp/rotate", json!({"alg": "RS256"}));
    assert_eq!(rot.status, 200);
    let new_kid = rot.json["kid"].as_str().unwrap().to_string();
    assert_ne!(new_kid, old_kid);
    let jwks2 = emu.get("/__emulator/idp/jwks.json", &[]).json;
    assert_eq!(jwks2["keys"].as_array().unwrap().len(), 3);
    let new = emu.post("/__emulator/idp/token", json!({"sub": "u"}));
    assert_eq!(new.json["kid"], new_kid);
    verify_with_jwks(&jwks2, new.json["id_token"].as_str().unwrap()).unwrap();
    verify_with_jwks(&jwks2, &old_token).unwrap();
    // signing with a chosen (old) key is possible too
    assert_eq!(
        emu.post(
            "/__emulator/idp/token",
            json!({"sub": "u", "signWithKid": old_kid})
        )
        .json["kid"],
        old_kid
    );
    // retire the old key: old tokens no longer verify
    assert_eq!(
        emu.delete(&format!("/__emulator/idp/keys/{old_kid}"))
            .status,
        200
    );
    let jwks3 = emu.get("/__emulator/idp/jwks.json", &[]).json;
    assert!(verify_with_jwks(&jwks3, &old_token).is_err());
    let es = emu.post(
        "/__emulator/idp/rotate",
        json!({"alg": "ES256", "retireOld": true}),
    );
    assert_eq!(es.json["retired"].as_array().unwrap().len(), 1);
}

#[test]
fn embed_listener_serves_the_iframe_and_checks_tokens() {
    let emu = Emu::demo();
    let sp = emu.sp_token();
    let base = format!("https://127.0.0.1:{}", emu.embed_port);
    let page = emu.get(
        &format!("{base}/reportEmbed?reportId={R_LEGACY}&groupId={W_LEGACY}"),
        &[],
    );
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(page.text.contains("/report/load") && page.text.contains("postMessage"));
    assert!(emu
        .get("/__emulator/embed/cert.pem", &[])
        .text
        .starts_with("-----BEGIN CERTIFICATE-----"));

    let load = |token: &str, report: &str| {
        emu.request(
            "POST",
            &format!("{base}/__embed/load"),
            &[],
            Body::Json(json!({"token": token, "reportId": report, "groupId": W_LEGACY})),
        )
        .json
    };
    // RLS by USERNAME(): Contoso sees only Contoso rows
    let contoso = legacy_token(&emu, &sp, "Contoso", &["Customer"], None);
    let v = load(&contoso, R_LEGACY);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(column(&v, "Customer"), ["Contoso"; 4]);
    assert_eq!(v["pages"][0]["displayName"], "Sales overview");
    assert!(v["expiresInMs"].as_i64().unwrap() > 3_500_000);
    let fab = load(
        &legacy_token(&emu, &sp, "Fabrikam", &["Customer"], None),
        R_LEGACY,
    );
    assert_eq!(column(&fab, "Customer"), ["Fabrikam"; 3]);
    // CUSTOMDATA(), static roles, and the union of several roles
    let cd = load(
        &legacy_token(
            &emu,
            &sp,
            "anyone",
            &["CustomerByCustomData"],
            Some("Fabrikam"),
        ),
        R_LEGACY,
    );
    assert_eq!(column(&cd, "Customer"), ["Fabrikam"; 3]);
    let both = load(
        &legacy_token(&emu, &sp, "nobody", &["ContosoOnly", "FabrikamOnly"], None),
        R_LEGACY,
    );
    assert_eq!(column(&both, "Customer").len(), 7);
    let none = load(
        &legacy_token(&emu, &sp, "Northwind", &["Customer"], None),
        R_LEGACY,
    );
    assert_eq!(column(&none, "Customer").len(), 0);
    // a master user without identity sees everything
    let user = emu.user_token(USER, USER_PW);
    let t = emu.pbi(
        "POST",
        &format!("/groups/{W_LEGACY}/reports/{R_LEGACY}/GenerateToken"),
        &user,
        None,
        Some(json!({"accessLevel": "View"})),
    );
    let all = load(t.json["token"].as_str().unwrap(), R_LEGACY);
    assert_eq!(all["username"], USER);
    assert_eq!(column(&all, "Customer").len(), 7);

    // errors as IError: report not in the token, tampered token, expired token
    let other = emu.pbi("POST", "/GenerateToken", &sp, Some(P_CONTOSO),
        Some(json!({"reports": [{"id": R_CONTOSO}], "identities": [{"username": "Contoso", "roles": ["Customer"], "datasets": [D_CONTOSO]}]})));
    let e = load(other.json["token"].as_str().unwrap(), R_LEGACY);
    assert_eq!(e["ok"], false);
    assert_eq!(e["error"]["message"], "LoadReportFailed");
    assert_eq!(e["error"]["errorCode"], "403");
    let e = load(&format!("{contoso}A"), R_LEGACY);
    assert_eq!(e["error"]["message"], "LoadReportFailed");
    // Expiry counts whole seconds: 3 s leave the mint at least 2 s on a loaded machine.
    let short = emu.admin_token(json!({"appId": APP, "expiresIn": 3}));
    let brief = legacy_token(&emu, &short, "Contoso", &["Customer"], None);
    std::thread::sleep(Duration::from_millis(3100));
    let e = load(&brief, R_LEGACY);
    assert_eq!(e["error"]["message"], "TokenExpired");
    assert_eq!(
        e["error"]["detailedMessage"],
        "Access token has expired, resubmit with a new access token"
    );
    assert_eq!(e["error"]["errorCode"], "403");

    let calls = emu.get("/__emulator/calls", &[]).json;
    assert_eq!(calls["embed.reportEmbed"], 1);
    assert!(calls["embed.load"].as_u64().unwrap() >= 9);
}
