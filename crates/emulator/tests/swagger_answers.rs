//! The emulator's answers against Microsoft's swagger (`shared/reference/powerbi-rest-swagger.json`, beside the
//! repository): for every operation the client calls, the emulator answers with a success status the operation
//! documents and a body its response schema accepts: the types, required fields and enum spellings of every
//! field the schema defines (`@odata.context` as the swagger's `odata.context`), and no field name the swagger
//! does not document somewhere (its definitions predate some fields its own examples show). The check is
//! `embedgate_client::swagger`.

mod common;

use common::*;
use embedgate_client::swagger;
use serde_json::{json, Value};

fn swagger_doc() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/reference/powerbi-rest-swagger.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .unwrap()
}

struct Check<'a> {
    sw: &'a Value,
    names: std::collections::BTreeSet<String>,
    operations: Vec<String>,
    problems: Vec<String>,
}

impl Check<'_> {
    /// `path` below `/v1.0/myorg`.
    fn answer(&mut self, method: &str, path: &str, r: &Resp) {
        let full = format!("/v1.0/myorg{}", path.split('?').next().unwrap());
        let Some((template, op)) = swagger::operation(self.sw, &method.to_lowercase(), &full)
        else {
            self.problems
                .push(format!("{method} {full}: no operation in the swagger"));
            return;
        };
        self.operations.push(format!("{method} {template}"));
        if !op["responses"][r.status.to_string()].is_object() {
            self.problems.push(format!(
                "{method} {template}: status {} is not one the operation documents ({})",
                r.status, r.text
            ));
            return;
        }
        if let Some(schema) = swagger::response_schema(op, r.status) {
            if let Err(e) = swagger::validate(
                self.sw,
                schema,
                &r.json,
                "",
                swagger::Fields::Known(&self.names),
            ) {
                self.problems
                    .push(format!("{method} {template}: {e}\n  {}", r.text));
            }
        }
    }
}

fn multipart(boundary: &str, content: &str) -> Vec<u8> {
    format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"sales.pbix\"\r\nContent-Type: application/octet-stream\r\n\r\n{content}\r\n--{boundary}--\r\n").into_bytes()
}

#[test]
fn every_answer_the_client_reads_is_one_the_swagger_schema_accepts() {
    let sw = swagger_doc();
    let emu = Emu::demo();
    let sp = emu.sp_token();
    let me = Some(P_CONTOSO);
    let mut names = swagger::vocabulary(&sw);
    // Learn's Report definition documents `isFromPbix`, which this swagger predates.
    names.insert("isFromPbix".into());
    let mut c = Check {
        sw: &sw,
        names,
        operations: Vec::new(),
        problems: Vec::new(),
    };
    let call =
        |c: &mut Check, method: &str, path: &str, profile: Option<&str>, body: Option<Value>| {
            let r = emu.pbi(method, path, &sp, profile, body);
            c.answer(method, path, &r);
            r
        };
    // Profiles (as the service principal itself).
    call(&mut c, "GET", "/profiles", None, None);
    let made = call(
        &mut c,
        "POST",
        "/profiles",
        None,
        Some(json!({"displayName": "Swagger check"})),
    );
    let pid = made.json["id"].as_str().unwrap_or_default().to_string();
    call(
        &mut c,
        "PUT",
        &format!("/profiles/{pid}"),
        None,
        Some(json!({"displayName": "Swagger check 2"})),
    );
    // Workspaces and their users, items and data sources (as Contoso's profile).
    call(&mut c, "GET", "/groups", me, None);
    call(
        &mut c,
        "GET",
        "/groups?$filter=name%20eq%20'Contoso%20Analytics'",
        me,
        None,
    );
    call(&mut c, "GET", &format!("/groups/{W_CONTOSO}"), me, None);
    let ws = call(
        &mut c,
        "POST",
        "/groups",
        me,
        Some(json!({"name": "Swagger check"})),
    );
    let new_ws = ws.json["id"].as_str().unwrap_or_default().to_string();
    call(
        &mut c,
        "GET",
        &format!("/groups/{W_CONTOSO}/users"),
        me,
        None,
    );
    call(
        &mut c,
        "POST",
        &format!("/groups/{new_ws}/users"),
        me,
        Some(
            json!({"identifier": VIEWER, "principalType": "User", "groupUserAccessRight": "Viewer"}),
        ),
    );
    call(
        &mut c,
        "GET",
        &format!("/groups/{W_CONTOSO}/reports"),
        me,
        None,
    );
    call(
        &mut c,
        "GET",
        &format!("/groups/{W_CONTOSO}/reports/{R_CONTOSO}"),
        me,
        None,
    );
    call(
        &mut c,
        "GET",
        &format!("/groups/{W_CONTOSO}/datasets"),
        me,
        None,
    );
    call(
        &mut c,
        "GET",
        &format!("/groups/{W_CONTOSO}/datasets/{D_CONTOSO}"),
        me,
        None,
    );
    call(
        &mut c,
        "GET",
        &format!("/groups/{W_CONTOSO}/datasets/{D_CONTOSO}/datasources"),
        me,
        None,
    );
    // The embed token.
    call(
        &mut c,
        "POST",
        "/GenerateToken",
        me,
        Some(
            json!({"datasets": [{"id": D_CONTOSO}], "reports": [{"id": R_CONTOSO}],
                    "identities": [{"username": "Contoso", "roles": ["Customer"], "datasets": [D_CONTOSO]}]}),
        ),
    );
    // Imports: the upload, its status, the list.
    let pbix = json!({"format": "embedgate-pbix/1", "report": {"pages": []},
        "dataset": {"kind": "Import", "columns": ["Customer"], "rows": [{"Customer": "Contoso"}]}})
    .to_string();
    let auth = format!("Bearer {sp}");
    let path = format!("/groups/{new_ws}/imports?datasetDisplayName=Sales&nameConflict=Abort");
    let r = emu.request(
        "POST",
        &format!("/v1.0/myorg{path}"),
        &[
            ("Authorization", auth.as_str()),
            ("X-PowerBI-Profile-Id", P_CONTOSO),
        ],
        Body::Raw(
            "multipart/form-data; boundary=xYzZY".into(),
            multipart("xYzZY", &pbix),
        ),
    );
    c.answer("POST", &path, &r);
    let import = r.json["id"].as_str().unwrap_or_default().to_string();
    call(
        &mut c,
        "GET",
        &format!("/groups/{new_ws}/imports/{import}"),
        me,
        None,
    );
    call(
        &mut c,
        "GET",
        &format!("/groups/{new_ws}/imports"),
        me,
        None,
    );
    // Removals.
    call(&mut c, "DELETE", &format!("/groups/{new_ws}"), me, None);
    call(&mut c, "DELETE", &format!("/profiles/{pid}"), None, None);

    assert!(c.problems.is_empty(), "{}", c.problems.join("\n"));
    let mut ops = c.operations.clone();
    ops.sort();
    ops.dedup();
    println!(
        "swagger answers: {} calls, {} operations, every answer accepted",
        c.operations.len(),
        ops.len()
    );
}
