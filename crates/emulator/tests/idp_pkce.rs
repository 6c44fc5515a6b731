//! The portal IdP's authorization code flow with PKCE: what a single-page portal does to sign a user in.
mod common;
use base64::Engine;
use common::*;
use sha2::{Digest, Sha256};

const VERIFIER: &str = "verifier-0123456789-0123456789-0123456789-abcdef";
const REDIRECT: &str = "http://127.0.0.1:9/portal.html";

fn challenge(v: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()))
}

fn authorize(emu: &Emu, extra: &str) -> Resp {
    let url = format!(
        "/__emulator/idp/authorize?response_type=code&client_id=embedgate-portal&redirect_uri={}&state=s%201&nonce=n1&code_challenge={}&code_challenge_method=S256{extra}",
        "http%3A%2F%2F127.0.0.1%3A9%2Fportal.html",
        challenge(VERIFIER)
    );
    emu.get(&url, &[])
}

fn code_of(r: &Resp) -> String {
    assert_eq!(r.status, 302, "{}", r.text);
    let loc = r.header("location").unwrap();
    assert!(loc.starts_with(&format!("{REDIRECT}?code=")), "{loc}");
    assert!(loc.ends_with("&state=s%201"), "{loc}");
    loc.split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string()
}

fn exchange(emu: &Emu, code: &str, verifier: &str) -> Resp {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("client_id", "embedgate-portal"),
        ("code_verifier", verifier),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    emu.request(
        "POST",
        "/__emulator/idp/oauth2/token",
        &[],
        Body::Form(form),
    )
}

fn claims(jwt: &str) -> serde_json::Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn sign_in_page_lists_demo_users_and_a_code_buys_one_id_token() {
    let emu = Emu::demo();
    let page = authorize(&emu, "");
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("alice@contoso.example") && page.text.contains("bob@fabrikam.example")
    );

    let code = code_of(&authorize(&emu, "&user=bob%40fabrikam.example"));
    let r = exchange(&emu, &code, VERIFIER);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let c = claims(r.json["id_token"].as_str().unwrap());
    assert_eq!(c["sub"], "bob@fabrikam.example");
    assert_eq!(c["customer"], "fabrikam");
    assert_eq!(c["region"], "East");
    assert_eq!(c["nonce"], "n1");
    assert_eq!(c["aud"], "embedgate-portal");
    // The ID token verifies with the published keys: its kid is in the JWKS.
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(
                r.json["id_token"]
                    .as_str()
                    .unwrap()
                    .split('.')
                    .next()
                    .unwrap(),
            )
            .unwrap(),
    )
    .unwrap();
    let jwks = emu.get("/__emulator/idp/jwks.json", &[]);
    assert!(jwks.json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["kid"] == header["kid"]));

    // A code is good once.
    let again = exchange(&emu, &code, VERIFIER);
    assert_eq!(again.status, 400);
    assert_eq!(again.json["error"], "invalid_grant");
}

#[test]
fn a_wrong_verifier_or_a_bad_request_gets_no_token() {
    let emu = Emu::demo();
    let code = code_of(&authorize(&emu, "&user=alice%40contoso.example"));
    let r = exchange(
        &emu,
        &code,
        "another-verifier-0123456789-0123456789-0123456789",
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json["error"], "invalid_grant");
    assert!(r.json["id_token"].is_null());
    // The failed attempt used the code up: the right verifier is too late.
    assert_eq!(exchange(&emu, &code, VERIFIER).status, 400);

    let plain = emu.get("/__emulator/idp/authorize?response_type=code&client_id=embedgate-portal&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2F&code_challenge=abc&code_challenge_method=plain", &[]);
    assert_eq!(plain.status, 400);
    assert!(plain.text.contains("S256"), "{}", plain.text);
    let client = emu.get(&format!("/__emulator/idp/authorize?response_type=code&client_id=other&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2F&code_challenge={}&code_challenge_method=S256", challenge(VERIFIER)), &[]);
    assert_eq!(client.status, 400);
    assert_eq!(authorize(&emu, "&user=mallory").status, 400);
}

#[test]
fn settings_shorten_embed_tokens_and_refuse_unknown_names() {
    let emu = Emu::demo();
    let r = emu.post(
        "/__emulator/settings",
        serde_json::json!({"embedTokenLifetimeSeconds": 5}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["embedTokenLifetimeSeconds"], 5);
    assert_eq!(r.json["embedTokenDefaultMinutes"], 60);
    let bad = emu.post(
        "/__emulator/settings",
        serde_json::json!({"embedTokenLifetime": 5}),
    );
    assert_eq!(bad.status, 400);
    assert!(bad.text.contains("embedTokenLifetime"));
}
