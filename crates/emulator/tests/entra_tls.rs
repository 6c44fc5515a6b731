//! Entra over the HTTPS listener, for clients such as MSAL that only accept an https authority.
mod common;
use common::*;

#[test]
fn token_endpoint_and_authority_metadata_answer_over_tls() {
    let emu = Emu::demo();
    let _ = emu.delete("/__emulator/calls");
    let origin = format!("https://127.0.0.1:{}", emu.embed_port);

    let meta = emu.get(
        &format!("{origin}/{TENANT}/v2.0/.well-known/openid-configuration"),
        &[],
    );
    assert_eq!(meta.status, 200, "{}", meta.text);
    let token_endpoint = meta.json["token_endpoint"].as_str().unwrap().to_string();
    assert_eq!(
        token_endpoint,
        format!("{origin}/{TENANT}/oauth2/v2.0/token")
    );
    assert!(meta.json["authorization_endpoint"].is_string());
    assert!(meta.json["issuer"].is_string());

    let unknown = emu.get(
        &format!(
            "{origin}/99999999-9999-4999-8999-999999999999/v2.0/.well-known/openid-configuration"
        ),
        &[],
    );
    assert_eq!(unknown.status, 400);

    let disc = emu.get(
        &format!("{origin}/common/discovery/instance?api-version=1.1&authorization_endpoint={origin}/{TENANT}/oauth2/v2.0/authorize"),
        &[],
    );
    assert_eq!(disc.status, 200, "{}", disc.text);
    assert_eq!(
        disc.json["tenant_discovery_endpoint"],
        format!("{origin}/{TENANT}/v2.0/.well-known/openid-configuration")
    );

    let form = |secret: &str| {
        Body::Form(
            [
                ("grant_type", "client_credentials"),
                ("client_id", APP),
                ("client_secret", secret),
                ("scope", SCOPE),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        )
    };
    let r = emu.request("POST", &token_endpoint, &[], form(SECRET));
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r.json["access_token"].as_str().unwrap().to_string();
    // The token is good on the Power BI REST API of the HTTP listener.
    let rep = emu.pbi(
        "GET",
        &format!("/groups/{W_LEGACY}/reports/{R_LEGACY}"),
        &token,
        None,
        None,
    );
    assert_eq!(rep.status, 200, "{}", rep.text);

    // Same checks as on the HTTP listener.
    let bad = emu.request("POST", &token_endpoint, &[], form("wrong"));
    assert_eq!(bad.status, 401, "{}", bad.text);
    assert!(bad.json["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS7000215"));

    // Counted under the same names as on the HTTP listener.
    let calls = emu.get("/__emulator/calls", &[]).json;
    assert_eq!(calls["entra.token"], 2, "{calls}");
    assert_eq!(calls["entra.openidConfiguration"], 2, "{calls}");
    assert_eq!(calls["entra.instanceDiscovery"], 1, "{calls}");
    assert_eq!(calls["powerbi.getReport"], 1, "{calls}");
}
