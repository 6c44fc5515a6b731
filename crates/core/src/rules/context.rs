//! The rule context: the scenario indexed and resolved once (ids to metadata, datasets to their
//! model kind and RLS type, items to workspaces and access rights), so every check is a cheap
//! lookup and the happy path allocates nothing per rule.

use std::ops::{Deref, Range};

use super::index::{key, IdIndex};
use crate::capabilities::{dataset_rls, RlsType};
use crate::diag::Location;
use crate::parse::{Body, Parsed};
use crate::powerbi::{
    EffectiveIdentity, GenerateTokenRequest, GenerateTokenRequestV2, GroupUserAccessRight,
};
use crate::scenario::{Dashboard, Dataset, Endpoint, ModelKind, Report, Scenario, Workspace};

/// Where the request or scenario names an item, formatted only when a finding needs it (the
/// happy path allocates no pointer strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ptr {
    ReportId(usize),
    DatasetId(usize),
    TargetWorkspaceId(usize),
    Fixed(&'static str),
}

impl std::fmt::Display for Ptr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ptr::ReportId(i) => write!(f, "/reports/{i}/id"),
            Ptr::DatasetId(i) => write!(f, "/datasets/{i}/id"),
            Ptr::TargetWorkspaceId(i) => write!(f, "/targetWorkspaces/{i}/id"),
            Ptr::Fixed(s) => f.write_str(s),
        }
    }
}

impl From<Ptr> for String {
    fn from(p: Ptr) -> String {
        p.to_string()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Report,
    PaginatedReport,
    CreateReport,
    /// Q&A over a dataset (V1 dataset endpoint).
    Dataset,
    Dashboard,
    Tile,
}

/// The dataset ids an item reads: none or one for all but dashboards, so no vector for those.
#[derive(Debug, Clone)]
pub enum Ids<'a> {
    One(Option<&'a str>),
    Many(Vec<&'a str>),
}

impl<'a> Deref for Ids<'a> {
    type Target = [&'a str];
    fn deref(&self) -> &[&'a str] {
        match self {
            Ids::One(id) => id.as_slice(),
            Ids::Many(v) => v,
        }
    }
}

/// A dataset the scenario describes, with the facts rules ask about, derived once.
#[derive(Debug, Clone, Copy)]
pub struct Described<'a> {
    pub meta: &'a Dataset,
    pub kind: ModelKind,
    pub rls: RlsType,
}

/// An item the token embeds, with the workspace it lives in and the datasets it reads.
#[derive(Debug, Clone)]
pub struct Item<'a> {
    pub kind: ItemKind,
    pub id: &'a str,
    /// The report's metadata, for report items the scenario describes.
    pub report: Option<&'a Report>,
    pub workspace_id: Option<&'a str>,
    /// Index of `workspace_id` in the scenario's workspaces, when described.
    pub workspace: Option<usize>,
    pub dataset_ids: Ids<'a>,
    pub location: Location,
    pub pointer: Ptr,
}

/// A dataset the token covers, and where the request names it.
#[derive(Debug, Clone)]
pub struct EmbeddedDataset<'a> {
    pub id: &'a str,
    pub described: Option<Described<'a>>,
    pub workspace_id: Option<&'a str>,
    pub workspace: Option<usize>,
    pub location: Location,
    pub pointer: Ptr,
    /// This dataset's range in `Ctx::identity_of`.
    identities: Range<usize>,
}

/// An item or dataset the token touches, and the workspace it lives in.
#[derive(Debug, Clone, Copy)]
pub struct Touched<'a> {
    pub what: &'static str,
    pub id: &'a str,
    pub workspace_id: Option<&'a str>,
    /// Index of `workspace_id` in the scenario's workspaces, when described.
    pub workspace: Option<usize>,
    pub location: Location,
    pub pointer: Ptr,
}

/// The first thing the token touches in a described workspace: workspace findings are reported
/// once per workspace, at this place.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub what: &'static str,
    pub id: &'a str,
    pub workspace: usize,
    pub location: Location,
    pub pointer: Ptr,
}

/// An identity's dataset reference, resolved.
#[derive(Debug, Clone, Copy)]
struct IdentityDataset {
    /// Index in the scenario's datasets.
    described: Option<usize>,
    /// Index in `Ctx::datasets`.
    embedded: Option<usize>,
}

pub struct Ctx<'a> {
    pub scenario: &'a Scenario,
    pub parsed: &'a Parsed,
    pub v1: Option<&'a GenerateTokenRequest>,
    pub v2: Option<&'a GenerateTokenRequestV2>,
    pub identities: &'a [EffectiveIdentity],
    pub items: Vec<Item<'a>>,
    pub datasets: Vec<EmbeddedDataset<'a>>,
    /// One place per described workspace the token touches, items first, in request order.
    pub places: Vec<Place<'a>>,
    /// Parallel to the scenario's datasets.
    described: Vec<Described<'a>>,
    /// Parallel to the scenario's workspaces: the caller's access right in each.
    access: Vec<Option<GroupUserAccessRight>>,
    dataset_ix: IdIndex<'a>,
    report_ix: IdIndex<'a>,
    workspace_ix: IdIndex<'a>,
    /// The embedded datasets' ids and their position in `datasets`.
    embedded_ix: IdIndex<'a>,
    /// Every identity's datasets, resolved, identity after identity (`identity_start` delimits).
    identity_datasets: Vec<IdentityDataset>,
    identity_start: Vec<usize>,
    /// For each embedded dataset (its `identities` range), the identities naming it.
    identity_of: Vec<(usize, usize)>,
}

/// An identity's reference to a dataset (`identities[identity].datasets[index]`), resolved.
#[derive(Debug, Clone, Copy)]
pub struct IdentityDatasetRef<'a> {
    pub identity: usize,
    pub index: usize,
    pub id: &'a str,
    pub described: Option<Described<'a>>,
    /// The token embeds this dataset.
    pub embedded: bool,
}

fn describe(meta: &Dataset) -> Described<'_> {
    Described {
        meta,
        kind: meta.model_kind().0,
        rls: dataset_rls(meta),
    }
}

impl<'a> Ctx<'a> {
    pub fn new(scenario: &'a Scenario, parsed: &'a Parsed) -> Self {
        let (v1, v2) = match &parsed.body {
            Body::V1(b) => (Some(b), None),
            Body::V2(b) => (None, Some(b)),
            Body::Unusable => (None, None),
        };
        let identities = v1
            .and_then(|b| b.identities.as_deref())
            .or_else(|| v2.and_then(|b| b.identities.as_deref()))
            .unwrap_or(&[]);
        let request_items = v2.map_or(1, |b| {
            let n = |l: Option<usize>| l.unwrap_or(0);
            n(b.reports.as_ref().map(Vec::len)) + n(b.datasets.as_ref().map(Vec::len))
        });
        let mut ctx = Ctx {
            scenario,
            parsed,
            v1,
            v2,
            identities,
            items: Vec::with_capacity(request_items),
            datasets: Vec::with_capacity(request_items),
            places: Vec::new(),
            described: scenario.datasets.iter().map(describe).collect(),
            access: scenario
                .workspaces
                .iter()
                .map(|w| w.access_of(&scenario.caller))
                .collect(),
            dataset_ix: IdIndex::new(scenario.datasets.iter().map(|d| d.id.as_str())),
            report_ix: IdIndex::new(scenario.reports.iter().map(|r| r.id.as_str())),
            workspace_ix: IdIndex::new(scenario.workspaces.iter().map(|w| w.id.as_str())),
            identity_datasets: Vec::new(),
            identity_start: Vec::new(),
            embedded_ix: IdIndex::with_capacity(request_items),
            identity_of: Vec::new(),
        };
        ctx.index();
        ctx.resolve_identities();
        ctx.place();
        ctx
    }

    pub fn usable_body(&self) -> bool {
        self.v1.is_some() || self.v2.is_some()
    }

    pub fn workspace(&self, id: &str) -> Option<&'a Workspace> {
        self.workspace_index(id)
            .map(|i| &self.scenario.workspaces[i])
    }
    /// The index of a workspace in the scenario, by id.
    pub fn workspace_index(&self, id: &str) -> Option<usize> {
        self.workspace_ix.get(id)
    }
    /// A workspace by its index in the scenario (as `Item::workspace` and `Place` hold it).
    pub fn workspace_at(&self, index: usize) -> &'a Workspace {
        &self.scenario.workspaces[index]
    }
    /// The caller's access right in the workspace at `index`; `None` when the scenario does not say.
    pub fn access(&self, index: usize) -> Option<GroupUserAccessRight> {
        self.access[index]
    }
    pub fn dataset(&self, id: &str) -> Option<Described<'a>> {
        self.dataset_ix.get(id).map(|i| self.described[i])
    }
    pub fn report(&self, id: &str) -> Option<&'a Report> {
        self.report_ix.get(id).map(|i| &self.scenario.reports[i])
    }
    pub fn dashboard(&self, id: &str) -> Option<&'a Dashboard> {
        self.scenario
            .dashboards
            .iter()
            .find(|d| d.id.eq_ignore_ascii_case(id))
    }
    pub fn embedded_dataset(&self, id: &str) -> Option<&EmbeddedDataset<'a>> {
        self.embedded_ix.get(id).map(|i| &self.datasets[i])
    }

    /// The datasets identity `i` names, resolved.
    pub fn identity_datasets(
        &self,
        i: usize,
    ) -> impl Iterator<Item = IdentityDatasetRef<'a>> + Clone + '_ {
        let resolved = &self.identity_datasets[self.identity_start[i]..self.identity_start[i + 1]];
        self.identities[i]
            .datasets
            .iter()
            .flatten()
            .zip(resolved)
            .enumerate()
            .map(move |(j, (id, r))| IdentityDatasetRef {
                identity: i,
                index: j,
                id,
                described: r.described.map(|k| self.described[k]),
                embedded: r.embedded.is_some(),
            })
    }
    /// Every dataset every identity names, identity by identity.
    pub fn every_identity_dataset(
        &self,
    ) -> impl Iterator<Item = IdentityDatasetRef<'a>> + Clone + '_ {
        (0..self.identities.len()).flat_map(move |i| self.identity_datasets(i))
    }
    /// The first dataset identity `i` names whose (described) model kind satisfies `pred`.
    pub fn identity_dataset_where(
        &self,
        i: usize,
        pred: impl Fn(ModelKind) -> bool,
    ) -> Option<&'a str> {
        self.identity_datasets(i)
            .find(|d| d.described.is_some_and(|m| pred(m.kind)))
            .map(|d| d.id)
    }
    /// The identities (with their index) that name an embedded dataset.
    pub fn identities_for(
        &self,
        dataset: &EmbeddedDataset<'a>,
    ) -> impl Iterator<Item = (usize, &'a EffectiveIdentity)> + '_ {
        let identities = self.identities;
        self.identity_of[dataset.identities.clone()]
            .iter()
            .map(move |&(_, i)| (i, &identities[i]))
    }

    /// Everything the token touches, items first, then datasets, with the workspace each lives in.
    pub fn touched(&self) -> impl Iterator<Item = Touched<'a>> + '_ {
        let items = self.items.iter().map(|i| Touched {
            what: "item",
            id: i.id,
            workspace_id: i.workspace_id,
            workspace: i.workspace,
            location: i.location,
            pointer: i.pointer,
        });
        items.chain(self.datasets.iter().map(|d| Touched {
            what: "dataset",
            id: d.id,
            workspace_id: d.workspace_id,
            workspace: d.workspace,
            location: d.location,
            pointer: d.pointer,
        }))
    }

    /// The single workspace of the scenario, used when an item does not say where it lives.
    fn sole_workspace(&self) -> Option<&'a str> {
        match self.scenario.workspaces.as_slice() {
            [w] => Some(w.id.as_str()),
            _ => None,
        }
    }

    /// Adds an item, resolving its workspace.
    fn push_item(&mut self, item: Item<'a>) {
        let workspace = item.workspace_id.and_then(|w| self.workspace_ix.get(w));
        self.items.push(Item { workspace, ..item });
    }

    fn add_dataset(
        &mut self,
        id: &'a str,
        location: Location,
        pointer: Ptr,
        ws_hint: Option<&'a str>,
    ) {
        let k = key(id);
        if !self.embedded_ix.insert_new(id, k, self.datasets.len()) {
            return;
        }
        let described = self.dataset_ix.get_keyed(id, k).map(|i| self.described[i]);
        let workspace_id = described
            .and_then(|m| m.meta.workspace_id.as_deref())
            .or(ws_hint)
            .or_else(|| self.scenario.endpoint.group_id())
            .or_else(|| self.sole_workspace());
        self.datasets.push(EmbeddedDataset {
            id,
            described,
            workspace_id,
            workspace: workspace_id.and_then(|w| self.workspace_ix.get(w)),
            location,
            pointer,
            identities: 0..0,
        });
    }

    /// Resolves every identity's datasets once, and which identities name each embedded dataset.
    fn resolve_identities(&mut self) {
        let names = self
            .identities
            .iter()
            .map(|id| id.datasets.as_ref().map_or(0, Vec::len))
            .sum();
        let mut resolved = Vec::with_capacity(names);
        let mut start = Vec::with_capacity(self.identities.len() + 1);
        let mut naming: Vec<(usize, usize)> = Vec::with_capacity(names);
        for (i, id) in self.identities.iter().enumerate() {
            start.push(resolved.len());
            for d in id.datasets.iter().flatten() {
                let k = key(d);
                let embedded = self.embedded_ix.get_keyed(d, k);
                if let Some(slot) = embedded {
                    naming.push((slot, i));
                }
                resolved.push(IdentityDataset {
                    described: self.dataset_ix.get_keyed(d, k),
                    embedded,
                });
            }
        }
        start.push(resolved.len());
        crate::sort::sort_by(&mut naming, |a, b| a < b);
        naming.dedup();
        let mut at = 0;
        for (slot, d) in self.datasets.iter_mut().enumerate() {
            let begin = at;
            while naming.get(at).is_some_and(|n| n.0 == slot) {
                at += 1;
            }
            d.identities = begin..at;
        }
        self.identity_datasets = resolved;
        self.identity_start = start;
        self.identity_of = naming;
    }

    /// The first place the token touches in each described workspace.
    fn place(&mut self) {
        let mut places: Vec<Place<'a>> = Vec::new();
        for t in self.touched() {
            let Some(workspace) = t.workspace else {
                continue;
            };
            if places.iter().all(|p| p.workspace != workspace) {
                places.push(Place {
                    what: t.what,
                    id: t.id,
                    workspace,
                    location: t.location,
                    pointer: t.pointer,
                });
            }
        }
        self.places = places;
    }

    /// The items the token embeds and the datasets it covers, per endpoint.
    fn index(&mut self) {
        let s = self.scenario;
        let group = s.endpoint.group_id();
        match &s.endpoint {
            Endpoint::GenerateTokenV2 => {
                let Some(b) = self.v2 else { return };
                for (i, r) in b.reports.iter().flatten().enumerate() {
                    let meta = self.report(&r.id);
                    let kind = report_kind(meta);
                    let workspace_id = meta
                        .and_then(|m| m.workspace_id.as_deref())
                        .or_else(|| self.sole_workspace());
                    let dataset = meta.and_then(|m| m.dataset_id.as_deref());
                    let ids = Ids::One(dataset);
                    let ptr = Ptr::ReportId(i);
                    self.push_item(Item {
                        kind,
                        id: &r.id,
                        report: meta,
                        workspace_id,
                        dataset_ids: ids,
                        location: Location::Request,
                        pointer: ptr,
                        workspace: None,
                    });
                }
                for (i, d) in b.datasets.iter().flatten().enumerate() {
                    self.add_dataset(&d.id, Location::Request, Ptr::DatasetId(i), None);
                }
                // A Power BI report also reads its own dataset; paginated reports carry identity via `reports`.
                for i in 0..self.items.len() {
                    let item = &self.items[i];
                    if item.kind != ItemKind::Report {
                        continue;
                    }
                    let (ptr, id) = (item.pointer, item.dataset_ids.first().copied());
                    let ws = item.report.and_then(|m| m.dataset_workspace_id.as_deref());
                    if let Some(id) = id {
                        self.add_dataset(id, Location::Request, ptr, ws);
                    }
                }
            }
            Endpoint::Report { report_id, .. } => {
                let meta = self.report(report_id);
                let kind = report_kind(meta);
                let dataset = meta.and_then(|m| m.dataset_id.as_deref());
                let workspace_id = meta.and_then(|m| m.workspace_id.as_deref()).or(group);
                let ptr = Ptr::Fixed("/endpoint/reportId");
                let ids = Ids::One(dataset);
                self.push_item(Item {
                    kind,
                    id: report_id,
                    report: meta,
                    workspace_id,
                    dataset_ids: ids,
                    location: Location::Scenario,
                    pointer: ptr,
                    workspace: None,
                });
                if let (ItemKind::Report, Some(id)) = (kind, dataset) {
                    let ws = meta.and_then(|m| m.dataset_workspace_id.as_deref());
                    self.add_dataset(id, Location::Scenario, ptr, ws);
                }
            }
            Endpoint::CreateReport { group_id } => {
                let ds = self.v1.and_then(|b| b.dataset_id.as_deref());
                let ptr = Ptr::Fixed("/endpoint/groupId");
                let (kind, loc) = (ItemKind::CreateReport, Location::Scenario);
                self.push_item(Item {
                    kind,
                    id: group_id,
                    report: None,
                    workspace_id: Some(group_id),
                    dataset_ids: Ids::One(ds),
                    location: loc,
                    pointer: ptr,
                    workspace: None,
                });
                if let Some(id) = ds {
                    self.add_dataset(id, Location::Request, Ptr::Fixed("/datasetId"), None);
                }
            }
            Endpoint::Dataset {
                dataset_id,
                group_id,
            } => {
                let ptr = Ptr::Fixed("/endpoint/datasetId");
                let (kind, loc) = (ItemKind::Dataset, Location::Scenario);
                let ids = Ids::One(Some(dataset_id.as_str()));
                self.push_item(Item {
                    kind,
                    id: dataset_id,
                    report: None,
                    workspace_id: Some(group_id),
                    dataset_ids: ids,
                    location: loc,
                    pointer: ptr,
                    workspace: None,
                });
                self.add_dataset(dataset_id, loc, ptr, Some(group_id));
            }
            Endpoint::Dashboard {
                dashboard_id,
                group_id,
            }
            | Endpoint::Tile {
                dashboard_id,
                group_id,
                ..
            } => {
                let tile = match &s.endpoint {
                    Endpoint::Tile { tile_id, .. } => Some(tile_id.as_str()),
                    _ => None,
                };
                let meta = self.dashboard(dashboard_id);
                let dataset_ids: Vec<&str> = meta
                    .map(|d| {
                        d.tiles
                            .iter()
                            .filter(|t| tile.is_none_or(|id| t.id.eq_ignore_ascii_case(id)))
                            .filter_map(|t| t.dataset_id.as_deref())
                            .collect()
                    })
                    .unwrap_or_default();
                let (kind, pointer) = match tile {
                    Some(_) => (ItemKind::Tile, "/endpoint/tileId"),
                    None => (ItemKind::Dashboard, "/endpoint/dashboardId"),
                };
                let workspace_id = meta
                    .and_then(|d| d.workspace_id.as_deref())
                    .or(Some(group_id));
                let ptr = Ptr::Fixed(pointer);
                for &id in &dataset_ids {
                    self.add_dataset(id, Location::Scenario, ptr, None);
                }
                let id = tile.unwrap_or(dashboard_id);
                let ids = Ids::Many(dataset_ids);
                self.push_item(Item {
                    kind,
                    id,
                    report: None,
                    workspace_id,
                    dataset_ids: ids,
                    location: Location::Scenario,
                    pointer: ptr,
                    workspace: None,
                });
            }
        }
    }
}

fn report_kind(meta: Option<&Report>) -> ItemKind {
    if meta.is_some_and(|m| m.is_paginated()) {
        ItemKind::PaginatedReport
    } else {
        ItemKind::Report
    }
}
