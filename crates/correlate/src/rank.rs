//! Root-cause ranking: from per-series shifts, log signals, the call graph and scored changes
//! to ranked hypotheses with evidence, counter-evidence, what was ruled out and what to check.
//!
//! Each service gets an anomaly strength (its strongest series, plus a share of its log
//! signals). An anomaly is *explained* when it can be the echo of another service's:
//! errors and latency travel from a callee to its callers, traffic from a caller to its callees
//! (and with it CPU and memory). A service whose anomaly is explained by an at least
//! [`AnalyzeConfig::explain_ratio`] as strong anomaly elsewhere that began no later (within two
//! samples) keeps half its
//! strength as a root score. An unexplained anomaly gains [`AnalyzeConfig::explains_weight`]
//! times `ln(1 + n)` for the `n` anomalies that trace back to it, so that of two about equally
//! strong roots the one accounting for more of the incident leads. A plausible change on a service adds
//! [`AnalyzeConfig::change_weight`] times its score. Confidences are a softmax of the final
//! scores at [`AnalyzeConfig::temperature`].

use std::collections::{BTreeMap, BTreeSet};

use faultlens_core::{
    Confidence, Evidence, EvidenceList, Hypothesis, HypothesisKind, IncidentData, RuledOut, Timestamp,
};
use faultlens_detect::logs::LogSignal;
use serde::{Deserialize, Serialize};

use crate::changes::{ChangeVerdict, PROMPT_TIMING, ScoredChange};
use crate::config::AnalyzeConfig;
use crate::shift::{MetricKind, SeriesShift};
use crate::split::SplitVerdict;

/// What the analysis concluded about one service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceScore {
    /// The service.
    pub service: String,
    /// Strength of its strongest series (`ln(1 + robust z)`), plus its log signals' share.
    pub anomaly: f64,
    /// Strongest series' strength per kind of metric.
    pub by_kind: BTreeMap<MetricKind, f64>,
    /// The kind of its strongest series.
    pub kind: MetricKind,
    /// Whether the anomaly reaches [`AnalyzeConfig::min_z`].
    pub anomalous: bool,
    /// Earliest onset among its strong series.
    pub onset: Option<Timestamp>,
    /// Onset of its strongest series: the anomaly a change must precede to explain it.
    pub main_onset: Option<Timestamp>,
    /// When its strongest series came back, if it did.
    pub ended: Option<Timestamp>,
    /// The service whose anomaly explains this one's, if any.
    pub explained_by: Option<String>,
    /// Whether that explanation is load (a caller's traffic surge sending it more requests)
    /// rather than a failing dependency.
    #[serde(default)]
    pub by_load: bool,
    /// Anomalous services whose chain of explanations ends at this one (0 when it is itself
    /// explained); see [`AnalyzeConfig::explains_weight`].
    #[serde(default)]
    pub explains: usize,
    /// Strongest log signal, as `min(1, -log10(p) / 20)`.
    pub log_strength: f64,
    /// Root score before changes.
    pub root: f64,
    /// Final score: root plus the change weight.
    pub total: f64,
    /// Indices of its series among the scored series, strongest first.
    #[serde(skip)]
    pub series: Vec<usize>,
    /// Indices of its log signals in the report's `log_patterns`.
    #[serde(skip)]
    pub log_signals: Vec<usize>,
}

/// Per-service scores, sorted by final score (ties by name).
pub(crate) fn score_services(
    data: &IncidentData,
    shifts: &[SeriesShift],
    logs: &[LogSignal],
    tolerance_ms: i64,
    config: &AnalyzeConfig,
) -> Vec<ServiceScore> {
    let min_strength = config.min_z.ln_1p();
    let mut names: BTreeSet<String> = shifts.iter().map(|s| s.service.clone()).filter(|s| !s.is_empty()).collect();
    names.extend(logs.iter().filter_map(|l| l.service.clone()));
    let mut out: Vec<ServiceScore> = names
        .into_iter()
        .map(|service| {
            let series: Vec<usize> =
                (0..shifts.len()).filter(|&i| shifts.get(i).is_some_and(|s| s.service == service)).collect();
            let mut by_kind: BTreeMap<MetricKind, f64> = BTreeMap::new();
            for s in series.iter().filter_map(|&i| shifts.get(i)) {
                let e = by_kind.entry(s.kind).or_insert(0.0);
                *e = e.max(s.strength);
            }
            let top = series.first().and_then(|&i| shifts.get(i));
            let metric = top.map_or(0.0, |s| s.strength);
            let log_signals: Vec<usize> = if config.use_logs {
                (0..logs.len())
                    .filter(|&i| logs.get(i).is_some_and(|l| l.service.as_deref() == Some(service.as_str())))
                    .collect()
            } else {
                Vec::new()
            };
            let log_strength = log_signals
                .iter()
                .filter_map(|&i| logs.get(i))
                .map(|l| (l.neg_log10_p / 20.0).min(1.0))
                .fold(0.0, f64::max);
            let anomaly = metric + 0.5 * log_strength;
            let onset = series
                .iter()
                .filter_map(|&i| shifts.get(i))
                .filter(|s| s.strength >= min_strength && s.strength >= 0.5 * metric)
                .filter_map(|s| s.onset)
                .min();
            ServiceScore {
                service,
                anomaly,
                by_kind,
                kind: top.map_or(MetricKind::Other, |s| s.kind),
                anomalous: metric >= min_strength || log_strength >= 0.5,
                onset,
                main_onset: top.and_then(|s| s.onset),
                ended: top.and_then(|s| s.ended),
                explained_by: None,
                by_load: false,
                explains: 0,
                log_strength,
                root: anomaly,
                total: anomaly,
                series,
                log_signals,
            }
        })
        .collect();
    explain(data, &mut out, tolerance_ms, config);
    out
}

/// Marks anomalies that echo another service's (see the module docs), in two passes:
/// first load (a caller's traffic surge, as strong as the service's whole anomaly, explains a
/// service whose own traffic rose with it, and whatever that load did to its latency, errors or
/// resources), then failure (an anomalous dependency explains a caller's errors and latency,
/// unless that dependency is itself only suffering load; resource anomalies are the service's
/// own).
fn explain(data: &IncidentData, services: &mut [ServiceScore], tolerance_ms: i64, config: &AnalyzeConfig) {
    let min_strength = config.min_z.ln_1p();
    let by_name: BTreeMap<String, usize> = services.iter().enumerate().map(|(i, s)| (s.service.clone(), i)).collect();
    let not_later = |o: &ServiceScore, s: &ServiceScore| match (o.onset, s.onset) {
        (Some(a), Some(b)) => a.as_millis() <= b.as_millis() + tolerance_ms,
        _ => true,
    };
    let traffic = |o: &ServiceScore| o.by_kind.get(&MetricKind::Traffic).copied().unwrap_or(0.0);
    let strongest =
        |found: Vec<(f64, String)>| found.into_iter().max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(&a.1)));
    // pass 1: load from callers
    let mut load: Vec<Option<String>> = vec![None; services.len()];
    for (i, s) in services.iter().enumerate().filter(|(_, s)| s.anomalous) {
        if traffic(s) < min_strength {
            continue;
        }
        let found = data
            .topology
            .blast_radius(&s.service, 8)
            .into_iter()
            .filter_map(|r| by_name.get(&r.service).and_then(|&j| services.get(j)))
            .filter(|o| o.anomalous && not_later(o, s) && traffic(o) >= config.explain_ratio * s.anomaly)
            .map(|o| (traffic(o), o.service.clone()))
            .collect();
        if let (Some((_, by)), Some(slot)) = (strongest(found), load.get_mut(i)) {
            *slot = Some(by);
        }
    }
    // pass 2: failures from dependencies
    let mut failure: Vec<Option<String>> = vec![None; services.len()];
    for (i, s) in services.iter().enumerate().filter(|(_, s)| s.anomalous) {
        // resource anomalies are the service's own; traffic is explained by callers only
        if load.get(i).is_some_and(Option::is_some) || matches!(s.kind, MetricKind::Traffic | MetricKind::Resource) {
            continue;
        }
        let found = data
            .topology
            .dependencies(&s.service, 8)
            .into_iter()
            .filter_map(|r| by_name.get(&r.service).copied())
            // a dependency that only suffers load is no explanation of a failure
            .filter(|&j| load.get(j).is_some_and(Option::is_none))
            .filter_map(|j| services.get(j))
            .filter(|o| o.anomalous && not_later(o, s))
            .map(|o| {
                let strength =
                    o.by_kind.iter().filter(|(k, _)| **k != MetricKind::Traffic).map(|(_, v)| *v).fold(0.0, f64::max)
                        + 0.5 * o.log_strength;
                (strength, o.service.clone())
            })
            .filter(|(strength, _)| *strength >= config.explain_ratio * s.anomaly)
            .collect();
        if let (Some((_, by)), Some(slot)) = (strongest(found), failure.get_mut(i)) {
            *slot = Some(by);
        }
    }
    for ((s, l), f) in services.iter_mut().zip(load).zip(failure) {
        s.by_load = l.is_some();
        if let Some(by) = l.or(f) {
            s.explained_by = Some(by);
            s.root = 0.5 * s.anomaly;
        }
    }
    // explanatory power: of two about equally anomalous roots, the one that accounts for more
    // of the other anomalies is preferred
    let counts = explained_counts(services, &by_name);
    for (s, c) in services.iter_mut().zip(counts) {
        if s.explained_by.is_none() {
            s.explains = c;
            s.root += config.explains_weight * (c as f64).ln_1p();
        }
    }
    // a surge enters where the alert fired: among entry points whose traffic rose with no
    // anomalous caller, the alerting one is preferred
    let alerting = &data.incident.services;
    let callers_calm = |s: &ServiceScore| callers_calm(data, services, &s.service);
    let entries: Vec<usize> = (0..services.len())
        .filter(|&i| {
            services.get(i).is_some_and(|s| {
                s.anomalous && s.explained_by.is_none() && s.kind == MetricKind::Traffic && callers_calm(s)
            })
        })
        .collect();
    for i in entries {
        if let Some(s) = services.get_mut(i).filter(|s| alerting.contains(&s.service)) {
            s.root += ENTRY_BONUS;
        }
    }
}

/// For each service, how many anomalous services' `explained_by` chains end at it (a chain
/// that loops is followed at most once around). `by_name` indexes `services` by name.
fn explained_counts(services: &[ServiceScore], by_name: &BTreeMap<String, usize>) -> Vec<usize> {
    let next = |i: usize| services.get(i)?.explained_by.as_deref().and_then(|n| by_name.get(n)).copied();
    let mut counts = vec![0usize; services.len()];
    for i in (0..services.len()).filter(|&i| services.get(i).is_some_and(|s| s.anomalous)) {
        let Some(mut at) = next(i) else { continue };
        for _ in 0..services.len() {
            match next(at) {
                Some(j) => at = j,
                None => break,
            }
        }
        if let Some(c) = counts.get_mut(at) {
            *c += 1;
        }
    }
    counts
}

/// Whether no direct caller of `service` is anomalous (an entry point of a surge).
fn callers_calm(data: &IncidentData, services: &[ServiceScore], service: &str) -> bool {
    data.topology
        .blast_radius(service, 1)
        .iter()
        .all(|r| services.iter().find(|x| x.service == r.service).is_none_or(|x| !x.anomalous))
}

/// Added to the root score of an alerting entry point whose traffic surged.
const ENTRY_BONUS: f64 = 0.6;

/// Adds each service's best change score and sorts by the result.
pub(crate) fn apply_changes(services: &mut Vec<ServiceScore>, changes: &[ScoredChange], config: &AnalyzeConfig) {
    for c in changes {
        if !services.iter().any(|s| s.service == c.change.service) {
            services.push(ServiceScore {
                service: c.change.service.clone(),
                anomaly: 0.0,
                by_kind: BTreeMap::new(),
                kind: MetricKind::Other,
                anomalous: false,
                onset: None,
                main_onset: None,
                ended: None,
                explained_by: None,
                by_load: false,
                explains: 0,
                log_strength: 0.0,
                root: 0.0,
                total: 0.0,
                series: Vec::new(),
                log_signals: Vec::new(),
            });
        }
    }
    for s in services.iter_mut() {
        // a prompt change on the service explains its anomaly better than a dependency's
        if s.explained_by.is_some()
            && changes.iter().any(|c| c.change.service == s.service && c.timing >= PROMPT_TIMING && c.location >= 1.0)
        {
            s.explained_by = None;
            s.by_load = false;
            s.root = s.anomaly;
        }
        let best = changes.iter().filter(|c| c.change.service == s.service).map(|c| c.score).fold(0.0, f64::max);
        s.total = s.root + if config.use_changes { config.change_weight * best } else { 0.0 };
    }
    services.sort_by(|a, b| b.total.total_cmp(&a.total).then_with(|| a.service.cmp(&b.service)));
}

/// Everything the hypotheses are built from.
pub(crate) struct Inputs<'a> {
    pub(crate) data: &'a IncidentData,
    pub(crate) services: &'a [ServiceScore],
    pub(crate) shifts: &'a [SeriesShift],
    pub(crate) logs: &'a [LogSignal],
    pub(crate) changes: &'a [ScoredChange],
    pub(crate) config: &'a AnalyzeConfig,
}

/// Builds the ranked hypotheses (at most [`AnalyzeConfig::max_hypotheses`]); services with no
/// evidence at all are skipped, as a hypothesis cannot be built without it.
pub(crate) fn hypotheses(inp: &Inputs<'_>) -> Vec<Hypothesis> {
    let config = inp.config;
    // softmax over every candidate with evidence
    let candidates: Vec<(&ServiceScore, EvidenceList)> =
        inp.services.iter().filter_map(|s| evidence_of(inp, s).map(|e| (s, e))).collect();
    let top = candidates.first().map_or(0.0, |(s, _)| s.total);
    let weights: Vec<f64> = candidates.iter().map(|(s, _)| ((s.total - top) / config.temperature).exp()).collect();
    let sum: f64 = weights.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    let mut out = Vec::new();
    for (rank, ((s, evidence), w)) in candidates.into_iter().zip(&weights).take(config.max_hypotheses).enumerate() {
        let confidence = Confidence::saturating(w / sum);
        let change = best_change(inp, &s.service);
        let kind = kind_of(inp, s, change.is_some());
        let summary = summary_of(inp, s, kind, change);
        let mut h = Hypothesis::new(kind, confidence, summary, evidence);
        h.rank = u32::try_from(rank + 1).unwrap_or(u32::MAX);
        h.service = Some(s.service.clone());
        h.change_id = change.map(|c| c.change.id.clone());
        h.counter_evidence = counter_evidence(inp, s, change);
        h.ruled_out = ruled_out(inp, s, rank == 0);
        h.next_checks = next_checks(inp, s, kind, change);
        out.push(h);
    }
    out
}

/// The service's best change, when it is not ruled out.
fn best_change<'a>(inp: &Inputs<'a>, service: &str) -> Option<&'a ScoredChange> {
    if !inp.config.use_changes {
        return None;
    }
    inp.changes.iter().find(|c| c.change.service == service && c.verdict != ChangeVerdict::RuledOut)
}

fn kind_of(inp: &Inputs<'_>, s: &ServiceScore, has_change: bool) -> HypothesisKind {
    if has_change {
        return HypothesisKind::Change;
    }
    if !s.anomalous {
        return HypothesisKind::Unknown;
    }
    let alerting = &inp.data.incident.services;
    match s.kind {
        MetricKind::Resource => HypothesisKind::Resource,
        MetricKind::Traffic if callers_calm(inp.data, inp.services, &s.service) => HypothesisKind::Traffic,
        _ if !alerting.is_empty() && !alerting.contains(&s.service) => HypothesisKind::Dependency,
        _ => HypothesisKind::Service,
    }
}

fn summary_of(inp: &Inputs<'_>, s: &ServiceScore, kind: HypothesisKind, change: Option<&ScoredChange>) -> String {
    let top = s.series.first().and_then(|&i| inp.shifts.get(i));
    let what = top.map_or_else(
        || "log signals".to_string(),
        |t| format!("{} {} (robust z {:+.1})", t.metric, if t.z >= 0.0 { "rose" } else { "fell" }, t.z),
    );
    match (kind, change) {
        (HypothesisKind::Change, Some(c)) => format!(
            "{} {} on {} caused it: {}{}",
            c.change.kind.as_str(),
            c.change.id,
            s.service,
            if s.anomalous { what } else { "its callers degraded after it".to_string() },
            c.lag_ms.map(|l| format!(", {} after the change", crate::minutes(l.max(0)))).unwrap_or_default()
        ),
        (HypothesisKind::Resource, _) => format!("resource exhaustion in {}: {what}", s.service),
        (HypothesisKind::Traffic, _) => format!("traffic surge entering at {}: {what}", s.service),
        (HypothesisKind::Dependency, _) => format!("dependency {} is failing: {what}", s.service),
        _ => format!("{} is at fault: {what}", s.service),
    }
}

/// Supporting evidence: the strongest anomalous series (up to three), the change, the log
/// signals (up to two). `None` when there is nothing to cite.
fn evidence_of(inp: &Inputs<'_>, s: &ServiceScore) -> Option<EvidenceList> {
    let min_strength = inp.config.min_z.ln_1p();
    let mut items: Vec<Evidence> = s
        .series
        .iter()
        .filter_map(|&i| inp.shifts.get(i))
        .filter(|x| x.strength >= min_strength)
        .take(3)
        .map(|x| x.evidence.clone())
        .collect();
    if let Some(c) = best_change(inp, &s.service) {
        let mut e = c.evidence.clone();
        e.detail = format!("{}; {}", e.detail, c.reasons.join("; "));
        items.push(e);
        if let Some(sp) = c.version_split.as_ref().filter(|sp| sp.verdict == SplitVerdict::NewOnly) {
            items.push(sp.evidence.clone());
        }
    }
    items.extend(s.log_signals.iter().filter_map(|&i| inp.logs.get(i)).take(2).map(|l| l.evidence.clone()));
    let mut it = items.into_iter();
    let mut list = EvidenceList::one(it.next()?);
    for e in it {
        list.push(e);
    }
    Some(list)
}

fn counter_evidence(inp: &Inputs<'_>, s: &ServiceScore, change: Option<&ScoredChange>) -> Vec<Evidence> {
    let mut out = Vec::new();
    if let Some(by) = &s.explained_by
        && let Some(o) = inp.services.iter().find(|x| &x.service == by)
        && let Some(t) = o.series.first().and_then(|&i| inp.shifts.get(i))
    {
        let mut e = t.evidence.clone();
        e.detail = format!("{by} is anomalous as early and as strongly, and {} depends on it: {}", s.service, e.detail);
        out.push(e);
    }
    if let Some(c) = change
        && c.timing < 1.0
    {
        let mut e = c.evidence.clone();
        e.detail = format!("the change is not close to the onset: {}", c.reasons.join("; "));
        out.push(e);
    }
    if let Some(sp) = change
        .and_then(|c| c.version_split.as_ref())
        .filter(|sp| matches!(sp.verdict, SplitVerdict::Both | SplitVerdict::OldOnly))
    {
        let mut e = sp.evidence.clone();
        e.detail = format!("pods of other versions are anomalous as well: {}", e.detail);
        out.push(e);
    }
    if s.anomalous && !s.series.is_empty() {
        // the service's own strong metrics that did not move are not evidence against it;
        // another change on the same service that fits as well is
        for other in inp.changes.iter().filter(|c| {
            c.change.service == s.service && change.is_some_and(|b| b.change.id != c.change.id) && c.score > 0.0
        }) {
            let mut e = other.evidence.clone();
            e.detail = format!("another change on {} fits too: {}", s.service, e.detail);
            out.push(e);
        }
    }
    out
}

/// The evidence of a service's strongest series (none when it has no series).
fn top_evidence(inp: &Inputs<'_>, o: &ServiceScore) -> Vec<Evidence> {
    o.series.first().and_then(|&i| inp.shifts.get(i)).map(|t| t.evidence.clone()).into_iter().collect()
}

fn ruled_out(inp: &Inputs<'_>, s: &ServiceScore, first: bool) -> Vec<RuledOut> {
    let mut out: Vec<RuledOut> = inp
        .services
        .iter()
        .filter(|o| o.explained_by.as_deref() == Some(s.service.as_str()))
        .map(|o| RuledOut {
            subject: o.service.clone(),
            reason: format!("its anomaly follows {}'s, which it depends on", s.service),
            evidence: top_evidence(inp, o),
        })
        .collect();
    if first {
        out.extend(inp.changes.iter().filter(|c| c.verdict == ChangeVerdict::RuledOut).map(|c| RuledOut {
            subject: c.change.id.clone(),
            reason: c.reasons.join("; "),
            evidence: vec![c.evidence.clone()],
        }));
        for alerting in &inp.data.incident.services {
            for d in inp.data.topology.dependencies(alerting, 8) {
                if let Some(o) =
                    inp.services.iter().find(|x| x.service == d.service && !x.anomalous && !x.series.is_empty())
                {
                    out.push(RuledOut {
                        subject: o.service.clone(),
                        reason: format!("a dependency of {alerting} whose metrics stayed within their baseline"),
                        evidence: top_evidence(inp, o),
                    });
                }
            }
        }
    }
    out
}

fn next_checks(inp: &Inputs<'_>, s: &ServiceScore, kind: HypothesisKind, change: Option<&ScoredChange>) -> Vec<String> {
    let svc = &s.service;
    let mut out = Vec::new();
    if let Some(c) = change {
        if let Some(to) = &c.change.to {
            out.push(format!("compare the pods of {svc} running {to} with the others (errors, latency)"));
        }
        out.push(format!("roll back {} on {svc} (or a canary of it) and watch whether the anomaly ends", c.change.id));
    }
    match kind {
        HypothesisKind::Resource => {
            out.push(format!(
                "check {svc}'s CPU throttling, memory limits and OOM kills (kubectl describe pod, events)"
            ));
        }
        HypothesisKind::Traffic => {
            out.push(format!("find where {svc}'s extra requests come from (top clients, routes); check rate limits"))
        }
        _ => {}
    }
    let deps: Vec<String> = inp.data.topology.dependencies(svc, 1).into_iter().map(|r| r.service).collect();
    if !deps.is_empty() {
        out.push(format!(
            "check that {svc}'s dependencies ({}) are healthy from its side (client errors, timeouts)",
            deps.join(", ")
        ));
    }
    out.push(format!("read {svc}'s error logs from the onset on"));
    out
}
