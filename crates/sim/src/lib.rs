#![doc = include_str!("../README.md")]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

mod assets;
pub mod canary;
mod graph;
pub mod plans;
mod world;

use std::collections::BTreeMap;
use std::path::Path;

use faultlens_core::{Bundle, GroundTruth, IncidentSpec, Manifest, SourceFormat, SourceSpec, TimeRange, Timestamp};
use serde::{Deserialize, Serialize};

/// Errors of the simulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is out of range.
    #[error("invalid sim config: {field}: {message}")]
    InvalidConfig {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Writing the bundle failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The written bundle did not validate.
    #[error(transparent)]
    Bundle(#[from] faultlens_core::Error),
}

/// Result with the simulator's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The fault injected into a simulated incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// A deploy that makes the service return errors; callers see errors too.
    BadDeploy,
    /// A deploy that makes the service slow; callers slow down too.
    BadDeployLatency,
    /// A configuration change that makes the service fail.
    ConfigChange,
    /// CPU saturation in one service, no change involved.
    CpuExhaustion,
    /// A memory leak ending in out-of-memory restarts, no change involved.
    MemoryLeak,
    /// A datastore or leaf dependency goes down; its callers fail.
    DependencyOutage,
    /// Traffic triples at the entry point with no change anywhere.
    TrafficSurge,
    /// A bad deploy, followed by an innocent deploy elsewhere that is the latest change.
    InnocentLatestChange,
}

impl Scenario {
    /// Every scenario.
    pub const ALL: [Self; 8] = [
        Self::BadDeploy,
        Self::BadDeployLatency,
        Self::ConfigChange,
        Self::CpuExhaustion,
        Self::MemoryLeak,
        Self::DependencyOutage,
        Self::TrafficSurge,
        Self::InnocentLatestChange,
    ];

    /// The kebab-case name used on the command line.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::BadDeploy => "bad-deploy",
            Self::BadDeployLatency => "bad-deploy-latency",
            Self::ConfigChange => "config-change",
            Self::CpuExhaustion => "cpu-exhaustion",
            Self::MemoryLeak => "memory-leak",
            Self::DependencyOutage => "dependency-outage",
            Self::TrafficSurge => "traffic-surge",
            Self::InnocentLatestChange => "innocent-latest-change",
        }
    }

    /// Parses a name as printed by [`Self::name`] (snake_case accepted too).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] listing the valid names.
    pub fn parse(s: &str) -> Result<Self> {
        let norm = s.replace('_', "-");
        Self::ALL.into_iter().find(|k| k.name() == norm).ok_or_else(|| Error::InvalidConfig {
            field: "scenario",
            message: format!("`{s}` is not one of {}", Self::ALL.map(Self::name).join(", ")),
        })
    }
}

/// How to generate one incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// RNG seed: the same config always gives byte-identical bundles.
    pub seed: u64,
    /// The fault.
    pub scenario: Scenario,
    /// Number of services, 5 to 500.
    pub services: usize,
    /// Pods per service, 1 to 10.
    pub pods_per_service: usize,
    /// Hours of metric history before `detected_at`, 1 to 24 * 14.
    pub history_hours: u32,
    /// Minutes of data after `detected_at`, 0 to 240.
    pub after_minutes: u32,
    /// Metric step in seconds, 1 to 3600.
    pub step_secs: u32,
    /// Minutes of logs before `detected_at` (logs run to the end of the data).
    pub log_minutes_before: u32,
    /// Mean log lines per second per pod at normal load.
    pub log_rate: f64,
    /// Include runbooks, postmortems and policies.
    pub knowledge: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            scenario: Scenario::BadDeploy,
            services: 8,
            pods_per_service: 2,
            history_hours: 6,
            after_minutes: 30,
            step_secs: 30,
            log_minutes_before: 60,
            log_rate: 0.05,
            knowledge: true,
        }
    }
}

macro_rules! setter {
    ($(#[$m:meta])* $name:ident, $field:ident, $ty:ty) => {
        $(#[$m])*
        #[must_use]
        pub fn $name(mut self, v: $ty) -> Self {
            self.$field = v;
            self
        }
    };
}

impl SimConfig {
    setter!(/// Sets the seed.
        with_seed, seed, u64);
    setter!(/// Sets the scenario.
        with_scenario, scenario, Scenario);
    setter!(/// Sets the number of services.
        with_services, services, usize);
    setter!(/// Sets pods per service.
        with_pods_per_service, pods_per_service, usize);
    setter!(/// Sets the hours of history.
        with_history_hours, history_hours, u32);
    setter!(/// Sets the minutes after detection.
        with_after_minutes, after_minutes, u32);
    setter!(/// Sets the metric step.
        with_step_secs, step_secs, u32);
    setter!(/// Sets the minutes of logs before detection.
        with_log_minutes_before, log_minutes_before, u32);
    setter!(/// Sets the log rate per pod.
        with_log_rate, log_rate, f64);
    setter!(/// Includes or omits knowledge and policies.
        with_knowledge, knowledge, bool);

    fn validate(&self) -> Result<()> {
        let bad = |field, message: String| Err(Error::InvalidConfig { field, message });
        if !(5..=500).contains(&self.services) {
            return bad("services", format!("{} is not in 5..=500", self.services));
        }
        if !(1..=10).contains(&self.pods_per_service) {
            return bad("pods_per_service", format!("{} is not in 1..=10", self.pods_per_service));
        }
        if !(1..=336).contains(&self.history_hours) {
            return bad("history_hours", format!("{} is not in 1..=336", self.history_hours));
        }
        if self.after_minutes > 240 {
            return bad("after_minutes", format!("{} is over 240", self.after_minutes));
        }
        if !(1..=3600).contains(&self.step_secs) {
            return bad("step_secs", format!("{} is not in 1..=3600", self.step_secs));
        }
        if !(0.0..=1000.0).contains(&self.log_rate) {
            return bad("log_rate", format!("{} is not in 0..=1000", self.log_rate));
        }
        if self.log_minutes_before > self.history_hours * 60 {
            return bad("log_minutes_before", "longer than the history".into());
        }
        Ok(())
    }
}

/// What was injected, beyond the manifest's ground truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    /// The scenario.
    pub scenario: Scenario,
    /// The service at fault.
    pub root_cause_service: String,
    /// The guilty change, if the fault is a change.
    pub root_cause_change: Option<String>,
    /// When the fault began.
    pub fault_start: Timestamp,
    /// The services whose telemetry the fault visibly changed.
    pub affected_services: Vec<String>,
    /// Ids of changes that are innocent.
    pub innocent_changes: Vec<String>,
}

/// A generated incident, in memory.
#[derive(Debug, Clone)]
pub struct SimIncident {
    /// The manifest (with ground truth).
    pub manifest: Manifest,
    /// File contents by bundle-relative path.
    pub files: BTreeMap<String, Vec<u8>>,
    /// What was injected.
    pub truth: Truth,
}

impl SimIncident {
    /// Writes the bundle into `dir` (created if needed), seals it and returns it loaded.
    ///
    /// # Errors
    /// [`Error::Io`] when writing fails; [`Error::Bundle`] if the bundle does not validate.
    pub fn write(&self, dir: &Path) -> Result<Bundle> {
        for (rel, bytes) in &self.files {
            let p = dir.join(rel);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::Io { path: parent.to_path_buf(), source: e })?;
            }
            std::fs::write(&p, bytes).map_err(|e| Error::Io { path: p.clone(), source: e })?;
        }
        let mut b = Bundle::create(dir, self.manifest.clone())?;
        b.seal()?;
        Ok(b)
    }

    /// Total size of the files in bytes.
    #[must_use]
    pub fn size_bytes(&self) -> usize {
        self.files.values().map(Vec::len).sum()
    }
}

/// Generates one incident.
///
/// ```
/// use faultlens_sim::{Scenario, SimConfig, generate};
/// let a = generate(&SimConfig::default().with_seed(7).with_scenario(Scenario::MemoryLeak))?;
/// let b = generate(&SimConfig::default().with_seed(7).with_scenario(Scenario::MemoryLeak))?;
/// assert_eq!(a.files, b.files); // deterministic
/// assert!(a.manifest.ground_truth.is_some());
/// # Ok::<(), faultlens_sim::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidConfig`] for out-of-range settings.
pub fn generate(config: &SimConfig) -> Result<SimIncident> {
    config.validate()?;
    let world = world::World::build(config);
    let files = world.render(config);
    let truth = world.truth.clone();
    let detected_at = world.detected_at;
    let window = TimeRange { start: detected_at.add_millis(-2 * 3600 * 1000).max(world.start), end: world.end };
    let mut sources = vec![
        SourceSpec::new("metrics/requests.json", SourceFormat::PrometheusQueryRange),
        SourceSpec::new("metrics/errors.json", SourceFormat::PrometheusQueryRange),
        SourceSpec::new("metrics/latency.json", SourceFormat::PrometheusQueryRange),
        SourceSpec::new("metrics/resources.json", SourceFormat::PrometheusQueryRange),
        SourceSpec::new("logs/loki.json", SourceFormat::LokiQueryRange),
        SourceSpec::new("changes/argocd.json", SourceFormat::ArgocdHistory),
        SourceSpec::new("changes/config.jsonl", SourceFormat::FaultlensChanges),
        SourceSpec::new("topology.json", SourceFormat::FaultlensTopology),
        SourceSpec::new("alerts/alertmanager.json", SourceFormat::Alertmanager),
    ];
    if config.knowledge {
        sources.push(SourceSpec::new("knowledge", SourceFormat::Markdown));
        sources.push(SourceSpec::new("policies", SourceFormat::Rego));
    }
    let mut manifest = Manifest::new(IncidentSpec {
        id: format!("sim-{}-{}", config.scenario.name(), config.seed),
        title: Some(world.title.clone()),
        detected_at,
        window: Some(window),
        services: vec![world.alerting_service.clone()],
    });
    manifest.sources = sources;
    manifest.ground_truth = Some(GroundTruth {
        root_cause_service: Some(truth.root_cause_service.clone()),
        root_cause_change: truth.root_cause_change.clone(),
        fault: Some(config.scenario.name().to_string()),
    });
    Ok(SimIncident { manifest, files, truth })
}

/// One entry of a generated suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteEntry {
    /// Directory name under the suite root.
    pub dir: String,
    /// The config that generated it.
    pub config: SimConfig,
    /// What was injected.
    pub truth: Truth,
}

/// The config of the `i`-th incident of a suite: scenarios cycle, sizes vary with the seed.
#[must_use]
pub fn suite_config(seed: u64, i: usize) -> SimConfig {
    let s = seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
    let n = Scenario::ALL.len();
    SimConfig {
        seed: s,
        scenario: Scenario::ALL.get(i % n).copied().unwrap_or(Scenario::BadDeploy),
        services: 5 + (s % 16) as usize,
        pods_per_service: 2,
        history_hours: 3,
        after_minutes: 20,
        step_secs: 30,
        log_minutes_before: 30,
        log_rate: 0.03,
        knowledge: false,
    }
}

/// Writes `count` labelled incidents under `root` (one directory each, plus `suite.json`),
/// cycling through every scenario. `on_progress` is called after each bundle.
///
/// # Errors
/// As [`generate`] and [`SimIncident::write`].
pub fn write_suite(
    root: &Path,
    seed: u64,
    count: usize,
    mut on_progress: impl FnMut(usize),
) -> Result<Vec<SuiteEntry>> {
    let mut entries = Vec::with_capacity(count);
    for i in 0..count {
        let config = suite_config(seed, i);
        let inc = generate(&config)?;
        let dir = format!("{i:04}-{}", config.scenario.name());
        inc.write(&root.join(&dir))?;
        entries.push(SuiteEntry { dir, config, truth: inc.truth });
        on_progress(i + 1);
    }
    let index = root.join("suite.json");
    let text = serde_json::to_string_pretty(&entries)
        .map_err(|e| Error::InvalidConfig { field: "suite", message: e.to_string() })?;
    std::fs::write(&index, text + "\n").map_err(|e| Error::Io { path: index, source: e })?;
    Ok(entries)
}
