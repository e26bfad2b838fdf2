//! The simulated world: timing, profiles, changes, the fault, and rendering to files.
#![allow(clippy::indexing_slicing)] // service and step indices come from ranges over the vectors they index

use std::collections::BTreeMap;
use std::fmt::Write as _;

use faultlens_core::{ChangeKind, Timestamp};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::graph::{self, Graph, Tier};
use crate::{Scenario, SimConfig, Truth, assets};

const DAY_MS: i64 = 86_400_000;
const WEEK_MS: i64 = 7 * DAY_MS;
/// 2026-11-02T00:00:00Z, a Monday.
const EPOCH: i64 = 1_793_577_600_000;
const AUTHORS: [&str; 6] = ["alice", "bob", "chen", "dana", "emeka", "farah"];
const NAMESPACE: &str = "shop";

/// The effect a fault has on its service.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Effect {
    Errors(f64),
    Latency(f64),
    Cpu,
    Leak,
    Outage,
    Surge(f64),
}

#[derive(Debug, Clone)]
struct Fault {
    service: usize,
    start: i64,
    effect: Effect,
    /// Only pods of this generation are affected (a bad deploy).
    generation: Option<usize>,
}

#[derive(Debug, Clone)]
struct Generation {
    start: i64,
    version: String,
    pods: Vec<String>,
}

#[derive(Debug, Clone)]
struct Profile {
    base_rps: f64,
    own_latency: f64,
    base_err: f64,
    cpu_per_rps: f64,
    cpu_limit: f64,
    mem_base: f64,
    mem_limit: f64,
    generations: Vec<Generation>,
}

#[derive(Debug, Clone)]
struct Change {
    id: String,
    at: i64,
    service: usize,
    kind: ChangeKind,
    from: Option<String>,
    to: Option<String>,
    author: String,
    description: String,
    argo_id: Option<i64>,
}

/// Log lines by (service, pod, level).
type Streams = BTreeMap<(String, String, &'static str), Vec<(i64, String)>>;

pub(crate) struct World {
    graph: Graph,
    profiles: Vec<Profile>,
    changes: Vec<Change>,
    fault: Fault,
    /// Services that call the faulty one, directly or not.
    fault_upstream: Vec<usize>,
    step: i64,
    pub(crate) start: Timestamp,
    pub(crate) end: Timestamp,
    pub(crate) detected_at: Timestamp,
    pub(crate) truth: Truth,
    pub(crate) title: String,
    pub(crate) alerting_service: String,
    seed: u64,
}

fn hex(rng: &mut ChaCha8Rng, n: usize) -> String {
    (0..n).map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0')).collect()
}

fn pod_names(rng: &mut ChaCha8Rng, svc: &str, n: usize) -> Vec<String> {
    let rs = hex(rng, 9);
    (0..n).map(|_| format!("{svc}-{rs}-{}", hex(rng, 5))).collect()
}

impl World {
    pub(crate) fn build(c: &SimConfig) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(c.seed ^ 0x5eed_fa17);
        let graph = graph::build(c.services, &mut rng);
        let n = graph.names.len();
        let step = i64::from(c.step_secs) * 1000;
        // detection at a seeded time of day within a four-week span, on a step boundary
        let detected = EPOCH + rng.random_range(0..28) * DAY_MS + rng.random_range(8 * 3600..22 * 3600) * 1000;
        let detected = detected - detected.rem_euclid(step);
        let start = detected - i64::from(c.history_hours) * 3_600_000;
        let end = detected + i64::from(c.after_minutes) * 60_000;

        let mut profiles: Vec<Profile> = (0..n)
            .map(|i| {
                let tier = graph.tiers[i];
                let (rps, lat) = match tier {
                    Tier::Entry => (rng.random_range(80.0..200.0), rng.random_range(0.015..0.04)),
                    Tier::Api => (rng.random_range(30.0..120.0), rng.random_range(0.008..0.03)),
                    Tier::Backend => (rng.random_range(20.0..80.0), rng.random_range(0.005..0.02)),
                    Tier::Store => (rng.random_range(50.0..300.0), rng.random_range(0.001..0.006)),
                };
                Profile {
                    base_rps: rps,
                    own_latency: lat,
                    base_err: rng.random_range(0.0005..0.004),
                    cpu_per_rps: rng.random_range(0.002..0.006),
                    cpu_limit: if tier == Tier::Store { 4.0 } else { 2.0 },
                    mem_base: rng.random_range(200.0..900.0) * 1_048_576.0,
                    mem_limit: 2048.0 * 1_048_576.0,
                    generations: vec![Generation {
                        start: start - rng.random_range(1..20) * DAY_MS,
                        version: hex(&mut rng, 7),
                        pods: pod_names(&mut rng, &graph.names[i], c.pods_per_service),
                    }],
                }
            })
            .collect();

        let pick = |rng: &mut ChaCha8Rng, tiers: &[Tier]| -> usize {
            let cands: Vec<usize> = (0..n).filter(|&i| tiers.contains(&graph.tiers[i])).collect();
            cands.choose(rng).copied().unwrap_or(0)
        };
        let lag = rng.random_range(3..=9) * 60_000;
        let fault_start = (detected - lag) - (detected - lag).rem_euclid(step);
        let mut changes: Vec<Change> = Vec::new();
        let mut argo_ids = vec![1i64; n];
        let mut deploy = |rng: &mut ChaCha8Rng,
                          profiles: &mut Vec<Profile>,
                          changes: &mut Vec<Change>,
                          s: usize,
                          at: i64|
         -> usize {
            let prev = profiles[s].generations.last().map(|g| g.version.clone());
            let version = hex(rng, 7);
            let pods = pod_names(rng, &graph.names[s], c.pods_per_service);
            profiles[s].generations.push(Generation { start: at, version: version.clone(), pods });
            let id = argo_ids[s];
            argo_ids[s] += 1;
            changes.push(Change {
                id: format!("argocd:{}:{id}", graph.names[s]),
                at,
                service: s,
                kind: ChangeKind::Deploy,
                from: prev,
                to: Some(version),
                author: AUTHORS.choose(rng).copied().unwrap_or("ci").to_string(),
                description: "sync".into(),
                argo_id: Some(id),
            });
            profiles[s].generations.len() - 1
        };
        let config_change = |rng: &mut ChaCha8Rng, changes: &mut Vec<Change>, s: usize, at: i64, kind: ChangeKind| {
            let (key, from, to) = match kind {
                ChangeKind::Flag => ("flag.new_pricing_engine", "false".to_string(), "true".to_string()),
                _ => {
                    let keys = ["db.pool_size", "http.timeout_ms", "cache.ttl_s", "retry.max_attempts"];
                    let k = keys.choose(rng).copied().unwrap_or("db.pool_size");
                    (k, rng.random_range(10..50).to_string(), rng.random_range(1..60).to_string())
                }
            };
            let n_id = changes.len();
            changes.push(Change {
                id: format!("config:{}:{n_id}", graph.names[s]),
                at,
                service: s,
                kind,
                from: Some(format!("{key}={from}")),
                to: Some(format!("{key}={to}")),
                author: AUTHORS.choose(rng).copied().unwrap_or("ci").to_string(),
                description: format!("set {key} from {from} to {to}"),
                argo_id: None,
            });
            changes.len() - 1
        };

        let mid = [Tier::Api, Tier::Backend];
        let scenario = c.scenario;
        let root = match scenario {
            Scenario::DependencyOutage => pick(&mut rng, &[Tier::Store]),
            Scenario::TrafficSurge => 0,
            _ => pick(&mut rng, &mid),
        };
        let mut root_change = None;
        let fault = match scenario {
            Scenario::BadDeploy | Scenario::InnocentLatestChange => {
                let g = deploy(&mut rng, &mut profiles, &mut changes, root, fault_start);
                root_change = changes.last().map(|ch| ch.id.clone());
                Fault {
                    service: root,
                    start: fault_start,
                    effect: Effect::Errors(rng.random_range(0.08..0.35)),
                    generation: Some(g),
                }
            }
            Scenario::BadDeployLatency => {
                let g = deploy(&mut rng, &mut profiles, &mut changes, root, fault_start);
                root_change = changes.last().map(|ch| ch.id.clone());
                Fault {
                    service: root,
                    start: fault_start,
                    effect: Effect::Latency(rng.random_range(4.0..10.0)),
                    generation: Some(g),
                }
            }
            Scenario::ConfigChange => {
                let i = config_change(&mut rng, &mut changes, root, fault_start, ChangeKind::Config);
                root_change = changes.get(i).map(|ch| ch.id.clone());
                let effect = if rng.random_bool(0.5) {
                    Effect::Errors(rng.random_range(0.1..0.4))
                } else {
                    Effect::Latency(rng.random_range(4.0..10.0))
                };
                Fault { service: root, start: fault_start, effect, generation: None }
            }
            Scenario::CpuExhaustion => {
                Fault { service: root, start: fault_start, effect: Effect::Cpu, generation: None }
            }
            Scenario::MemoryLeak => {
                let s = fault_start - rng.random_range(45..90) * 60_000;
                Fault { service: root, start: s - s.rem_euclid(step), effect: Effect::Leak, generation: None }
            }
            Scenario::DependencyOutage => {
                Fault { service: root, start: fault_start, effect: Effect::Outage, generation: None }
            }
            Scenario::TrafficSurge => Fault {
                service: root,
                start: fault_start,
                effect: Effect::Surge(rng.random_range(2.5..4.0)),
                generation: None,
            },
        };

        // benign history: spread over the data, plus one or two shortly before the fault
        let span = end - start;
        let n_benign = (c.history_hours as usize / 2 + 2).min(12);
        let mut benign_at: Vec<i64> = (0..n_benign).map(|_| start + rng.random_range(0..span)).collect();
        benign_at.push(fault.start - rng.random_range(10..45) * 60_000);
        if rng.random_bool(0.5) {
            benign_at.push(fault.start - rng.random_range(45..100) * 60_000);
        }
        let mut innocent = Vec::new();
        for at in benign_at {
            let at = at.clamp(start, end - step);
            let s = pick(&mut rng, &[Tier::Entry, Tier::Api, Tier::Backend]);
            if s == fault.service && (at - fault.start).abs() < 3 * 3_600_000 {
                continue;
            }
            let kind = [ChangeKind::Deploy, ChangeKind::Deploy, ChangeKind::Config, ChangeKind::Flag]
                .choose(&mut rng)
                .copied();
            let idx = match kind {
                Some(ChangeKind::Deploy) | None => {
                    // benign deploys must not replace the faulty generation's pods
                    if s == fault.service {
                        continue;
                    }
                    deploy(&mut rng, &mut profiles, &mut changes, s, at);
                    changes.len() - 1
                }
                Some(k) => config_change(&mut rng, &mut changes, s, at, k),
            };
            innocent.extend(changes.get(idx).map(|ch| ch.id.clone()));
        }
        if scenario == Scenario::InnocentLatestChange {
            // the latest change before detection is innocent: a deploy elsewhere, after the onset
            let others: Vec<usize> = (0..n)
                .filter(|&i| i != root && graph.tiers[i] != Tier::Store && !graph.upstream_of(i).contains(&root))
                .collect();
            let s = others.choose(&mut rng).copied().unwrap_or(0);
            let at = fault.start + (detected - fault.start) / 2;
            let at = at - at.rem_euclid(step);
            if s != root {
                deploy(&mut rng, &mut profiles, &mut changes, s, at);
                innocent.extend(changes.last().map(|ch| ch.id.clone()));
            }
        }
        for p in &mut profiles {
            p.generations.sort_by_key(|g| g.start);
        }
        changes.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)));
        innocent.sort();

        // the services that call the root, directly or not: computed once, read per log line
        let fault_upstream = graph.upstream_of(root);
        let mut affected: Vec<usize> = fault_upstream.clone();
        affected.push(root);
        if matches!(fault.effect, Effect::Surge(_)) {
            // a surge at an entry point flows down its calls
            affected = graph.downstream_of(root);
            affected.push(root);
        }
        affected.sort_unstable();
        let alerting = (0..n)
            .filter(|&i| graph.tiers[i] == Tier::Entry && (i == root || fault_upstream.contains(&i)))
            .min()
            .unwrap_or(0);
        let symptom = match fault.effect {
            Effect::Errors(_) | Effect::Outage | Effect::Leak => "error rate above SLO",
            _ => "p99 latency above SLO",
        };
        let title = format!("{} {symptom}", graph.names[alerting]);
        let truth = Truth {
            scenario,
            root_cause_service: graph.names[root].clone(),
            root_cause_change: root_change,
            fault_start: Timestamp::from_millis(fault.start),
            affected_services: affected.iter().map(|&i| graph.names[i].clone()).collect(),
            innocent_changes: innocent,
        };
        Self {
            alerting_service: graph.names[alerting].clone(),
            graph,
            profiles,
            changes,
            fault,
            fault_upstream,
            step,
            start: Timestamp::from_millis(start),
            end: Timestamp::from_millis(end),
            detected_at: Timestamp::from_millis(detected),
            truth,
            title,
            seed: c.seed,
        }
    }

    fn season(t: i64) -> f64 {
        let day = (t.rem_euclid(DAY_MS)) as f64 / DAY_MS as f64;
        let week = (t - EPOCH).rem_euclid(WEEK_MS) as f64 / WEEK_MS as f64;
        let daily = 1.0 + 0.45 * (std::f64::consts::TAU * (day - 0.375)).sin();
        // weekends (the last two sevenths of the week) run at about 75%
        let weekend = 1.0 - 0.25 * (0.5 + 0.5 * (std::f64::consts::TAU * (week - 0.786)).cos()).powi(6);
        let trend = 1.0 + 0.01 * (t - EPOCH) as f64 / DAY_MS as f64;
        daily.max(0.2) * weekend * trend
    }

    /// Traffic multiplier per service at fault intensity `x`: a surge enters at the root (an
    /// entry point) and every other service receives the mean multiplier of its callers, so
    /// the extra load follows the calls down and other entry points stay as they were.
    fn surge_multipliers(&self, x: f64) -> Vec<f64> {
        let n = self.graph.names.len();
        let mut mult = vec![1.0; n];
        let Effect::Surge(m) = self.fault.effect else { return mult };
        // callers before callees
        for &s in self.graph.bottom_up.iter().rev() {
            let v = if s == self.fault.service {
                1.0 + (m - 1.0) * x
            } else {
                let callers = &self.graph.callers[s];
                if callers.is_empty() {
                    1.0
                } else {
                    callers.iter().map(|&c| mult[c]).sum::<f64>() / callers.len() as f64
                }
            };
            mult[s] = v;
        }
        mult
    }

    /// Fault intensity in [0, 1] at time t (ramps in over a couple of minutes).
    fn intensity(&self, t: i64) -> f64 {
        let dt = (t - self.fault.start) as f64;
        if dt < 0.0 {
            return 0.0;
        }
        match self.fault.effect {
            Effect::Cpu => (dt / 600_000.0).min(1.0),
            Effect::Leak => (dt / (self.detected_at.as_millis() - self.fault.start + 1) as f64).min(1.2),
            Effect::Surge(_) => (dt / 300_000.0).min(1.0),
            _ => (dt / 60_000.0).min(1.0),
        }
    }

    fn active_generation(&self, s: usize, t: i64) -> usize {
        self.profiles[s].generations.iter().rposition(|g| g.start <= t).unwrap_or(0)
    }

    /// Simulates every step (the step index addresses every service's row, hence the range loop); returns per service, per step: (rps, err, p50, p99, cpu, mem, oom).
    #[allow(clippy::needless_range_loop)]
    fn simulate(&self, rng: &mut ChaCha8Rng) -> Vec<Vec<[f64; 7]>> {
        let n = self.graph.names.len();
        let steps = ((self.end.as_millis() - self.start.as_millis()) / self.step + 1) as usize;
        let mut out = vec![vec![[0.0; 7]; steps]; n];
        for k in 0..steps {
            let t = self.start.as_millis() + k as i64 * self.step;
            let season = Self::season(t);
            let x = self.intensity(t);
            let mut err = vec![0.0; n];
            let mut lat = vec![0.0; n];
            let surge = self.surge_multipliers(x);
            for &s in &self.graph.bottom_up {
                let p = &self.profiles[s];
                let is_root = s == self.fault.service;
                let faulty_gen = self.fault.generation.is_none_or(|g| self.active_generation(s, t) == g);
                let mut rps = p.base_rps * season * (1.0 + 0.04 * z(rng));
                rps *= surge.get(s).copied().unwrap_or(1.0);
                let mut cpu = rps * p.cpu_per_rps * (1.0 + 0.05 * z(rng));
                let mut own_err = p.base_err * (1.0 + 0.3 * z(rng)).max(0.0);
                let mut own_lat = p.own_latency * (1.0 + 0.05 * z(rng));
                let mut mem =
                    p.mem_base * (1.0 + 0.02 * z(rng)) + 0.05 * p.mem_base * ((t / 60_000) % 17) as f64 / 17.0;
                let mut oom = 0.0;
                if is_root && faulty_gen && x > 0.0 {
                    match self.fault.effect {
                        Effect::Errors(e) => own_err += e * x * (1.0 + 0.1 * z(rng)),
                        Effect::Latency(m) => own_lat *= 1.0 + (m - 1.0) * x,
                        Effect::Cpu => cpu = cpu + (p.cpu_limit * 0.98 - cpu) * x,
                        Effect::Outage => {
                            own_err = (0.85 + 0.1 * z(rng)).clamp(0.5, 1.0) * x;
                            own_lat *= 1.0 + 40.0 * x;
                        }
                        Effect::Leak => {
                            let grown = mem + (p.mem_limit - mem) * x;
                            // OOM kills once memory reaches the limit: drop back and blip errors
                            if grown >= p.mem_limit * 0.97 {
                                let phase = ((t - self.fault.start) / 60_000) % 6;
                                mem = p.mem_base + (p.mem_limit - p.mem_base) * phase as f64 / 6.0;
                                if phase == 0 {
                                    oom = 1.0;
                                    own_err += 0.25;
                                }
                                own_err += 0.03;
                            } else {
                                mem = grown;
                            }
                            own_lat *= 1.0 + 2.0 * x.min(1.0);
                        }
                        Effect::Surge(_) => {}
                    }
                }
                let cpu = cpu.clamp(0.0, p.cpu_limit);
                let util = cpu / p.cpu_limit;
                // queueing: latency grows sharply as utilisation approaches one
                own_lat *= 1.0 + 0.15 * util / (1.0 - util.min(0.95));
                let mut e = own_err.clamp(0.0, 1.0);
                let mut l = own_lat;
                for &c in &self.graph.callees[s] {
                    e = 1.0 - (1.0 - e) * (1.0 - 0.7 * err[c]);
                    l += 0.6 * lat[c];
                }
                err[s] = e.clamp(0.0, 1.0);
                lat[s] = l;
                let p99 = l * (2.5 + 0.2 * z(rng).abs());
                out[s][k] = [rps.max(0.0), err[s], l, p99, cpu, mem.max(0.0), oom];
            }
        }
        out
    }

    pub(crate) fn render(&self, c: &SimConfig) -> BTreeMap<String, Vec<u8>> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x0b5e_57ed);
        let sim = self.simulate(&mut rng);
        let mut files = BTreeMap::new();
        files.insert("metrics/requests.json".into(), self.prom(&sim, &mut rng, &[("http_requests_rate", 0, true)]));
        files.insert("metrics/errors.json".into(), self.prom(&sim, &mut rng, &[("http_errors_ratio", 1, false)]));
        files.insert(
            "metrics/latency.json".into(),
            self.prom(
                &sim,
                &mut rng,
                &[("http_request_duration_p50_seconds", 2, false), ("http_request_duration_p99_seconds", 3, false)],
            ),
        );
        files.insert(
            "metrics/resources.json".into(),
            self.prom(
                &sim,
                &mut rng,
                &[("container_cpu_usage_cores", 4, true), ("container_memory_working_set_bytes", 5, false)],
            ),
        );
        files.insert("logs/loki.json".into(), self.loki(&sim, c, &mut rng));
        files.insert("changes/argocd.json".into(), self.argocd());
        files.insert("changes/config.jsonl".into(), self.config_changes());
        files.insert("topology.json".into(), self.topology());
        files.insert("alerts/alertmanager.json".into(), self.alerts(&sim, &mut rng));
        if c.knowledge {
            for (path, text) in assets::knowledge(&self.graph.names) {
                files.insert(path, text.into_bytes());
            }
            for (path, text) in assets::policies() {
                files.insert(path, text.into_bytes());
            }
        }
        files
    }

    /// Per-pod series of the given metrics as one Prometheus query_range body.
    /// `split` divides the service value across pods (rates), else each pod gets the value.
    fn prom(&self, sim: &[Vec<[f64; 7]>], rng: &mut ChaCha8Rng, metrics: &[(&str, usize, bool)]) -> Vec<u8> {
        let mut s = String::from(r#"{"status":"success","data":{"resultType":"matrix","result":["#);
        let mut first = true;
        for &(name, col, split) in metrics {
            for (svc, rows) in sim.iter().enumerate() {
                let p = &self.profiles[svc];
                for (gi, g) in p.generations.iter().enumerate() {
                    let g_end = p.generations.get(gi + 1).map_or(i64::MAX, |n| n.start);
                    let npods = g.pods.len() as f64;
                    for pod in &g.pods {
                        let mut values = String::new();
                        for (k, row) in rows.iter().enumerate() {
                            let t = self.start.as_millis() + k as i64 * self.step;
                            if t < g.start || t >= g_end {
                                continue;
                            }
                            let v = if split {
                                row[col] / npods * (1.0 + 0.03 * z(rng))
                            } else {
                                row[col] * (1.0 + 0.02 * z(rng))
                            };
                            let v = if col == 1 { v.clamp(0.0, 1.0) } else { v.max(0.0) };
                            if !values.is_empty() {
                                values.push(',');
                            }
                            let _ = write!(values, "[{},\"{}\"]", t / 1000, round_sig(v));
                        }
                        if values.is_empty() {
                            continue;
                        }
                        if !first {
                            s.push(',');
                        }
                        first = false;
                        let _ = write!(
                            s,
                            r#"{{"metric":{{"__name__":"{name}","namespace":"{NAMESPACE}","pod":"{pod}","service":"{}","version":"{}"}},"values":[{values}]}}"#,
                            self.graph.names[svc], g.version
                        );
                    }
                }
            }
        }
        s.push_str("]}}");
        s.into_bytes()
    }

    fn loki(&self, sim: &[Vec<[f64; 7]>], c: &SimConfig, rng: &mut ChaCha8Rng) -> Vec<u8> {
        let log_start = self.detected_at.as_millis() - i64::from(c.log_minutes_before) * 60_000;
        // streams keyed by (service, pod, level) -> lines
        let mut streams: Streams = BTreeMap::new();
        let steps_per_sec = (self.step / 1000).max(1);
        for (svc, rows) in sim.iter().enumerate() {
            let name = &self.graph.names[svc];
            let p = &self.profiles[svc];
            for (k, row) in rows.iter().enumerate() {
                let t0 = self.start.as_millis() + k as i64 * self.step;
                if t0 < log_start {
                    continue;
                }
                let gen_i = self.active_generation(svc, t0);
                let g = &p.generations[gen_i];
                let load = row[0] / p.base_rps;
                for pod in &g.pods {
                    let lam_info = c.log_rate * load * steps_per_sec as f64;
                    let lam_err = c.log_rate * 40.0 * row[1] * steps_per_sec as f64;
                    for (lam, level) in [(lam_info, "info"), (lam_err, "error")] {
                        let count = poisson(rng, lam);
                        for _ in 0..count {
                            let t = t0 + rng.random_range(0..self.step);
                            let line = self.log_line(rng, svc, level, row, t);
                            let lvl = if line.0 { "warn" } else { level };
                            streams.entry((name.clone(), pod.clone(), lvl)).or_default().push((t, line.1));
                        }
                    }
                    if row[6] > 0.0 && svc == self.fault.service {
                        streams.entry((name.clone(), pod.clone(), "error")).or_default().push((
                            t0 + 1,
                            format!(
                                "container {name} in pod {pod} OOMKilled: memory limit 2048Mi exceeded, restarting"
                            ),
                        ));
                    }
                }
            }
        }
        let mut s = String::from(r#"{"status":"success","data":{"resultType":"streams","result":["#);
        for (i, ((svc, pod, level), mut lines)) in streams.into_iter().enumerate() {
            lines.sort();
            if i > 0 {
                s.push(',');
            }
            let _ = write!(
                s,
                r#"{{"stream":{{"app":"{svc}","level":"{level}","namespace":"{NAMESPACE}","pod":"{pod}"}},"values":["#
            );
            for (j, (t, line)) in lines.iter().enumerate() {
                if j > 0 {
                    s.push(',');
                }
                let _ = write!(s, "[\"{}\",{}]", i128::from(*t) * 1_000_000, serde_json::Value::String(line.clone()));
            }
            s.push_str("]}");
        }
        s.push_str(r#"],"stats":{}}}"#);
        s.into_bytes()
    }

    /// One log line: `(is_warning, text)`.
    fn log_line(&self, rng: &mut ChaCha8Rng, svc: usize, level: &str, row: &[f64; 7], t: i64) -> (bool, String) {
        let name = &self.graph.names[svc];
        let ms = (row[2] * 1000.0 * (0.5 + rng.random::<f64>())).round();
        let id = rng.random_range(1000..99_999);
        let trace = hex_of(rng.random::<u64>());
        if level == "info" {
            let slow = row[2] > 3.0 * self.profiles[svc].own_latency * (1.0 + self.graph.callees[svc].len() as f64);
            return match rng.random_range(0..10) {
                0..=4 => (false, format!("GET /api/{name}/items/{id} 200 {ms}ms trace_id={trace}")),
                5..=6 => (false, format!("request completed user_id={id} duration={ms}ms trace_id={trace}")),
                7 => (false, format!("cache hit ratio {:.2} over last 60s", 0.8 + 0.2 * rng.random::<f64>())),
                8 if slow => (true, format!("slow request: GET /api/{name}/items/{id} took {ms}ms (budget 250ms)")),
                8 => (false, format!("POST /api/{name}/events 202 {ms}ms")),
                _ if row[4] / self.profiles[svc].cpu_limit > 0.85 => {
                    (true, format!("worker pool saturated: queue depth {} exceeds 64", rng.random_range(65..400)))
                }
                _ if row[5] > self.profiles[svc].mem_limit * 0.8 => {
                    (true, format!("GC pause {ms}ms, heap {:.0}MB of 2048MB", row[5] / 1_048_576.0))
                }
                _ => (false, format!("health check ok in {ms}ms")),
            };
        }
        let in_fault = t >= self.fault.start;
        let root = svc == self.fault.service;
        if root && in_fault {
            return match self.fault.effect {
                Effect::Errors(_) if self.fault.generation.is_some() => (
                    false,
                    format!(
                        "NullPointerException in OrderHandler.apply(OrderHandler.java:{}) trace_id={trace}",
                        140 + id % 3
                    ),
                ),
                Effect::Errors(_) => {
                    (false, format!("rejected request {id}: invalid value for {}", self.root_config_key()))
                }
                Effect::Outage => {
                    (false, format!("connection pool exhausted: {} active, 0 idle, wait timeout {ms}ms", 64))
                }
                Effect::Leak => {
                    (false, format!("java.lang.OutOfMemoryError: Java heap space while handling request {id}"))
                }
                _ => (false, format!("request {id} timed out after {ms}ms")),
            };
        }
        let bad_callee =
            self.graph.callees[svc].iter().find(|&&c| c == self.fault.service || self.fault_upstream.contains(&c));
        match bad_callee {
            Some(&c) if in_fault && self.fault.effect == Effect::Outage && c == self.fault.service => (
                false,
                format!(
                    "dial tcp {}:{}: connect: connection refused (attempt {}/3)",
                    self.graph.names[c],
                    5432,
                    1 + id % 3
                ),
            ),
            Some(&c) if in_fault => {
                (false, format!("upstream {} returned 503 after {ms}ms trace_id={trace}", self.graph.names[c]))
            }
            _ => (false, format!("request {id} failed: internal error trace_id={trace}")),
        }
    }

    fn root_config_key(&self) -> String {
        self.changes
            .iter()
            .find(|c| c.service == self.fault.service && c.at == self.fault.start && c.argo_id.is_none())
            .and_then(|c| c.to.clone())
            .unwrap_or_else(|| "config".into())
    }

    fn argocd(&self) -> Vec<u8> {
        let mut items = Vec::new();
        for (s, name) in self.graph.names.iter().enumerate() {
            let p = &self.profiles[s];
            let mut history = vec![serde_json::json!({
                "id": 0,
                "revision": p.generations.first().map(|g| g.version.clone()),
                "deployedAt": Timestamp::from_millis(p.generations.first().map_or(0, |g| g.start)).to_string(),
                "deployStartedAt": Timestamp::from_millis(p.generations.first().map_or(0, |g| g.start) - 20_000).to_string(),
                "source": {"repoURL": "https://git.example.com/shop/deploy.git", "path": format!("apps/{name}"), "targetRevision": "main"},
                "initiatedBy": {"automated": true},
            })];
            for ch in self.changes.iter().filter(|c| c.service == s && c.argo_id.is_some()) {
                history.push(serde_json::json!({
                    "id": ch.argo_id,
                    "revision": ch.to,
                    "deployedAt": Timestamp::from_millis(ch.at).to_string(),
                    "deployStartedAt": Timestamp::from_millis(ch.at - 20_000).to_string(),
                    "source": {"repoURL": "https://git.example.com/shop/deploy.git", "path": format!("apps/{name}"), "targetRevision": "main"},
                    "initiatedBy": {"username": ch.author},
                }));
            }
            items.push(serde_json::json!({
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {"name": name, "namespace": "argocd", "labels": {"app.kubernetes.io/part-of": "shop"}},
                "spec": {"destination": {"namespace": NAMESPACE, "server": "https://kubernetes.default.svc"}, "project": "shop"},
                "status": {"history": history, "sync": {"status": "Synced"}, "health": {"status": "Healthy"}},
            }));
        }
        let doc = serde_json::json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationList", "items": items});
        serde_json::to_vec_pretty(&doc).unwrap_or_default()
    }

    fn config_changes(&self) -> Vec<u8> {
        let mut s = String::new();
        for ch in self.changes.iter().filter(|c| c.argo_id.is_none()) {
            let v = serde_json::json!({
                "id": ch.id, "at": Timestamp::from_millis(ch.at).to_string(), "service": self.graph.names[ch.service],
                "kind": ch.kind.as_str(), "from": ch.from, "to": ch.to, "source": "config-repo", "author": ch.author,
                "description": ch.description,
            });
            s.push_str(&v.to_string());
            s.push('\n');
        }
        s.into_bytes()
    }

    fn topology(&self) -> Vec<u8> {
        let mut t = faultlens_core::Topology::new();
        for (a, cs) in self.graph.callees.iter().enumerate() {
            t.add_service(self.graph.names[a].clone());
            for &b in cs {
                t.add_edge(self.graph.names[a].clone(), self.graph.names[b].clone());
            }
        }
        serde_json::to_vec_pretty(&t).unwrap_or_default()
    }

    fn alerts(&self, sim: &[Vec<[f64; 7]>], rng: &mut ChaCha8Rng) -> Vec<u8> {
        let s = self.graph.names.iter().position(|n| *n == self.alerting_service).unwrap_or(0);
        let k = ((self.detected_at.as_millis() - self.start.as_millis()) / self.step) as usize;
        let row = sim.get(s).and_then(|r| r.get(k)).copied().unwrap_or([0.0; 7]);
        let (alertname, summary) = match self.fault.effect {
            Effect::Errors(_) | Effect::Outage | Effect::Leak => (
                "HighErrorRate",
                format!("{} error ratio {:.1}% above the 1% SLO threshold", self.alerting_service, row[1] * 100.0),
            ),
            _ => (
                "HighLatencyP99",
                format!("{} p99 latency {:.0}ms above the 500ms SLO threshold", self.alerting_service, row[3] * 1000.0),
            ),
        };
        let doc = serde_json::json!([{
            "annotations": {"summary": summary, "runbook_url": "https://runbooks.example.com/slo"},
            "endsAt": Timestamp::from_millis(self.detected_at.as_millis() + 4 * 60_000).to_string(),
            "fingerprint": hex_of(rng.random::<u64>()),
            "receivers": [{"name": "oncall-pager"}],
            "startsAt": self.detected_at.to_string(),
            "status": {"inhibitedBy": [], "silencedBy": [], "state": "active"},
            "updatedAt": self.detected_at.to_string(),
            "generatorURL": "http://prometheus.example.com/graph",
            "labels": {"alertname": alertname, "namespace": NAMESPACE, "service": self.alerting_service, "severity": "page"},
        }]);
        serde_json::to_vec_pretty(&doc).unwrap_or_default()
    }
}

/// A standard normal draw.
fn z(rng: &mut ChaCha8Rng) -> f64 {
    rng.sample(StandardNormal)
}

fn hex_of(v: u64) -> String {
    format!("{v:016x}")
}

/// Rounds to 5 significant digits, so files stay small and values print exactly.
fn round_sig(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let mag = 10f64.powi(4 - v.abs().log10().floor() as i32);
    (v * mag).round() / mag
}

fn poisson(rng: &mut ChaCha8Rng, lam: f64) -> u32 {
    if lam <= 0.0 {
        return 0;
    }
    // Knuth's method; lambdas here are small
    let l = (-lam.min(30.0)).exp();
    let mut k = 0;
    let mut p = 1.0;
    loop {
        p *= rng.random::<f64>();
        if p <= l {
            return k;
        }
        k += 1;
    }
}
