//! The service dependency graph and blast-radius queries.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::series::MetricSeries;

/// A directed call edge: `from` calls `to`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Edge {
    /// The caller.
    pub from: String,
    /// The callee.
    pub to: String,
}

/// A service reached by a graph walk, with its distance.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct Reached {
    /// The service.
    pub service: String,
    /// Hops from the start.
    pub hops: u32,
}

/// The service dependency graph. Services and edges are kept sorted, so the same graph
/// always serialises the same way.
///
/// ```
/// use faultlens_core::Topology;
/// let t = Topology::from_edges([("web", "api"), ("api", "db"), ("batch", "db")]);
/// // who is hurt when `db` fails, within two hops
/// let hit: Vec<_> = t.blast_radius("db", 2).into_iter().map(|r| (r.service, r.hops)).collect();
/// assert_eq!(hit, [("api".to_string(), 1), ("batch".to_string(), 1), ("web".to_string(), 2)]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(from = "RawTopology", into = "RawTopology")]
pub struct Topology {
    services: BTreeSet<String>,
    calls: BTreeMap<String, BTreeSet<String>>,
    called_by: BTreeMap<String, BTreeSet<String>>,
}

/// The wire form of [`Topology`]: `{services, edges: [{from, to}]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTopology {
    /// Every service (services named only by edges are added).
    #[serde(default)]
    pub services: Vec<String>,
    /// Call edges.
    #[serde(default)]
    pub edges: Vec<Edge>,
}

impl From<RawTopology> for Topology {
    fn from(r: RawTopology) -> Self {
        let mut t = Self::default();
        for s in r.services {
            t.add_service(s);
        }
        for e in r.edges {
            t.add_edge(e.from, e.to);
        }
        t
    }
}

impl From<Topology> for RawTopology {
    fn from(t: Topology) -> Self {
        let edges = t.edges().collect();
        Self { services: t.services.into_iter().collect(), edges }
    }
}

/// Label pairs that name a call's source and destination workload in mesh metrics.
const MESH_LABELS: [(&str, &str); 2] = [("source_workload", "destination_workload"), ("deployment", "dst_deployment")];

impl Topology {
    /// An empty graph.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A graph from `(caller, callee)` pairs.
    pub fn from_edges<A: Into<String>, B: Into<String>>(edges: impl IntoIterator<Item = (A, B)>) -> Self {
        let mut t = Self::default();
        for (a, b) in edges {
            t.add_edge(a, b);
        }
        t
    }

    /// Infers call edges from service-mesh metrics: series labelled
    /// `source_workload`/`destination_workload` (Istio) or `deployment`/`dst_deployment` (Linkerd).
    #[must_use]
    pub fn infer_from_mesh(series: &[MetricSeries]) -> Self {
        let mut t = Self::default();
        for s in series {
            for (src, dst) in MESH_LABELS {
                if let (Some(a), Some(b)) = (s.labels().get(src), s.labels().get(dst))
                    && !a.is_empty()
                    && !b.is_empty()
                    && a != "unknown"
                    && b != "unknown"
                {
                    t.add_edge(a, b);
                }
            }
        }
        t
    }

    /// Adds a service with no edges.
    pub fn add_service(&mut self, s: impl Into<String>) {
        self.services.insert(s.into());
    }

    /// Adds `from -> to` (and both services). Self-loops are ignored.
    pub fn add_edge(&mut self, from: impl Into<String>, to: impl Into<String>) {
        let (from, to) = (from.into(), to.into());
        self.services.insert(from.clone());
        self.services.insert(to.clone());
        if from == to {
            return;
        }
        self.calls.entry(from.clone()).or_default().insert(to.clone());
        self.called_by.entry(to).or_default().insert(from);
    }

    /// Merges another graph into this one.
    pub fn merge(&mut self, other: &Self) {
        for s in &other.services {
            self.add_service(s.clone());
        }
        for e in other.edges() {
            self.add_edge(e.from, e.to);
        }
    }

    /// Whether the service is known.
    #[must_use]
    pub fn contains(&self, s: &str) -> bool {
        self.services.contains(s)
    }

    /// All services, sorted.
    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.services.iter().map(String::as_str)
    }

    /// Number of services.
    #[must_use]
    pub fn len(&self) -> usize {
        self.services.len()
    }

    /// Whether there are no services.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    /// All edges, sorted.
    pub fn edges(&self) -> impl Iterator<Item = Edge> + '_ {
        self.calls.iter().flat_map(|(a, bs)| bs.iter().map(move |b| Edge { from: a.clone(), to: b.clone() }))
    }

    /// The services `s` calls directly.
    pub fn callees(&self, s: &str) -> impl Iterator<Item = &str> {
        self.calls.get(s).into_iter().flatten().map(String::as_str)
    }

    /// The services that call `s` directly.
    pub fn callers(&self, s: &str) -> impl Iterator<Item = &str> {
        self.called_by.get(s).into_iter().flatten().map(String::as_str)
    }

    /// Who depends on `s` within `k` hops (its transitive callers), nearest first, then by
    /// name. `s` itself is not included. This is the blast radius of a failure of `s`.
    #[must_use]
    pub fn blast_radius(&self, s: &str, k: u32) -> Vec<Reached> {
        Self::walk(&self.called_by, s, k)
    }

    /// What `s` depends on within `k` hops (its transitive callees), nearest first.
    #[must_use]
    pub fn dependencies(&self, s: &str, k: u32) -> Vec<Reached> {
        Self::walk(&self.calls, s, k)
    }

    /// Whether `a` can reach `b` following call edges (`a` depends on `b`, maybe indirectly).
    #[must_use]
    pub fn depends_on(&self, a: &str, b: &str) -> bool {
        self.dependencies(a, u32::MAX).iter().any(|r| r.service == b)
    }

    fn walk(adj: &BTreeMap<String, BTreeSet<String>>, start: &str, k: u32) -> Vec<Reached> {
        let mut seen: BTreeSet<&str> = BTreeSet::from([start]);
        let mut out = Vec::new();
        let mut q: VecDeque<(&str, u32)> = VecDeque::from([(start, 0)]);
        while let Some((s, d)) = q.pop_front() {
            if d >= k {
                continue;
            }
            for n in adj.get(s).into_iter().flatten() {
                if seen.insert(n.as_str()) {
                    out.push(Reached { service: n.clone(), hops: d + 1 });
                    q.push_back((n.as_str(), d + 1));
                }
            }
        }
        out.sort();
        out.sort_by_key(|r| r.hops);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Labels;

    #[test]
    fn cycles_terminate_and_k_limits() {
        let t = Topology::from_edges([("a", "b"), ("b", "c"), ("c", "a")]);
        assert_eq!(t.blast_radius("a", 1).len(), 1);
        assert_eq!(t.blast_radius("a", 10).len(), 2);
        assert!(t.depends_on("a", "c"));
        assert!(t.blast_radius("zzz", 3).is_empty());
    }

    #[test]
    fn wire_round_trip() {
        let t = Topology::from_edges([("b", "c"), ("a", "b")]);
        let j = serde_json::to_string(&t).unwrap();
        assert_eq!(j, r#"{"services":["a","b","c"],"edges":[{"from":"a","to":"b"},{"from":"b","to":"c"}]}"#);
        assert_eq!(serde_json::from_str::<Topology>(&j).unwrap(), t);
    }

    #[test]
    fn mesh_inference() {
        let s = MetricSeries::new(
            "istio_requests_total",
            Labels::from_pairs([("source_workload", "web"), ("destination_workload", "api")]),
            vec![],
            vec![],
        )
        .unwrap();
        assert!(Topology::infer_from_mesh(&[s]).depends_on("web", "api"));
    }
}
