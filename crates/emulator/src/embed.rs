//! The embed iframe (served on the HTTPS listener): a page that speaks powerbi-client's postMessage protocol and
//! an endpoint it calls to verify the embed token and fetch the report's rows filtered by the token's identity.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::app::{now, Shared};
use crate::crypto::{self, TokenError};
use crate::rls;
use crate::state::*;

fn ierror(message: &str, detailed: String, code: &str) -> Value {
    json!({"ok": false, "error": {"message": message, "detailedMessage": detailed, "errorCode": code, "level": 6}})
}

type Query = (
    Vec<String>,
    Vec<Map<String, Value>>,
    String,
    String,
    Vec<String>,
    bool,
);

fn contains(v: &Value, key: &str, id: &str) -> bool {
    v[key].as_array().is_some_and(|a| {
        a.iter()
            .any(|x| x.as_str().is_some_and(|s| s.eq_ignore_ascii_case(id)))
    })
}

/// The rows of a dataset that the token's identity for it may see, or the service's query error.
fn query_dataset(
    ds: &Dataset,
    identities: &[&Value],
    default_user: String,
) -> Result<Query, Value> {
    let ident = identities.iter().find(|i| contains(i, "datasets", &ds.id));
    Ok(match ident {
        None => (
            ds.column_names(),
            ds.rows.clone(),
            default_user,
            String::new(),
            Vec::new(),
            false,
        ),
        Some(i) => {
            let username = i["username"].as_str().unwrap_or(&default_user).to_string();
            let custom = i["customData"].as_str().unwrap_or("").to_string();
            let mut roles: Vec<String> = i["roles"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|r| r.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            if roles.is_empty() && ds.kind.is_analysis_services() {
                // Analysis Services: the roles assigned to the effective username apply.
                roles = ds
                    .roles
                    .iter()
                    .filter(|r| r.members.iter().any(|m| m.eq_ignore_ascii_case(&username)))
                    .map(|r| r.name.clone())
                    .collect();
            }
            // The service resolves role names when the report queries the model: an unknown role fails the load.
            if let Some(r) = roles
                .iter()
                .find(|n| !ds.roles.iter().any(|m| m.name.eq_ignore_ascii_case(n)))
            {
                return Err(ierror("QueryUserError", format!("The role '{r}' specified in the effective identity doesn't exist in the model of dataset {}", ds.id), "400"));
            }
            let ctx = rls::Ctx {
                username: username.clone(),
                custom_data: custom.clone(),
            };
            let filters: Vec<rls::Expr> = ds
                .roles
                .iter()
                .filter(|r| roles.iter().any(|n| n.eq_ignore_ascii_case(&r.name)))
                .filter_map(|r| rls::parse(&r.filter).ok())
                .collect();
            let rows = if ds.roles.is_empty() {
                ds.rows.clone()
            } else {
                // several roles: the user sees the union of what each grants
                ds.rows
                    .iter()
                    .filter(|r| filters.iter().any(|f| rls::eval(f, r, &ctx)))
                    .cloned()
                    .collect()
            };
            (
                ds.column_names(),
                rows,
                username,
                custom,
                roles,
                !ds.roles.is_empty(),
            )
        }
    })
}

/// Without an identity for a dataset, the caller itself is the user (a profile by its name).
fn default_user(payload: &Value) -> String {
    let c = &payload["caller"];
    c["profileName"]
        .as_str()
        .or(c["upn"].as_str())
        .or(c["objectId"].as_str())
        .unwrap_or("")
        .to_string()
}

/// The payload of a valid, unexpired embed token, or the iframe's error for it.
fn verified(app: &Shared, token: &str) -> Result<Value, Value> {
    let payload = match crypto::embed_verify(&app.embed_key, token) {
        Ok(p) => p,
        Err(TokenError::BadSignature) => {
            return Err(ierror(
                "LoadReportFailed",
                "The embed token's signature is invalid".into(),
                "403",
            ))
        }
        Err(TokenError::Malformed) => {
            return Err(ierror(
                "LoadReportFailed",
                "The embed token is malformed".into(),
                "403",
            ))
        }
    };
    let exp = payload["exp"].as_i64().unwrap_or(0);
    if exp <= now() {
        return Err(ierror(
            "TokenExpired",
            "Access token has expired, resubmit with a new access token".into(),
            "403",
        ));
    }
    Ok(payload)
}

/// What a query against a dataset with this token returns (Q&A, or a report created from a dataset token):
/// the rows its identity may see, or the service's error. Unknown roles fail here as in a report load.
pub fn query(app: &Shared, token: &str, dataset_id: &str) -> Value {
    let payload = match verified(app, token) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let st = app.state.lock().unwrap().clone();
    let Some(ds) = st.dataset(dataset_id) else {
        return ierror(
            "PowerBIEntityNotFound",
            format!("Dataset {dataset_id} was not found"),
            "404",
        );
    };
    let granted = payload["datasets"].as_array().is_some_and(|a| {
        a.iter().any(|d| {
            d["id"]
                .as_str()
                .is_some_and(|x| x.eq_ignore_ascii_case(&ds.id))
        })
    }) || payload["createForDataset"]
        .as_str()
        .is_some_and(|d| d.eq_ignore_ascii_case(&ds.id));
    if !granted {
        return ierror(
            "QueryUserError",
            format!("The embed token doesn't grant access to dataset {}", ds.id),
            "403",
        );
    }
    let identities: Vec<&Value> = payload["identities"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    match query_dataset(ds, &identities, default_user(&payload)) {
        Ok((columns, rows, username, _, roles, rls_applied)) => json!({
            "ok": true, "dataset": ds.id, "columns": columns, "rowCount": rows.len(),
            "username": username, "roles": roles, "rlsApplied": rls_applied,
        }),
        Err(e) => e,
    }
}

/// Checks an embed token for a report and renders the rows its identity may see.
pub fn render(app: &Shared, token: &str, report_id: &str, group_id: Option<&str>) -> Value {
    let payload = match verified(app, token) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let st = app.state.lock().unwrap().clone();
    let Some(report) = st.report(report_id) else {
        return ierror(
            "PowerBIEntityNotFound",
            format!("Report {report_id} was not found"),
            "404",
        );
    };
    if group_id.is_some_and(|g| !g.is_empty() && !g.eq_ignore_ascii_case(&report.workspace_id)) {
        return ierror(
            "PowerBIEntityNotFound",
            format!(
                "Report {report_id} was not found in workspace {}",
                group_id.unwrap_or("")
            ),
            "404",
        );
    }
    let in_token = payload["reports"].as_array().is_some_and(|a| {
        a.iter().any(|r| {
            r["id"]
                .as_str()
                .is_some_and(|id| id.eq_ignore_ascii_case(&report.id))
        })
    });
    if !in_token {
        return ierror(
            "LoadReportFailed",
            format!(
                "The embed token doesn't grant access to report {}",
                report.id
            ),
            "403",
        );
    }
    let default_user = default_user(&payload);
    let identities: Vec<&Value> = payload["identities"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let (columns, rows, username, custom_data, roles, rls_applied) =
        if report.report_type == ReportType::PaginatedReport {
            let ident = identities
                .iter()
                .find(|i| contains(i, "reports", &report.id));
            let username = ident
                .and_then(|i| i["username"].as_str())
                .unwrap_or(&default_user)
                .to_string();
            let ctx = rls::Ctx {
                username: username.clone(),
                custom_data: String::new(),
            };
            let filter = report.filter.as_deref().and_then(|f| rls::parse(f).ok());
            let rows: Vec<&Map<String, Value>> = report
                .rows
                .iter()
                .filter(|r| filter.as_ref().is_none_or(|f| rls::eval(f, r, &ctx)))
                .collect();
            (
                columns_of(&report.rows),
                rows.into_iter().cloned().collect::<Vec<_>>(),
                username,
                String::new(),
                Vec::new(),
                filter.is_some(),
            )
        } else {
            let Some(ds) = report.dataset_id.as_deref().and_then(|d| st.dataset(d)) else {
                return ierror(
                    "LoadReportFailed",
                    format!("The dataset of report {} was not found", report.id),
                    "404",
                );
            };
            match query_dataset(ds, &identities, default_user) {
                Ok(q) => q,
                Err(e) => return e,
            }
        };
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            columns
                .iter()
                .map(|c| match r.get(c) {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(v) => v.to_string(),
                })
                .collect()
        })
        .collect();
    let pages: Vec<Value> = if report.pages.is_empty() {
        vec![
            json!({"name": "ReportSection", "displayName": "Page 1", "isActive": true, "visibility": 0}),
        ]
    } else {
        report.pages.iter().enumerate().map(|(i, p)| json!({"name": p.name, "displayName": p.display_name, "isActive": i == 0, "visibility": 0})).collect()
    };
    let edit = payload["reports"]
        .as_array()
        .and_then(|a| {
            a.iter().find(|r| {
                r["id"]
                    .as_str()
                    .is_some_and(|id| id.eq_ignore_ascii_case(&report.id))
            })
        })
        .map(|r| r["allowEdit"].as_bool().unwrap_or(false))
        .unwrap_or(false);
    json!({
        "ok": true,
        "report": {"id": report.id, "name": report.name, "reportType": report.report_type},
        "pages": pages, "username": username, "customData": custom_data, "roles": roles, "rlsApplied": rls_applied,
        "columns": columns, "rows": table, "expiresInMs": (payload["exp"].as_i64().unwrap_or(0) - now()) * 1000, "tokenId": payload["tokenId"],
        "allowEdit": edit,
    })
}

fn columns_of(rows: &[Map<String, Value>]) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    for r in rows {
        for k in r.keys() {
            if !cols.contains(k) {
                cols.push(k.clone());
            }
        }
    }
    cols
}

/// `POST /__embed/load` {"token", "reportId", "groupId"}: what the iframe page calls.
pub async fn load(State(app): State<Shared>, body: Bytes) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let token = v["token"].as_str().unwrap_or("");
    let report = v["reportId"].as_str().unwrap_or("");
    let out = render(&app, token, report, v["groupId"].as_str());
    axum::Json(out).into_response()
}

pub async fn page() -> Response {
    ([(header::CACHE_CONTROL, "no-store")], Html(PAGE)).into_response()
}

const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Power BI Embedded (emulated)</title>
<style>
 body{font-family:Segoe UI,Arial,sans-serif;margin:12px;color:#252423;background:#fff}
 h1{font-size:18px;margin:0 0 4px} .meta{font-size:12px;color:#605e5c;margin-bottom:8px}
 table{border-collapse:collapse;font-size:13px} th,td{border:1px solid #c8c6c4;padding:4px 8px;text-align:left}
 th{background:#f3f2f1} #emu-status{font-size:12px;margin:6px 0;padding:4px 6px;background:#f3f2f1;display:inline-block}
 #emu-status.error{background:#fde7e9;color:#a4262c}
</style></head>
<body>
<h1 id="emu-title">Waiting for /report/load</h1>
<div class="meta">USERNAME(): <span id="emu-username"></span> · CUSTOMDATA(): <span id="emu-customdata"></span> · roles: <span id="emu-roles"></span> · token <span id="emu-tokenid"></span></div>
<div id="emu-status">waiting</div>
<div id="emu-body"></div>
<script>
(function () {
  var params = new URLSearchParams(location.search);
  var reportId = params.get('reportId');
  var groupId = params.get('groupId');
  var uid = params.get('uid');
  var state = { loaded: false, pages: [], timer: null, token: null };
  function rnd() { return Math.random().toString(36).slice(2); }
  function send(msg) { window.parent.postMessage(msg, '*'); }
  function reply(req, statusCode, body) { send({ statusCode: statusCode, headers: { id: req.headers && req.headers.id }, body: body }); }
  function fire(name, body) { send({ method: 'POST', url: '/reports/' + uid + '/events/' + name, headers: { id: rnd() }, body: body === undefined ? null : body }); }
  function text(id, v) { document.getElementById(id).textContent = v; }
  function status(s, isError) { var e = document.getElementById('emu-status'); e.textContent = s; e.className = isError ? 'error' : ''; }
  function verify(token) {
    return fetch('/__embed/load', { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: token, reportId: reportId, groupId: groupId }) })
      .then(function (r) { return r.json(); })
      .catch(function (e) { return { ok: false, error: { message: 'LoadReportFailed', detailedMessage: String(e), errorCode: '500', level: 6 } }; });
  }
  function render(d) {
    text('emu-title', d.report.name);
    text('emu-username', d.username); text('emu-customdata', d.customData); text('emu-roles', d.roles.join(', '));
    text('emu-tokenid', d.tokenId);
    var t = document.createElement('table'); t.id = 'emu-rows';
    var h = t.insertRow(); d.columns.forEach(function (c) { var th = document.createElement('th'); th.textContent = c; h.appendChild(th); });
    d.rows.forEach(function (r) { var tr = t.insertRow(); tr.className = 'emu-row'; r.forEach(function (v) { tr.insertCell().textContent = v; }); });
    var b = document.getElementById('emu-body'); b.innerHTML = ''; b.appendChild(t);
    state.pages = d.pages;
  }
  function arm(ms) {
    clearTimeout(state.timer);
    state.timer = setTimeout(function () {
      document.getElementById('emu-body').innerHTML = '';
      status('TokenExpired', true);
      fire('error', { message: 'TokenExpired', detailedMessage: 'Access token has expired, resubmit with a new access token', errorCode: '403', level: 6 });
    }, Math.max(0, ms));
  }
  function fail(err) {
    clearTimeout(state.timer);
    document.getElementById('emu-body').innerHTML = '';
    status(err.message + ': ' + err.detailedMessage, true);
    fire('error', err);
  }
  window.addEventListener('message', function (ev) {
    var m = ev.data;
    if (!m || typeof m !== 'object' || typeof m.method !== 'string' || typeof m.url !== 'string') return;
    if (m.headers && m.headers.uid) uid = m.headers.uid;
    if (m.method === 'POST' && (m.url === '/report/load' || m.url === '/report/prepare')) {
      reply(m, 202, {});
      var cfg = m.body || {};
      if (cfg.tokenType === 0) { fail({ message: 'LoadReportFailed', detailedMessage: 'The emulator accepts only embed tokens (tokenType Embed)', errorCode: '400', level: 6 }); return; }
      if (cfg.id) reportId = cfg.id;
      verify(cfg.accessToken).then(function (d) {
        if (!d.ok) { fail(d.error); return; }
        state.loaded = true; state.token = cfg.accessToken;
        render(d); status('rendered');
        fire('loaded'); fire('rendered'); arm(d.expiresInMs);
      });
    } else if (m.method === 'POST' && m.url === '/report/render') {
      reply(m, 202, {});
    } else if (m.method === 'GET' && m.url === '/report/pages') {
      if (!state.loaded) reply(m, 400, { message: 'ReportNotLoaded', detailedMessage: 'The report is not loaded', errorCode: '400', level: 3 });
      else reply(m, 200, state.pages);
    } else if (m.method === 'POST' && m.url === '/report/token') {
      var token = typeof m.body === 'string' ? m.body : (m.body && m.body.accessToken);
      verify(token).then(function (d) {
        if (!d.ok) { reply(m, 400, d.error); return; }
        reply(m, 202, {});
        state.token = token; render(d); status('rendered'); arm(d.expiresInMs);
        fire('rendered');
      });
    } else {
      reply(m, 404, { message: 'NotSupported', detailedMessage: m.method + ' ' + m.url + ' is not supported by the emulator', errorCode: '404', level: 3 });
    }
  });
})();
</script>
</body></html>
"#;
