//! The form's backend code (`embedgate_core::preview`), run for real: the Node and Python samples are
//! executed against the in-process emulator (their URL's host swapped for it) and must mint a token as
//! the right caller. The C# sample cannot run here (no .NET SDK on the machine); its body round-trip and
//! SDK call per endpoint are checked instead.

use embedgate_core::preview::{request_preview, RequestPreview};
use serde_json::{json, Value};
use std::process::Command;

mod common;

const TENANT: &str = "11111111-1111-4111-8111-111111111111";
const APP: &str = "22222222-2222-4222-8222-222222222222";
const P_CONTOSO: &str = "c0c0c0c0-0000-4000-8000-000000000001";
const R_CONTOSO: &str = "c0c0c0c0-0000-4000-8000-00000000b001";
const D_CONTOSO: &str = "c0c0c0c0-0000-4000-8000-00000000d001";
const W_LEGACY: &str = "1e9ac100-0000-4000-8000-00000000a003";
const R_LEGACY: &str = "1e9ac100-0000-4000-8000-00000000b003";
const D_LEGACY: &str = "1e9ac100-0000-4000-8000-00000000d003";

fn post_json(url: &str, body: &Value) -> Value {
    let mut r = ureq::post(url)
        .header("content-type", "application/json")
        .send(body.to_string())
        .expect(url);
    serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
}

fn entra_token(base: &str) -> String {
    let mut r = ureq::post(&format!("{base}/{TENANT}/oauth2/v2.0/token"))
        .send_form([
            ("grant_type", "client_credentials"),
            ("client_id", APP),
            ("client_secret", "emulator-demo-secret"),
            ("scope", "https://analysis.windows.net/powerbi/api/.default"),
        ])
        .unwrap();
    let v: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    v["access_token"].as_str().unwrap().to_string()
}

fn sample<'a>(p: &'a RequestPreview, language: &str) -> &'a str {
    &p.code.iter().find(|c| c.language == language).unwrap().code
}

/// Runs a sample with `POWERBI_TOKEN` set; returns the token it minted (stdout's last line).
fn run(cmd: &str, args: &[&str], code: &str, entra: &str) -> String {
    let out = Command::new(cmd)
        .args(args)
        .arg(code)
        .env("POWERBI_TOKEN", entra)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} failed:\n{}\n--- code ---\n{code}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .lines()
        .last()
        .unwrap_or("")
        .to_string()
}

fn scenarios() -> Vec<(Value, Option<&'static str>)> {
    vec![
        // V2 as the Contoso profile: the profile header must be sent.
        (
            json!({
                "caller": {"principalType": "App", "objectId": "33333333-3333-4333-8333-333333333333", "profile": {"id": P_CONTOSO}},
                "endpoint": {"kind": "GenerateTokenV2"},
                "request": {"reports": [{"id": R_CONTOSO}], "datasets": [{"id": D_CONTOSO}],
                    "identities": [{"username": "Contoso", "roles": ["Customer"], "datasets": [D_CONTOSO],
                                    "customData": "o'brien \"quoted\" \\ back"}]}
            }),
            Some(P_CONTOSO),
        ),
        // V1 report endpoint as the service principal itself.
        (
            json!({
                "caller": {"principalType": "App", "objectId": "33333333-3333-4333-8333-333333333333"},
                "endpoint": {"kind": "Report", "groupId": W_LEGACY, "reportId": R_LEGACY},
                "request": {"accessLevel": "View", "allowSaveAs": false,
                    "identities": [{"username": "Contoso", "roles": ["Customer"], "datasets": [D_LEGACY]}]}
            }),
            None,
        ),
    ]
}

#[test]
fn node_and_python_samples_mint_a_token_as_the_right_caller() {
    let emu = common::emulator();
    let base = emu.base.clone();
    let entra = entra_token(&base);
    let python_ok = Command::new("python3")
        .args(["-c", "import requests"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        python_ok,
        "python3 with requests is needed (scripts/setup.sh installs python3-requests)"
    );
    for (doc, profile) in scenarios() {
        let p = request_preview(&doc).unwrap();
        let node =
            sample(&p, "node").replace("https://api.powerbi.com", &base) + "console.log(token);\n";
        let python = sample(&p, "python").replace("https://api.powerbi.com", &base)
            + "print(token[\"token\"])\n";
        for token in [
            run("node", &["--input-type=module", "-e"], &node, &entra),
            run("python3", &["-c"], &python, &entra),
        ] {
            let t = post_json(
                &format!("{base}/__emulator/embed/inspect"),
                &json!({"token": token}),
            );
            assert_eq!(t["valid"], true, "{t}");
            assert_eq!(t["payload"]["caller"]["profileId"].as_str(), profile, "{t}");
            let ids = &t["payload"]["identities"][0];
            assert_eq!(ids["username"], "Contoso");
            if profile.is_some() {
                // The body crossed into each language and back unchanged, quotes and backslash included.
                assert_eq!(ids["customData"], "o'brien \"quoted\" \\ back");
            }
        }
    }
}

#[test]
fn csharp_sample_carries_the_exact_body_and_the_sdk_call_per_endpoint() {
    for (doc, profile) in scenarios() {
        let p = request_preview(&doc).unwrap();
        let cs = sample(&p, "csharp");
        // The verbatim string @"..." with doubled quotes gives back the body byte for byte.
        let start = cs.find("@\"").unwrap() + 2;
        let end = cs[start..].find("\");").unwrap() + start;
        let verbatim = cs[start..end].replace("\"\"", "\"");
        assert_eq!(verbatim, p.body);
        match profile {
            Some(id) => assert!(cs.contains(&format!(
                "new PowerBIClient(credentials, profileObjectId: new Guid(\"{id}\"))"
            ))),
            None => assert!(cs.contains("new PowerBIClient(credentials);")),
        }
        assert!(!cs.contains("emulator-demo-secret") && cs.contains("POWERBI_TOKEN"));
    }
    let v2 = request_preview(&scenarios()[0].0).unwrap();
    assert!(sample(&v2, "csharp").contains("DeserializeObject<GenerateTokenRequestV2>"));
    assert!(sample(&v2, "csharp").contains("client.EmbedToken.GenerateTokenAsync(request)"));
    let v1 = request_preview(&scenarios()[1].0).unwrap();
    assert!(sample(&v1, "csharp").contains(&format!(
        "client.Reports.GenerateTokenInGroupAsync(new Guid(\"{W_LEGACY}\"), new Guid(\"{R_LEGACY}\"), request)"
    )));
}
