//! Test harness: runs the real `pbi-emulator` binary on free ports and talks HTTP(S) to it with ureq.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub const TENANT: &str = "11111111-1111-4111-8111-111111111111";
pub const APP: &str = "22222222-2222-4222-8222-222222222222";
pub const SECRET: &str = "emulator-demo-secret";
pub const SP_OID: &str = "33333333-3333-4333-8333-333333333333";
pub const APP2: &str = "55555555-5555-4555-8555-555555555555";
pub const USER: &str = "analyst@embedgate-demo.onmicrosoft.com";
pub const USER_PW: &str = "emulator-demo-password";
pub const VIEWER: &str = "viewer@embedgate-demo.onmicrosoft.com";
pub const SCOPE: &str = "https://analysis.windows.net/powerbi/api/.default";

// demo fixture
pub const P_CONTOSO: &str = "c0c0c0c0-0000-4000-8000-000000000001";
pub const P_FABRIKAM: &str = "fab0fab0-0000-4000-8000-000000000002";
pub const W_CONTOSO: &str = "c0c0c0c0-0000-4000-8000-00000000a001";
pub const W_FABRIKAM: &str = "fab0fab0-0000-4000-8000-00000000a002";
pub const W_LEGACY: &str = "1e9ac100-0000-4000-8000-00000000a003";
pub const D_CONTOSO: &str = "c0c0c0c0-0000-4000-8000-00000000d001";
pub const D_FABRIKAM: &str = "fab0fab0-0000-4000-8000-00000000d002";
pub const D_LEGACY: &str = "1e9ac100-0000-4000-8000-00000000d003";
pub const R_CONTOSO: &str = "c0c0c0c0-0000-4000-8000-00000000b001";
pub const R_FABRIKAM: &str = "fab0fab0-0000-4000-8000-00000000b002";
pub const R_LEGACY: &str = "1e9ac100-0000-4000-8000-00000000b003";

// kinds fixture (tests/fixtures/kinds.json)
pub fn kid(prefix: &str, n: u64) -> String {
    format!("{prefix}-0000-4000-8000-{n:012x}")
}
pub fn ws(n: u64) -> String {
    kid("aaaaaaaa", n)
}
pub fn ds(n: u64) -> String {
    kid("dddddddd", n)
}
pub fn rep(n: u64) -> String {
    kid("eeeeeeee", n)
}

pub struct Emu {
    child: Child,
    pub api: String,
    pub embed: String,
    pub embed_port: u16,
    agent: ureq::Agent,
}

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub text: String,
    pub json: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// `error.code` of a Power BI error body.
    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }
    pub fn message(&self) -> &str {
        self.json["error"]["message"].as_str().unwrap_or("")
    }
}

pub enum Body {
    None,
    Json(Value),
    Form(Vec<(String, String)>),
    Raw(String, Vec<u8>),
}

impl Emu {
    pub fn demo() -> Emu {
        Self::start(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo.json"))
    }
    pub fn kinds() -> Emu {
        Self::start(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/kinds.json"
        ))
    }
    pub fn start(fixture: &str) -> Emu {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pbi-emulator"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--embed-listen",
                "127.0.0.1:0",
                "--embed-host",
                "emu.powerbi.com",
                "--state",
                fixture,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn pbi-emulator");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("startup line");
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("bad startup line {line:?}: {e}"));
        let api = v["api"].as_str().unwrap().to_string();
        let embed = v["embed"].as_str().unwrap().to_string();
        let embed_port = embed.rsplit(':').next().unwrap().parse().unwrap();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // Redirects are answers to look at (the IdP's sign-in), not to follow.
            .max_redirects(0)
            .max_redirects_will_error(false)
            .tls_config(
                ureq::tls::TlsConfig::builder()
                    .disable_verification(true)
                    .build(),
            )
            .build()
            .into();
        let emu = Emu {
            child,
            api,
            embed,
            embed_port,
            agent,
        };
        assert_eq!(emu.get("/__emulator/health", &[]).status, 200);
        emu
    }

    pub fn request(&self, method: &str, url: &str, headers: &[(&str, &str)], body: Body) -> Resp {
        let url = if url.starts_with("http") {
            url.to_string()
        } else {
            format!("{}{url}", self.api)
        };
        let r = match method {
            "GET" | "DELETE" => {
                let mut b = if method == "GET" {
                    self.agent.get(&url)
                } else {
                    self.agent.delete(&url)
                };
                for (k, v) in headers {
                    b = b.header(*k, *v);
                }
                b.call()
            }
            _ => {
                let mut b = match method {
                    "POST" => self.agent.post(&url),
                    "PUT" => self.agent.put(&url),
                    "PATCH" => self.agent.patch(&url),
                    m => panic!("method {m}"),
                };
                for (k, v) in headers {
                    b = b.header(*k, *v);
                }
                match body {
                    Body::None => b.send_empty(),
                    Body::Json(v) => b.send_json(&v),
                    Body::Form(f) => b.send_form(f.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
                    Body::Raw(ct, bytes) => b.header("content-type", &ct).send(&bytes[..]),
                }
            }
        };
        let mut r = r.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            text,
            json,
        }
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        self.request("GET", path, headers, Body::None)
    }
    pub fn post(&self, path: &str, body: Value) -> Resp {
        self.request("POST", path, &[], Body::Json(body))
    }
    pub fn delete(&self, path: &str) -> Resp {
        self.request("DELETE", path, &[], Body::None)
    }

    /// A Power BI call with a bearer token and an optional profile.
    pub fn pbi(
        &self,
        method: &str,
        path: &str,
        token: &str,
        profile: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let auth = format!("Bearer {token}");
        let mut h = vec![("Authorization", auth.as_str())];
        if let Some(p) = profile {
            h.push(("X-PowerBI-Profile-Id", p));
        }
        let path = format!("/v1.0/myorg{path}");
        self.request(
            method,
            &path,
            &h,
            body.map(Body::Json).unwrap_or(Body::None),
        )
    }

    pub fn token_form(&self, tenant: &str, form: &[(&str, &str)]) -> Resp {
        let f = form
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.request(
            "POST",
            &format!("/{tenant}/oauth2/v2.0/token"),
            &[],
            Body::Form(f),
        )
    }

    pub fn sp_token(&self) -> String {
        self.sp_token_for(APP, SECRET)
    }
    pub fn sp_token_for(&self, app: &str, secret: &str) -> String {
        let r = self.token_form(
            TENANT,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", app),
                ("client_secret", secret),
                ("scope", SCOPE),
            ],
        );
        assert_eq!(r.status, 200, "{}", r.text);
        r.json["access_token"].as_str().unwrap().to_string()
    }
    pub fn user_token(&self, upn: &str, pw: &str) -> String {
        let r = self.token_form(
            TENANT,
            &[
                ("grant_type", "password"),
                ("client_id", APP),
                ("username", upn),
                ("password", pw),
                ("scope", SCOPE),
            ],
        );
        assert_eq!(r.status, 200, "{}", r.text);
        r.json["access_token"].as_str().unwrap().to_string()
    }
    /// An Entra token straight from the admin route, with any lifetime (negative = already expired).
    pub fn admin_token(&self, who: Value) -> String {
        let r = self.post("/__emulator/entra/token", who);
        assert_eq!(r.status, 200, "{}", r.text);
        r.json["access_token"].as_str().unwrap().to_string()
    }
    pub fn inspect(&self, embed_token: &str) -> Value {
        self.post("/__emulator/embed/inspect", json!({"token": embed_token}))
            .json
    }
    pub fn render(&self, embed_token: &str, report: &str) -> Value {
        self.post(
            "/__emulator/embed/render",
            json!({"token": embed_token, "reportId": report}),
        )
        .json
    }
    pub fn query(&self, embed_token: &str, dataset: &str) -> Value {
        self.post(
            "/__emulator/embed/query",
            json!({"token": embed_token, "datasetId": dataset}),
        )
        .json
    }
}

impl Drop for Emu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Rows of a render answer as (Customer) strings, using the named column.
pub fn column(render: &Value, name: &str) -> Vec<String> {
    let cols = render["columns"].as_array().expect("columns");
    let i = cols
        .iter()
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name} in {render}"));
    render["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[i].as_str().unwrap().to_string())
        .collect()
}
