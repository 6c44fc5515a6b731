//! Typed structs from a JSON tree ([`J`]) without serde's `Deserialize`: the scenario, the request
//! bodies and fixes are read by the small converters below, so the browser module carries neither
//! serde's per-type visitors nor serde_json's text deserializer (about a third of its size before).
//!
//! The converters keep serde's observable behaviour, which the tests check against the serde route
//! kept in `serde_oracle.rs`: the same values, the same messages ("invalid type: integer
//! `1`, expected a string", "missing field `caller`", "unknown variant ..."), the same first error
//! with its path, and unknown fields in the same order. serde over a `Value` meets object members
//! in sorted key order with the last duplicate winning; the converters read the text order first
//! (no sorting on the happy path) and redo the read in serde's order only when something fails or
//! a key repeats.
//!
//! Two deliberate differences: serde accepts an array for a struct (fields by position); Power BI
//! does not, and neither do these converters ("invalid type: sequence, expected struct Caller").
//! And the scenario's `request` is not kept as a `Value` (see `Parsed::scenario`).

use std::borrow::Cow;

use serde_json::Value;

use super::{clean_message, pointer_of, Seg, ShapeError, UnknownField};
use crate::diag::{Fix, Location, PatchKind, PatchOp, Verdict};
use crate::json::{Num, J};
use crate::powerbi::*;
use crate::scenario::*;

/// Why a read stopped: a shape error (final in serde's order), or "read again in serde's order".
pub enum Fail {
    Shape(ShapeError),
    Redo,
}

pub type Res<T> = Result<T, Fail>;

type Member<'t> = (Cow<'t, str>, J<'t>);

/// A type read from a [`J`] tree.
pub trait FromJson: Sized {
    fn from_json<'t>(r: &mut Reader<'t>, v: &'t J<'t>) -> Res<Self>;
}

/// The state of one read: where it is, in which order, and the unknown fields met so far.
pub struct Reader<'t> {
    location: Location,
    /// serde's order: members sorted by key, the last duplicate winning.
    sorted: bool,
    path: Vec<Seg<'t>>,
    unknown: Vec<(Vec<Seg<'t>>, UnknownField)>,
}

/// Reads `v` as a `T`: unknown fields go to `unknown` when it succeeds; the first error in serde's
/// order when it does not.
pub fn read<T: FromJson>(
    v: &J,
    location: Location,
    unknown: &mut Vec<UnknownField>,
) -> Result<T, ShapeError> {
    let mut r = Reader::new(location, false);
    let res = match T::from_json(&mut r, v) {
        Ok(t) => Ok(t),
        Err(_) => {
            r = Reader::new(location, true);
            T::from_json(&mut r, v)
        }
    };
    match res {
        Ok(t) => {
            let mut found = r.unknown;
            // Text order lists a repeated unknown key once per time it is written; the last one
            // counts (as in a `Value`): reversed, then a stable sort puts it first of its run.
            found.reverse();
            crate::sort::sort_by(&mut found, |a, b| a.0 < b.0);
            found.dedup_by(|a, b| a.0 == b.0);
            unknown.extend(found.into_iter().map(|(_, u)| u));
            Ok(t)
        }
        Err(Fail::Shape(e)) => Err(e),
        // The sorted read never asks for another read.
        Err(Fail::Redo) => Err(ShapeError {
            location,
            pointer: String::new(),
            message: "unreadable".into(),
        }),
    }
}

impl<'t> Reader<'t> {
    fn new(location: Location, sorted: bool) -> Self {
        Reader {
            location,
            sorted,
            path: Vec::new(),
            unknown: Vec::new(),
        }
    }

    /// A shape error here (cold: messages are formatted only for errors).
    #[cold]
    pub(crate) fn fail(&self, message: String) -> Fail {
        if !self.sorted {
            return Fail::Redo;
        }
        Fail::Shape(ShapeError {
            location: self.location,
            pointer: pointer_of(&self.path),
            message: clean_message(&message),
        })
    }

    #[cold]
    pub(crate) fn invalid_type(&self, v: &J, expected: &str) -> Fail {
        if !self.sorted {
            return Fail::Redo;
        }
        self.fail(format!(
            "invalid type: {}, expected {expected}",
            unexpected(v)
        ))
    }

    #[cold]
    fn missing(&self, field: &str) -> Fail {
        if !self.sorted {
            return Fail::Redo;
        }
        self.fail(format!("missing field `{field}`"))
    }

    /// Reads a member or an element, with its path segment.
    pub(crate) fn at<T: FromJson>(&mut self, seg: Seg<'t>, v: &'t J<'t>) -> Res<T> {
        self.path.push(seg);
        let res = T::from_json(self, v);
        self.path.pop();
        res
    }

    /// An object's members in this read's order. In text order a repeated key is caught by the
    /// reader of its type (a field met twice); an unknown one is only listed (its value unread).
    pub(crate) fn object(&self, v: &'t J<'t>, expected: &str) -> Res<Members<'t>> {
        match v {
            J::Obj(m) if self.sorted => Ok(Members::Sorted(sorted_members(m).into_iter())),
            J::Obj(m) => Ok(Members::Text(m.iter())),
            _ => Err(self.invalid_type(v, expected)),
        }
    }

    /// A struct's members: `set` reads those its type defines (false: not one of them, so it is
    /// listed as unknown). One loop for every struct type.
    #[allow(clippy::type_complexity)]
    pub(crate) fn fields(
        &mut self,
        v: &'t J<'t>,
        expected: &str,
        known: &'static [&'static str],
        set: &mut dyn FnMut(&mut Reader<'t>, &'t str, &'t J<'t>) -> Res<bool>,
    ) -> Res<()> {
        for (k, x) in self.object(v, expected)? {
            self.path.push(Seg::Key(k));
            let res = set(self, k, x);
            self.path.pop();
            if !res? {
                self.other(k, x, known);
            }
        }
        Ok(())
    }

    /// A field met a second time: only serde's order says which one counts.
    #[cold]
    pub(crate) fn repeated(&self) -> Fail {
        Fail::Redo
    }

    /// A member its type does not define (some known names are service fields it ignores).
    pub(crate) fn other(&mut self, key: &'t str, value: &J, known: &'static [&'static str]) {
        if !known.contains(&key) {
            self.unknown_field(key, value, known);
        }
    }

    #[cold]
    fn unknown_field(&mut self, key: &'t str, value: &J, known: &'static [&'static str]) {
        let mut segs = self.path.clone();
        segs.push(Seg::Key(key));
        self.unknown.push((
            segs.clone(),
            UnknownField {
                location: self.location,
                pointer: pointer_of(&segs),
                key: key.to_string(),
                known,
                text: match value {
                    J::Str(s) => Some(String::from(&**s)),
                    _ => None,
                },
            },
        ));
    }

    /// A required field's value, or serde's "missing field".
    pub(crate) fn required<T>(&self, value: Option<T>, field: &str) -> Res<T> {
        match value {
            Some(v) => Ok(v),
            None => Err(self.missing(field)),
        }
    }

    /// The index of a unit variant: a name (`"App"`), or a map with one name and `null`.
    fn variant(&mut self, v: &'t J<'t>, names: &'static [&'static str]) -> Res<usize> {
        let (name, value) = match v {
            J::Str(s) => (&**s, None),
            J::Obj(m) => {
                let members = sorted_members(m);
                if members.len() != 1 {
                    return Err(
                        self.fail("invalid value: map, expected map with a single key".into())
                    );
                }
                let (k, x) = members[0];
                (&**k, Some(x))
            }
            _ => return Err(self.invalid_type(v, "string or map")),
        };
        let Some(i) = names.iter().position(|n| *n == name) else {
            return Err(self.unknown_variant(name, names));
        };
        match value {
            Some(x) if *x != J::Null => Err(self.invalid_type(x, "unit")),
            _ => Ok(i),
        }
    }

    #[cold]
    fn unknown_variant(&self, name: &str, names: &[&str]) -> Fail {
        let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        let expected = match quoted.as_slice() {
            [a] => a.clone(),
            [a, b] => format!("{a} or {b}"),
            all => format!("one of {}", all.join(", ")),
        };
        self.fail(format!("unknown variant `{name}`, expected {expected}"))
    }
}

/// Members in serde's order: sorted by key, the last of equal keys kept (as `Value` keeps it).
fn sorted_members<'t>(m: &'t [Member<'t>]) -> Vec<&'t Member<'t>> {
    let mut order: Vec<&Member> = m.iter().collect();
    // Stable: the last of equal keys is the one written last.
    crate::sort::sort_by(&mut order, |a, b| a.0 < b.0);
    let mut kept: Vec<&Member> = Vec::with_capacity(order.len());
    for x in order {
        match kept.last_mut() {
            Some(last) if last.0 == x.0 => *last = x,
            _ => kept.push(x),
        }
    }
    kept
}

/// An object's members, in text order or in serde's.
#[derive(Clone)]
pub enum Members<'t> {
    Text(std::slice::Iter<'t, Member<'t>>),
    Sorted(std::vec::IntoIter<&'t Member<'t>>),
}

impl<'t> Iterator for Members<'t> {
    type Item = (&'t str, &'t J<'t>);
    fn next(&mut self) -> Option<Self::Item> {
        let (k, v) = match self {
            Members::Text(i) => i.next()?,
            Members::Sorted(i) => i.next()?,
        };
        Some((&**k, v))
    }
}

/// What serde_json calls a value in its messages.
fn unexpected(v: &J) -> String {
    match v {
        J::Null => "null".into(),
        J::Bool(b) => format!("boolean `{b}`"),
        J::Num(Num::Pos(n)) => format!("integer `{n}`"),
        J::Num(Num::Neg(n)) => format!("integer `{n}`"),
        J::Num(Num::Float(f)) => format!("floating point `{}`", float_text(*f)),
        J::Str(s) => format!("string {:?}", &**s),
        J::Arr(_) => "sequence".into(),
        J::Obj(_) => "map".into(),
    }
}

/// A float as serde_json writes it (shortest round-trip form; no std float formatting needed).
fn float_text(f: f64) -> String {
    serde_json::Number::from_f64(f).map_or_else(|| "NaN".into(), |n| n.to_string())
}

impl FromJson for String {
    fn from_json<'t>(r: &mut Reader<'t>, v: &'t J<'t>) -> Res<Self> {
        match v {
            J::Str(s) => Ok(String::from(&**s)),
            _ => Err(r.invalid_type(v, "a string")),
        }
    }
}

impl FromJson for bool {
    fn from_json<'t>(r: &mut Reader<'t>, v: &'t J<'t>) -> Res<Self> {
        match v {
            J::Bool(b) => Ok(*b),
            _ => Err(r.invalid_type(v, "a boolean")),
        }
    }
}

impl FromJson for i64 {
    fn from_json<'t>(r: &mut Reader<'t>, v: &'t J<'t>) -> Res<Self> {
        match v {
            J::Num(Num::Neg(n)) => Ok(*n),
            J::Num(Num::Pos(n)) => i64::try_from(*n)
                .map_err(|_| r.fail(format!("invalid value: integer `{n}`, expected i64"))),
            _ => Err(r.invalid_type(v, "i64")),
        }
    }
}

impl<T: FromJson> FromJson for Option<T> {
    fn from_json<'t>(r: &mut Reader<'t>, v: &'t J<'t>) -> Res<Self> {
        match v {
            J::Null => Ok(None),
            _ => T::from_json(r, v).map(Some),
        }
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json<'t>(r: &mut Reader<'t>, v: &'t J<'t>) -> Res<Self> {
        let J::Arr(a) = v else {
            return Err(r.invalid_type(v, "a sequence"));
        };
        let mut out = Vec::with_capacity(a.len());
        for (i, x) in a.iter().enumerate() {
            out.push(r.at(Seg::Index(i), x)?);
        }
        Ok(out)
    }
}

impl FromJson for Value {
    fn from_json<'t>(_: &mut Reader<'t>, v: &'t J<'t>) -> Res<Self> {
        Ok(v.to_value())
    }
}

/// A member read for its presence only (the scenario's `request`: typed as the body instead).
pub struct Skipped;

impl FromJson for Skipped {
    fn from_json<'t>(_: &mut Reader<'t>, _: &'t J<'t>) -> Res<Self> {
        Ok(Skipped)
    }
}

/// Unit enums, by their JSON names.
macro_rules! unit_enums {
    ($($t:ident [$($name:literal => $var:ident),* $(,)?])*) => {$(
        impl FromJson for $t {
            fn from_json<'t>(r: &mut Reader<'t>, v: &'t J<'t>) -> Res<Self> {
                Ok([$($t::$var),*][r.variant(v, &[$($name),*])?])
            }
        }
    )*};
}

unit_enums! {
    PrincipalType ["User" => User, "App" => App, "Group" => Group, "None" => None]
    GroupUserAccessRight ["None" => None, "Viewer" => Viewer, "Contributor" => Contributor,
        "Member" => Member, "Admin" => Admin]
    WorkspaceType ["Workspace" => Workspace, "Group" => Group, "PersonalGroup" => PersonalGroup]
    ReportType ["PowerBIReport" => PowerBIReport, "PaginatedReport" => PaginatedReport]
    TokenAccessLevel ["View" => View, "Edit" => Edit, "Create" => Create]
    XmlaPermissions ["Off" => Off, "ReadOnly" => ReadOnly]
    ModelKind ["Import" => Import, "DirectQuery" => DirectQuery,
        "DirectQueryAzureSqlSso" => DirectQueryAzureSqlSso,
        "AzureAnalysisServicesLive" => AzureAnalysisServicesLive,
        "SqlServerAnalysisServicesLive" => SqlServerAnalysisServicesLive, "DirectLake" => DirectLake]
    Verdict ["valid" => Valid, "warning" => Warning, "invalid" => Invalid]
    PatchKind ["add" => Add, "remove" => Remove, "replace" => Replace, "move" => Move]
}

/// How a missing member is filled: `req`uired (serde's "missing field"), `opt` (an `Option`,
/// `None`), or `def` (`Default`); `skip`: any value, not kept (`null`).
macro_rules! fill {
    (req, $r:ident, $v:ident, $key:literal) => {
        $r.required($v, $key)?
    };
    (opt, $r:ident, $v:ident, $key:literal) => {
        $v.flatten()
    };
    (def, $r:ident, $v:ident, $key:literal) => {
        $v.unwrap_or_default()
    };
    (skip, $r:ident, $v:ident, $key:literal) => {{
        let _: Option<Skipped> = $v;
        Value::Null
    }};
}

/// Structs: each field with its JSON name and how it is filled when missing, in declaration
/// order (serde reports the first missing field in that order). The member loop is
/// [`Reader::fields`], compiled once; each struct adds only its field match.
macro_rules! structs {
    ($($t:ident { $($f:ident: $key:literal $kind:ident),* $(,)? })*) => {$(
        impl FromJson for $t {
            fn from_json<'t>(r: &mut Reader<'t>, v: &'t J<'t>) -> Res<Self> {
                $(let mut $f = None;)*
                r.fields(v, concat!("struct ", stringify!($t)), $t::FIELDS, &mut |r, k, x| {
                    match k {
                        $($key => {
                            if $f.is_some() {
                                return Err(r.repeated());
                            }
                            $f = Some(FromJson::from_json(r, x)?);
                        })*
                        _ => return Ok(false),
                    }
                    Ok(true)
                })?;
                Ok($t { $($f: fill!($kind, r, $f, $key)),* })
            }
        }
    )*};
}

structs! {
    Scenario {
        schema: "$schema" opt, description: "description" opt, expect: "expect" opt,
        caller: "caller" req, endpoint: "endpoint" req, workspaces: "workspaces" def,
        datasets: "datasets" def, reports: "reports" def, dashboards: "dashboards" def,
        request: "request" skip,
    }
    Expectation { verdict: "verdict" req, codes: "codes" def }
    Caller {
        principal_type: "principalType" req, upn: "upn" opt, object_id: "objectId" opt,
        profile: "profile" opt,
    }
    ServicePrincipalProfile { id: "id" req, display_name: "displayName" opt }
    Workspace {
        id: "id" req, name: "name" opt, workspace_type: "type" opt,
        caller_access: "callerAccess" opt, users: "users" opt,
    }
    GroupUser {
        group_user_access_right: "groupUserAccessRight" req, identifier: "identifier" opt,
        email_address: "emailAddress" opt, principal_type: "principalType" opt,
        profile: "profile" opt,
    }
    Dataset {
        id: "id" req, name: "name" opt, workspace_id: "workspaceId" opt, model: "model" opt,
        roles: "roles" opt, is_effective_identity_required: "isEffectiveIdentityRequired" opt,
        is_effective_identity_roles_required: "isEffectiveIdentityRolesRequired" opt,
        datasources: "datasources" opt, gateway: "gateway" opt,
    }
    GatewayAccess {
        caller_is_admin: "callerIsAdmin" opt,
        caller_has_read_override_effective_identity: "callerHasReadOverrideEffectiveIdentity" opt,
    }
    Datasource {
        datasource_type: "datasourceType" opt, connection_details: "connectionDetails" opt,
        gateway_id: "gatewayId" opt, datasource_id: "datasourceId" opt,
    }
    DatasourceConnectionDetails { server: "server" opt, database: "database" opt, url: "url" opt }
    Report {
        id: "id" req, name: "name" opt, workspace_id: "workspaceId" opt,
        dataset_id: "datasetId" opt, dataset_workspace_id: "datasetWorkspaceId" opt,
        report_type: "reportType" def, embed_url: "embedUrl" opt,
    }
    Dashboard {
        id: "id" req, display_name: "displayName" opt, workspace_id: "workspaceId" opt,
        tiles: "tiles" def,
    }
    Tile { id: "id" req, dataset_id: "datasetId" opt, report_id: "reportId" opt }
    GenerateTokenRequest {
        access_level: "accessLevel" opt, dataset_id: "datasetId" opt,
        allow_save_as: "allowSaveAs" opt, identities: "identities" opt,
        lifetime_in_minutes: "lifetimeInMinutes" opt,
    }
    GenerateTokenRequestV2 {
        datasets: "datasets" opt, reports: "reports" opt, target_workspaces: "targetWorkspaces" opt,
        identities: "identities" opt, lifetime_in_minutes: "lifetimeInMinutes" opt,
        datasource_identities: "datasourceIdentities" opt,
    }
    GenerateTokenRequestV2Dataset { id: "id" req, xmla_permissions: "xmlaPermissions" opt }
    GenerateTokenRequestV2Report { id: "id" req, allow_edit: "allowEdit" opt }
    GenerateTokenRequestV2TargetWorkspace { id: "id" req }
    EffectiveIdentity {
        username: "username" opt, roles: "roles" opt, datasets: "datasets" opt,
        custom_data: "customData" opt, identity_blob: "identityBlob" opt, reports: "reports" opt,
        auditable_context: "auditableContext" opt,
    }
    IdentityBlob { value: "value" req }
    DatasourceIdentity { identity_blob: "identityBlob" req, datasources: "datasources" req }
    DatasourceSelector {
        datasource_type: "datasourceType" opt, connection_details: "connectionDetails" opt,
    }
    Fix { title: "title" req, patch: "patch" req }
    PatchOp { op: "op" req, path: "path" req, value: "value" opt, from: "from" opt }
}

/// `Endpoint` is internally tagged by `kind`. serde reads the tag first (its errors point at
/// `/endpoint/kind`), then the variant's fields from a buffered copy whose errors carry no
/// deeper path than `/endpoint`.
impl FromJson for Endpoint {
    fn from_json<'t>(r: &mut Reader<'t>, v: &'t J<'t>) -> Res<Self> {
        const VARIANTS: &[&str] = &[
            "GenerateTokenV2",
            "Report",
            "CreateReport",
            "Dataset",
            "Dashboard",
            "Tile",
        ];
        // Each variant's fields, as indexes into `Endpoint::FIELDS`.
        const USES: [&[usize]; 6] = [&[], &[1, 2], &[1], &[1, 3], &[1, 4], &[1, 4, 5]];
        let members: Vec<(&str, &J)> = r.object(v, "internally tagged enum Endpoint")?.collect();
        let mut kind = None;
        for &(k, x) in &members {
            if k == "kind" {
                if kind.is_some() {
                    return Err(r.repeated());
                }
                kind = Some((k, x));
            } else if !r.sorted && members.iter().filter(|(j, _)| *j == k).count() > 1 {
                return Err(r.repeated());
            }
            r.other(k, x, Endpoint::FIELDS);
        }
        let Some((kind_key, tag)) = kind else {
            return Err(r.missing("kind"));
        };
        r.path.push(Seg::Key(kind_key));
        let variant = match tag {
            J::Str(s) => VARIANTS
                .iter()
                .position(|n| *n == &**s)
                .ok_or_else(|| r.unknown_variant(s, VARIANTS)),
            _ => Err(r.invalid_type(tag, "variant identifier")),
        };
        r.path.pop();
        let variant = variant?;
        let mut ids: [Option<String>; 6] = Default::default();
        for &(k, x) in &members {
            if let Some(i) = USES[variant]
                .iter()
                .copied()
                .find(|&i| Endpoint::FIELDS[i] == k)
            {
                ids[i] = Some(String::from_json(r, x)?);
            }
        }
        let mut take = |i: usize| r.required(ids[i].take(), Endpoint::FIELDS[i]);
        Ok(match variant {
            0 => Endpoint::GenerateTokenV2,
            1 => Endpoint::Report {
                group_id: take(1)?,
                report_id: take(2)?,
            },
            2 => Endpoint::CreateReport { group_id: take(1)? },
            3 => Endpoint::Dataset {
                group_id: take(1)?,
                dataset_id: take(3)?,
            },
            4 => Endpoint::Dashboard {
                group_id: take(1)?,
                dashboard_id: take(4)?,
            },
            _ => Endpoint::Tile {
                group_id: take(1)?,
                dashboard_id: take(4)?,
                tile_id: take(5)?,
            },
        })
    }
}
