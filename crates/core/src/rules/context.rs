//! The rule context: the scenario indexed once, so every check is a cheap lookup.

use super::index::IdIndex;
use crate::diag::Location;
use crate::parse::{Body, Parsed};
use crate::powerbi::{EffectiveIdentity, GenerateTokenRequest, GenerateTokenRequestV2};
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

impl From<&Ptr> for String {
    fn from(p: &Ptr) -> String {
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

/// An item the token embeds, with the workspace it lives in and the datasets it reads.
#[derive(Debug, Clone)]
pub struct Item<'a> {
    pub kind: ItemKind,
    pub id: &'a str,
    pub workspace_id: Option<&'a str>,
    pub dataset_ids: Vec<&'a str>,
    pub location: Location,
    pub pointer: Ptr,
}

/// A dataset the token covers, and where the request names it.
#[derive(Debug, Clone)]
pub struct EmbeddedDataset<'a> {
    pub id: &'a str,
    pub meta: Option<&'a Dataset>,
    pub workspace_id: Option<&'a str>,
    pub location: Location,
    pub pointer: Ptr,
}

pub struct Ctx<'a> {
    pub scenario: &'a Scenario,
    pub parsed: &'a Parsed,
    pub v1: Option<&'a GenerateTokenRequest>,
    pub v2: Option<&'a GenerateTokenRequestV2>,
    pub identities: &'a [EffectiveIdentity],
    pub items: Vec<Item<'a>>,
    pub datasets: Vec<EmbeddedDataset<'a>>,
    dataset_ix: IdIndex<'a>,
    report_ix: IdIndex<'a>,
    embedded_ix: IdIndex<'a>,
    /// For each embedded dataset (same order as `datasets`), the identities naming it.
    identity_of: Vec<Vec<usize>>,
    /// Keys of the datasets indexed so far (sorted), to skip repeats while indexing.
    seen: Vec<super::index::Key>,
    /// Dataset lookups of the ids the identities name, resolved once and keyed by the id's address:
    /// the strings are borrowed from `parsed` for the context's whole life, so an address names one
    /// id. Rules look these up many times; this keeps the 50-identity request linear and cheap.
    memo: Vec<(usize, Option<usize>)>,
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
        let mut ctx = Ctx {
            scenario,
            parsed,
            v1,
            v2,
            identities,
            items: Vec::new(),
            datasets: Vec::new(),
            dataset_ix: IdIndex::new(scenario.datasets.iter().map(|d| d.id.as_str())),
            report_ix: IdIndex::new(scenario.reports.iter().map(|r| r.id.as_str())),
            embedded_ix: IdIndex::default(),
            identity_of: Vec::new(),
            seen: Vec::new(),
            memo: Vec::new(),
        };
        ctx.index();
        ctx.embedded_ix = IdIndex::new(ctx.datasets.iter().map(|d| d.id));
        let mut identity_of = vec![Vec::new(); ctx.datasets.len()];
        for (i, id) in identities.iter().enumerate() {
            for d in id.datasets.iter().flatten() {
                if let Some(slot) = ctx.embedded_ix.get(d) {
                    if !identity_of[slot].contains(&i) {
                        identity_of[slot].push(i);
                    }
                }
            }
        }
        ctx.identity_of = identity_of;
        let mut memo: Vec<(usize, Option<usize>)> = identities
            .iter()
            .flat_map(|id| id.datasets.iter().flatten())
            .map(|d| (d.as_ptr() as usize, ctx.dataset_ix.get(d)))
            .collect();
        memo.sort_unstable_by_key(|m| m.0);
        ctx.memo = memo;
        ctx
    }

    pub fn usable_body(&self) -> bool {
        self.v1.is_some() || self.v2.is_some()
    }

    pub fn workspace(&self, id: &str) -> Option<&'a Workspace> {
        self.scenario
            .workspaces
            .iter()
            .find(|w| w.id.eq_ignore_ascii_case(id))
    }
    pub fn dataset(&self, id: &str) -> Option<&'a Dataset> {
        let at = id.as_ptr() as usize;
        let slot = match self.memo.binary_search_by_key(&at, |m| m.0) {
            Ok(i) if !id.is_empty() => self.memo[i].1,
            _ => self.dataset_ix.get(id),
        };
        slot.map(|i| &self.scenario.datasets[i])
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
    /// The first dataset an identity names whose (described) model kind satisfies `pred`.
    pub fn identity_dataset_where(
        &self,
        id: &'a EffectiveIdentity,
        pred: impl Fn(ModelKind) -> bool,
    ) -> Option<&'a str> {
        id.datasets
            .iter()
            .flatten()
            .map(String::as_str)
            .find(|d| self.dataset(d).is_some_and(|m| pred(m.model_kind().0)))
    }
    /// The identities (with their index) that name an embedded dataset.
    pub fn identities_for(
        &self,
        dataset_id: &str,
    ) -> impl Iterator<Item = (usize, &'a EffectiveIdentity)> + '_ {
        let slots: &[usize] = self
            .embedded_ix
            .get(dataset_id)
            .map_or(&[], |i| self.identity_of[i].as_slice());
        slots.iter().map(|&i| (i, &self.identities[i]))
    }
    /// The single workspace of the scenario, used when an item does not say where it lives.
    fn sole_workspace(&self) -> Option<&'a str> {
        match self.scenario.workspaces.as_slice() {
            [w] => Some(w.id.as_str()),
            _ => None,
        }
    }

    fn add_dataset(
        &mut self,
        id: &'a str,
        location: Location,
        pointer: Ptr,
        ws_hint: Option<&'a str>,
    ) {
        let dup = match super::index::key(id) {
            Some(k) => match self.seen.binary_search(&k) {
                Ok(_) => true,
                Err(at) => {
                    self.seen.insert(at, k);
                    false
                }
            },
            None => self.datasets.iter().any(|d| d.id.eq_ignore_ascii_case(id)),
        };
        if dup {
            return;
        }
        let meta = self.dataset(id);
        let workspace_id = meta
            .and_then(|m| m.workspace_id.as_deref())
            .or(ws_hint)
            .or_else(|| self.scenario.endpoint.group_id())
            .or_else(|| self.sole_workspace());
        self.datasets.push(EmbeddedDataset {
            id,
            meta,
            workspace_id,
            location,
            pointer,
        });
    }

    fn index(&mut self) {
        let s = self.scenario;
        let group = s.endpoint.group_id();
        match &s.endpoint {
            Endpoint::GenerateTokenV2 => {
                let Some(b) = self.v2 else { return };
                for (i, r) in b.reports.iter().flatten().enumerate() {
                    let meta = self.report(&r.id);
                    let kind = if meta.is_some_and(|m| m.is_paginated()) {
                        ItemKind::PaginatedReport
                    } else {
                        ItemKind::Report
                    };
                    let workspace_id = meta
                        .and_then(|m| m.workspace_id.as_deref())
                        .or_else(|| self.sole_workspace());
                    let dataset_ids: Vec<&str> = meta
                        .and_then(|m| m.dataset_id.as_deref())
                        .into_iter()
                        .collect();
                    self.items.push(Item {
                        kind,
                        id: &r.id,
                        workspace_id,
                        dataset_ids,
                        location: Location::Request,
                        pointer: Ptr::ReportId(i),
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
                    let (ptr, id, report_id) =
                        (item.pointer, item.dataset_ids.first().copied(), item.id);
                    let ws = self
                        .report(report_id)
                        .and_then(|m| m.dataset_workspace_id.as_deref());
                    if let Some(id) = id {
                        self.add_dataset(id, Location::Request, ptr, ws);
                    }
                }
            }
            Endpoint::Report { report_id, .. } => {
                let meta = self.report(report_id);
                let kind = if meta.is_some_and(|m| m.is_paginated()) {
                    ItemKind::PaginatedReport
                } else {
                    ItemKind::Report
                };
                let dataset_ids: Vec<&str> = meta
                    .and_then(|m| m.dataset_id.as_deref())
                    .into_iter()
                    .collect();
                let workspace_id = meta.and_then(|m| m.workspace_id.as_deref()).or(group);
                self.items.push(Item {
                    kind,
                    id: report_id,
                    workspace_id,
                    dataset_ids: dataset_ids.clone(),
                    location: Location::Scenario,
                    pointer: Ptr::Fixed("/endpoint/reportId"),
                });
                if kind == ItemKind::Report {
                    let ws = meta.and_then(|m| m.dataset_workspace_id.as_deref());
                    for id in dataset_ids {
                        self.add_dataset(
                            id,
                            Location::Scenario,
                            Ptr::Fixed("/endpoint/reportId"),
                            ws,
                        );
                    }
                }
            }
            Endpoint::CreateReport { group_id } => {
                let ds = self.v1.and_then(|b| b.dataset_id.as_deref());
                self.items.push(Item {
                    kind: ItemKind::CreateReport,
                    id: group_id,
                    workspace_id: Some(group_id),
                    dataset_ids: ds.into_iter().collect(),
                    location: Location::Scenario,
                    pointer: Ptr::Fixed("/endpoint/groupId"),
                });
                if let Some(id) = ds {
                    self.add_dataset(id, Location::Request, Ptr::Fixed("/datasetId"), None);
                }
            }
            Endpoint::Dataset {
                dataset_id,
                group_id,
            } => {
                self.items.push(Item {
                    kind: ItemKind::Dataset,
                    id: dataset_id,
                    workspace_id: Some(group_id),
                    dataset_ids: vec![dataset_id.as_str()],
                    location: Location::Scenario,
                    pointer: Ptr::Fixed("/endpoint/datasetId"),
                });
                self.add_dataset(
                    dataset_id,
                    Location::Scenario,
                    Ptr::Fixed("/endpoint/datasetId"),
                    Some(group_id),
                );
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
                self.items.push(Item {
                    kind,
                    id: tile.unwrap_or(dashboard_id),
                    workspace_id: meta
                        .and_then(|d| d.workspace_id.as_deref())
                        .or(Some(group_id)),
                    dataset_ids: dataset_ids.clone(),
                    location: Location::Scenario,
                    pointer: Ptr::Fixed(pointer),
                });
                for id in dataset_ids {
                    self.add_dataset(id, Location::Scenario, Ptr::Fixed(pointer), None);
                }
            }
        }
    }
}
