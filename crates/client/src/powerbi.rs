//! Power BI REST calls (`{base}/v1.0/myorg/...`): one builder per call, one reader per answer.
//!
//! Every call is made as somebody ([`As`]): the service principal itself, or one of its profiles, which
//! adds `X-PowerBI-Profile-Id` (*Migrate multi-customer applications to the service principal profiles model*: "Use the X-PowerBI-Profile-Id header in the REST API request").
//! The readers drop OData annotations and turn a body that is not the documented shape into
//! [`Failure::BadBody`].

use embedgate_core::powerbi::{
    EmbedToken, GenerateTokenRequestV2, Group, GroupUser, GroupUserAccessRight,
    ServicePrincipalProfile,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::encode::path_segment;
use crate::failure::{Failure, Stage, UpstreamError};
use crate::{Method, Request};

/// Power BI's REST root, `https://api.powerbi.com` (no trailing slash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    pub base: String,
}

/// Whose eyes a call is made through.
#[derive(Clone, Copy)]
pub struct As<'a> {
    /// The Entra access token.
    pub token: &'a str,
    /// A service principal profile's id, or `None` for the service principal (or master user) itself.
    pub profile: Option<&'a str>,
}

/// How an import treats an item of the same name (swagger `ImportConflictHandlerMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NameConflict {
    Ignore,
    Abort,
    Overwrite,
    CreateOrOverwrite,
    GenerateUniqueName,
}

fn group(ws: &str) -> String {
    format!("/v1.0/myorg/groups/{}", path_segment(ws))
}

fn json_body(v: &impl Serialize) -> Vec<u8> {
    // Serialising these plain structs and maps cannot fail.
    serde_json::to_vec(v).unwrap_or_default()
}

impl Api {
    fn call(
        &self,
        name: &'static str,
        method: Method,
        path: &str,
        who: As<'_>,
        body: Option<Vec<u8>>,
    ) -> Request {
        let mut headers = vec![
            ("authorization", format!("Bearer {}", who.token)),
            ("accept", "application/json".to_string()),
        ];
        if let Some(p) = who.profile {
            headers.push(("x-powerbi-profile-id", p.to_string()));
        }
        if body.is_some() {
            headers.push(("content-type", "application/json".to_string()));
        }
        Request {
            name,
            method,
            url: format!("{}{path}", self.base),
            headers,
            body,
        }
    }

    // Workspaces.

    /// `GET groups`, optionally with an OData `$filter` (`name eq 'Contoso'`).
    pub fn get_groups(&self, who: As<'_>, filter: Option<&str>) -> Request {
        let path = match filter {
            Some(f) => format!("/v1.0/myorg/groups?$filter={}", path_segment(f)),
            None => "/v1.0/myorg/groups".to_string(),
        };
        self.call("powerbi.getGroups", Method::Get, &path, who, None)
    }
    pub fn get_group(&self, who: As<'_>, ws: &str) -> Request {
        self.call("powerbi.getGroup", Method::Get, &group(ws), who, None)
    }
    /// `POST groups?workspaceV2=True`: a new workspace; made as a profile, the profile is its Admin.
    pub fn create_group(&self, who: As<'_>, name: &str) -> Request {
        let body = json_body(&json!({ "name": name }));
        self.call(
            "powerbi.createGroup",
            Method::Post,
            "/v1.0/myorg/groups?workspaceV2=True",
            who,
            Some(body),
        )
    }
    pub fn delete_group(&self, who: As<'_>, ws: &str) -> Request {
        self.call("powerbi.deleteGroup", Method::Delete, &group(ws), who, None)
    }

    // Workspace members.

    pub fn get_group_users(&self, who: As<'_>, ws: &str) -> Request {
        let path = format!("{}/users", group(ws));
        self.call("powerbi.getGroupUsers", Method::Get, &path, who, None)
    }
    /// `POST groups/{id}/users`: grants a user, a service principal or one of its profiles.
    pub fn add_group_user(&self, who: As<'_>, ws: &str, user: &GroupUser) -> Request {
        let path = format!("{}/users", group(ws));
        self.call(
            "powerbi.addGroupUser",
            Method::Post,
            &path,
            who,
            Some(json_body(user)),
        )
    }
    /// The swagger's `GroupUserAccessRight` member for a profile: `{identifier: SP object id,
    /// principalType: App, profile: {id}}`.
    pub fn profile_member(
        sp_object_id: &str,
        profile_id: &str,
        right: GroupUserAccessRight,
    ) -> GroupUser {
        GroupUser {
            group_user_access_right: right,
            identifier: Some(sp_object_id.to_string()),
            email_address: None,
            principal_type: Some(embedgate_core::powerbi::PrincipalType::App),
            profile: Some(ServicePrincipalProfile {
                id: profile_id.to_string(),
                display_name: None,
            }),
        }
    }
    /// `DELETE groups/{id}/users/{user}` (`user` is an email or object id; `profileId` for a profile).
    pub fn delete_group_user(
        &self,
        who: As<'_>,
        ws: &str,
        user: &str,
        profile_id: Option<&str>,
    ) -> Request {
        let mut path = format!("{}/users/{}", group(ws), path_segment(user));
        if let Some(p) = profile_id {
            path.push_str("?profileId=");
            path.push_str(&path_segment(p));
        }
        self.call("powerbi.deleteGroupUser", Method::Delete, &path, who, None)
    }

    // Items.

    pub fn get_reports(&self, who: As<'_>, ws: &str) -> Request {
        let path = format!("{}/reports", group(ws));
        self.call("powerbi.getReports", Method::Get, &path, who, None)
    }
    pub fn get_report(&self, who: As<'_>, ws: &str, id: &str) -> Request {
        let path = format!("{}/reports/{}", group(ws), path_segment(id));
        self.call("powerbi.getReport", Method::Get, &path, who, None)
    }
    pub fn get_datasets(&self, who: As<'_>, ws: &str) -> Request {
        let path = format!("{}/datasets", group(ws));
        self.call("powerbi.getDatasets", Method::Get, &path, who, None)
    }
    pub fn get_dataset(&self, who: As<'_>, ws: &str, id: &str) -> Request {
        let path = format!("{}/datasets/{}", group(ws), path_segment(id));
        self.call("powerbi.getDataset", Method::Get, &path, who, None)
    }
    pub fn get_datasources(&self, who: As<'_>, ws: &str, dataset: &str) -> Request {
        let path = format!(
            "{}/datasets/{}/datasources",
            group(ws),
            path_segment(dataset)
        );
        self.call("powerbi.getDatasources", Method::Get, &path, who, None)
    }

    // Embed tokens.

    /// `POST GenerateToken` (V2: reports, datasets, target workspaces, identities).
    pub fn generate_token(&self, who: As<'_>, body: &GenerateTokenRequestV2) -> Request {
        self.call(
            "powerbi.generateToken",
            Method::Post,
            "/v1.0/myorg/GenerateToken",
            who,
            Some(json_body(body)),
        )
    }

    // Service principal profiles (always as the service principal: a profile cannot manage profiles).

    pub fn get_profiles(&self, token: &str) -> Request {
        let who = As {
            token,
            profile: None,
        };
        self.call(
            "powerbi.getProfiles",
            Method::Get,
            "/v1.0/myorg/profiles",
            who,
            None,
        )
    }
    pub fn create_profile(&self, token: &str, display_name: &str) -> Request {
        let who = As {
            token,
            profile: None,
        };
        let body = json_body(&json!({ "displayName": display_name }));
        self.call(
            "powerbi.createProfile",
            Method::Post,
            "/v1.0/myorg/profiles",
            who,
            Some(body),
        )
    }
    pub fn update_profile(&self, token: &str, id: &str, display_name: &str) -> Request {
        let who = As {
            token,
            profile: None,
        };
        let path = format!("/v1.0/myorg/profiles/{}", path_segment(id));
        let body = json_body(&json!({ "displayName": display_name }));
        self.call("powerbi.updateProfile", Method::Put, &path, who, Some(body))
    }
    pub fn delete_profile(&self, token: &str, id: &str) -> Request {
        let who = As {
            token,
            profile: None,
        };
        let path = format!("/v1.0/myorg/profiles/{}", path_segment(id));
        self.call("powerbi.deleteProfile", Method::Delete, &path, who, None)
    }

    // Imports.

    /// `POST groups/{id}/imports?datasetDisplayName=...&nameConflict=...` with the file as
    /// `multipart/form-data`. `boundary` must not occur in the file (the driver passes a random one).
    pub fn post_import(
        &self,
        who: As<'_>,
        ws: &str,
        display_name: &str,
        conflict: NameConflict,
        file: &[u8],
        boundary: &str,
    ) -> Request {
        let conflict = match conflict {
            NameConflict::Ignore => "Ignore",
            NameConflict::Abort => "Abort",
            NameConflict::Overwrite => "Overwrite",
            NameConflict::CreateOrOverwrite => "CreateOrOverwrite",
            NameConflict::GenerateUniqueName => "GenerateUniqueName",
        };
        let path = format!(
            "{}/imports?datasetDisplayName={}&nameConflict={conflict}",
            group(ws),
            path_segment(display_name)
        );
        let mut body = Vec::with_capacity(file.len() + 200);
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                display_name.replace(['"', '\r', '\n'], "_")
            )
            .as_bytes(),
        );
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let mut r = self.call("powerbi.postImport", Method::Post, &path, who, Some(body));
        for h in r.headers.iter_mut() {
            if h.0 == "content-type" {
                h.1 = format!("multipart/form-data; boundary={boundary}");
            }
        }
        r
    }
    pub fn get_import(&self, who: As<'_>, ws: &str, id: &str) -> Request {
        let path = format!("{}/imports/{}", group(ws), path_segment(id));
        self.call("powerbi.getImport", Method::Get, &path, who, None)
    }
    pub fn get_imports(&self, who: As<'_>, ws: &str) -> Request {
        let path = format!("{}/imports", group(ws));
        self.call("powerbi.getImports", Method::Get, &path, who, None)
    }
}

// Answers.

/// A JSON object without its `@odata.*` annotations.
pub fn read_object(body: &str) -> Result<Map<String, Value>, Failure> {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(mut o)) => {
            o.retain(|k, _| !k.starts_with("@odata"));
            Ok(o)
        }
        _ => Err(Failure::BadBody),
    }
}

/// The items of an OData collection (`{"value": [...]}`), each read as `T`.
pub fn read_list<T: DeserializeOwned>(body: &str) -> Result<Vec<T>, Failure> {
    let o = read_object(body)?;
    match o.get("value") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| serde_json::from_value(v.clone()).map_err(|_| Failure::BadBody))
            .collect(),
        _ => Err(Failure::BadBody),
    }
}

/// One object read as `T`.
pub fn read<T: DeserializeOwned>(body: &str) -> Result<T, Failure> {
    serde_json::from_value(Value::Object(read_object(body)?)).map_err(|_| Failure::BadBody)
}

/// One workspace. Create Group's schema says the answer is the `Group`, while Microsoft's own examples of it
/// show `{"value": [Group]}`: both are read (a list of exactly one workspace is that workspace).
pub fn read_group(body: &str) -> Result<Group, Failure> {
    let o = read_object(body)?;
    if !o.contains_key("id") {
        if let Some(Value::Array(list)) = o.get("value") {
            if let [one] = list.as_slice() {
                return serde_json::from_value(one.clone()).map_err(|_| Failure::BadBody);
            }
        }
    }
    serde_json::from_value(Value::Object(o)).map_err(|_| Failure::BadBody)
}
pub fn read_groups(body: &str) -> Result<Vec<Group>, Failure> {
    read_list(body)
}
pub fn read_group_users(body: &str) -> Result<Vec<GroupUser>, Failure> {
    read_list(body)
}
pub fn read_profile(body: &str) -> Result<ServicePrincipalProfile, Failure> {
    read(body)
}
pub fn read_profiles(body: &str) -> Result<Vec<ServicePrincipalProfile>, Failure> {
    read_list(body)
}

/// GenerateToken's answer.
pub fn read_embed_token(body: &str) -> Result<EmbedToken, UpstreamError> {
    serde_json::from_str::<EmbedToken>(body)
        .ok()
        .filter(|t| !t.token.is_empty() && !t.token_id.is_empty() && !t.expiration.is_empty())
        .ok_or_else(|| {
            UpstreamError::new(
                502,
                "upstream_bad_response",
                "Power BI answered GenerateToken with something that is not an embed token.",
            )
        })
}

/// An item an import made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportedItem {
    pub id: String,
    #[serde(default)]
    pub name: String,
}

/// `Import` of the swagger: `importState` is `Publishing`, `Succeeded` or `Failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Import {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub import_state: String,
    #[serde(default)]
    pub reports: Vec<ImportedItem>,
    #[serde(default)]
    pub datasets: Vec<ImportedItem>,
}

impl Import {
    pub fn done(&self) -> bool {
        self.import_state == "Succeeded"
    }
    pub fn failed(&self) -> bool {
        self.import_state == "Failed"
    }
}

pub fn read_import(body: &str) -> Result<Import, Failure> {
    read(body)
}
pub fn read_imports(body: &str) -> Result<Vec<Import>, Failure> {
    read_list(body)
}

// The metadata the token service reads about an item, as Power BI JSON (the core's scenario reads
// Power BI's own GET answers).

/// `GET group` joined with `GET group users` (`users`; absent when that call failed: access unknown).
pub fn workspace_with_users(group: &str, users: Option<&str>) -> Result<Value, Failure> {
    let mut g = read_object(group)?;
    if let Some(list) = users
        .and_then(|u| read_object(u).ok())
        .and_then(|mut u| u.remove("value"))
        .filter(Value::is_array)
    {
        g.insert("users".into(), list);
    }
    Ok(Value::Object(g))
}

/// `GET dataset` joined with `GET datasources` (`datasources`).
pub fn dataset_with_sources(dataset: &str, sources: &str) -> Result<Value, Failure> {
    let mut d = read_object(dataset)?;
    if let Some(list) = read_object(sources)?
        .remove("value")
        .filter(Value::is_array)
    {
        d.insert("datasources".into(), list);
    }
    Ok(Value::Object(d))
}

/// What a `GET report` answer points at: its dataset id (if any) and that dataset's workspace
/// (`datasetWorkspaceId`, else the report's own), lower-cased.
pub fn report_dataset(report: &Map<String, Value>, report_ws: &str) -> Option<(String, String)> {
    let id = report
        .get("datasetId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())?;
    let ws = report
        .get("datasetWorkspaceId")
        .and_then(Value::as_str)
        .unwrap_or(report_ws)
        .to_ascii_lowercase();
    Some((id.to_string(), ws))
}

/// Maps a failed metadata read (the answer was 2xx but not the schema) to its answer.
pub fn bad_metadata() -> UpstreamError {
    crate::map_failure(Stage::Metadata, &Failure::BadBody)
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedgate_core::powerbi::GroupUserAccessRight as R;

    fn api() -> Api {
        Api {
            base: "https://api.powerbi.com".into(),
        }
    }
    const SP: As = As {
        token: "tok",
        profile: None,
    };
    const PROFILE: As = As {
        token: "tok",
        profile: Some("c0c0c0c0-0000-4000-8000-000000000001"),
    };

    #[test]
    fn calls_as_a_profile_carry_the_header_and_bearer() {
        let r = api().get_report(PROFILE, "ws-1", "r/1");
        assert_eq!(r.method, Method::Get);
        assert_eq!(
            r.url,
            "https://api.powerbi.com/v1.0/myorg/groups/ws-1/reports/r%2F1"
        );
        assert_eq!(r.header("Authorization"), Some("Bearer tok"));
        assert_eq!(
            r.header("X-PowerBI-Profile-Id"),
            Some("c0c0c0c0-0000-4000-8000-000000000001")
        );
        assert_eq!(r.header("content-type"), None);
        let r = api().get_group(SP, "ws");
        assert_eq!(r.header("x-powerbi-profile-id"), None);
        assert!(!format!("{r:?}").contains("tok"), "Debug hides the token");
    }

    #[test]
    fn every_call_has_its_documented_method_and_path() {
        let a = api();
        let u = Api::profile_member("sp", "p", R::Admin);
        let cases = [
            (a.get_groups(SP, None), "GET", "/v1.0/myorg/groups"),
            (
                a.get_groups(SP, Some("name eq 'A'")),
                "GET",
                "/v1.0/myorg/groups?$filter=name%20eq%20%27A%27",
            ),
            (
                a.create_group(PROFILE, "A"),
                "POST",
                "/v1.0/myorg/groups?workspaceV2=True",
            ),
            (a.delete_group(SP, "g"), "DELETE", "/v1.0/myorg/groups/g"),
            (
                a.get_group_users(SP, "g"),
                "GET",
                "/v1.0/myorg/groups/g/users",
            ),
            (
                a.add_group_user(SP, "g", &u),
                "POST",
                "/v1.0/myorg/groups/g/users",
            ),
            (
                a.delete_group_user(SP, "g", "sp", Some("p")),
                "DELETE",
                "/v1.0/myorg/groups/g/users/sp?profileId=p",
            ),
            (
                a.delete_group_user(SP, "g", "a@b.example", None),
                "DELETE",
                "/v1.0/myorg/groups/g/users/a%40b.example",
            ),
            (
                a.get_reports(SP, "g"),
                "GET",
                "/v1.0/myorg/groups/g/reports",
            ),
            (
                a.get_datasets(SP, "g"),
                "GET",
                "/v1.0/myorg/groups/g/datasets",
            ),
            (
                a.get_dataset(SP, "g", "d"),
                "GET",
                "/v1.0/myorg/groups/g/datasets/d",
            ),
            (
                a.get_datasources(SP, "g", "d"),
                "GET",
                "/v1.0/myorg/groups/g/datasets/d/datasources",
            ),
            (a.get_profiles("t"), "GET", "/v1.0/myorg/profiles"),
            (a.create_profile("t", "A"), "POST", "/v1.0/myorg/profiles"),
            (
                a.update_profile("t", "p", "B"),
                "PUT",
                "/v1.0/myorg/profiles/p",
            ),
            (
                a.delete_profile("t", "p"),
                "DELETE",
                "/v1.0/myorg/profiles/p",
            ),
            (
                a.get_import(SP, "g", "i"),
                "GET",
                "/v1.0/myorg/groups/g/imports/i",
            ),
            (
                a.get_imports(SP, "g"),
                "GET",
                "/v1.0/myorg/groups/g/imports",
            ),
        ];
        for (r, m, p) in cases {
            assert_eq!(
                (r.method.as_str(), r.url.as_str()),
                (m, format!("https://api.powerbi.com{p}").as_str()),
                "{}",
                r.name
            );
        }
        let body: Value =
            serde_json::from_slice(a.add_group_user(SP, "g", &u).body.as_ref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"groupUserAccessRight": "Admin", "identifier": "sp", "principalType": "App", "profile": {"id": "p"}})
        );
        let body: Value =
            serde_json::from_slice(a.create_profile("t", "Contoso").body.as_ref().unwrap())
                .unwrap();
        assert_eq!(body, json!({"displayName": "Contoso"}));
    }

    #[test]
    fn import_is_multipart_with_the_file() {
        let r = api().post_import(
            PROFILE,
            "g",
            "Sales.pbix",
            NameConflict::Abort,
            b"{\"x\":1}",
            "XYZ",
        );
        assert_eq!(
            r.url,
            "https://api.powerbi.com/v1.0/myorg/groups/g/imports?datasetDisplayName=Sales.pbix&nameConflict=Abort"
        );
        assert_eq!(
            r.header("content-type"),
            Some("multipart/form-data; boundary=XYZ")
        );
        let body = String::from_utf8(r.body.unwrap()).unwrap();
        assert!(body.starts_with(
            "--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"Sales.pbix\""
        ));
        assert!(body.ends_with("\r\n\r\n{\"x\":1}\r\n--XYZ--\r\n"));
    }

    #[test]
    fn answers_are_read_or_bad_body() {
        let g =
            read_group(r#"{"@odata.context":"x","id":"g","name":"A","type":"Workspace"}"#).unwrap();
        assert_eq!(g.id, "g");
        assert_eq!(read_group("[1]"), Err(Failure::BadBody));
        assert_eq!(read_group(r#"{"name":"no id"}"#), Err(Failure::BadBody));
        let users = read_group_users(r#"{"value":[{"groupUserAccessRight":"Admin","identifier":"sp","principalType":"App","profile":{"id":"p"}}]}"#).unwrap();
        assert_eq!(users[0].profile.as_ref().unwrap().id, "p");
        assert_eq!(read_profiles(r#"{"value":{}}"#), Err(Failure::BadBody));
        let i = read_import(r#"{"id":"i","importState":"Succeeded","reports":[{"id":"r","name":"S"}],"datasets":[]}"#).unwrap();
        assert!(i.done() && !i.failed());
        assert_eq!(i.reports[0].id, "r");
        let t = read_embed_token(r#"{"token":"EGE1.x.y","tokenId":"id","expiration":"2030-01-01T00:00:00Z","@odata.context":"x"}"#).unwrap();
        assert_eq!(t.token_id, "id");
        assert_eq!(
            read_embed_token("{\"value\": [ <<not json>>")
                .unwrap_err()
                .code,
            "upstream_bad_response"
        );
        assert_eq!(read_embed_token(r#"{"token":""}"#).unwrap_err().status, 502);
    }

    #[test]
    fn metadata_joins() {
        let w = workspace_with_users(
            r#"{"@odata.context":"x","id":"g"}"#,
            Some(r#"{"value":[{"groupUserAccessRight":"Admin"}]}"#),
        )
        .unwrap();
        assert_eq!(
            w,
            json!({"id": "g", "users": [{"groupUserAccessRight": "Admin"}]})
        );
        assert_eq!(
            workspace_with_users(r#"{"id":"g"}"#, None).unwrap(),
            json!({"id": "g"})
        );
        assert_eq!(
            workspace_with_users(r#"{"id":"g"}"#, Some("oops")).unwrap(),
            json!({"id": "g"})
        );
        let d = dataset_with_sources(r#"{"id":"d"}"#, r#"{"value":[{"datasourceType":"Sql"}]}"#)
            .unwrap();
        assert_eq!(d["datasources"][0]["datasourceType"], "Sql");
        assert_eq!(
            dataset_with_sources(r#"{"id":"d"}"#, "<html>"),
            Err(Failure::BadBody)
        );
        let r = read_object(r#"{"id":"r","datasetId":"d","datasetWorkspaceId":"WS2"}"#).unwrap();
        assert_eq!(report_dataset(&r, "ws1"), Some(("d".into(), "ws2".into())));
        let r = read_object(r#"{"id":"r","datasetId":"d"}"#).unwrap();
        assert_eq!(report_dataset(&r, "WS1"), Some(("d".into(), "ws1".into())));
        let r = read_object(r#"{"id":"r","datasetId":""}"#).unwrap();
        assert_eq!(report_dataset(&r, "ws1"), None);
    }
}
