//! Incident bundle format v1: manifest, load, save, seal and verify.
//!
//! A bundle is a directory holding `bundle.yaml` (or `bundle.yml` / `bundle.json`) and the
//! source files it names. See `specs/bundle-v1.md` and the JSON Schema in
//! `docs/bundle-v1.schema.json`, generated from these types.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::alert::{Alert, Incident};
use crate::change::ChangeEvent;
use crate::decode::{DecodeReport, Records, decode_bytes};
use crate::error::{Error, Result};
use crate::hash::{ContentHash, ContentHasher};
use crate::knowledge::{KnowledgeDoc, PolicyFile};
use crate::log::LogRecord;
use crate::series::MetricSeries;
use crate::time::{TimeRange, Timestamp};
use crate::topology::Topology;

/// The `format` value of a v1 manifest.
pub const MANIFEST_FORMAT: &str = "faultlens.bundle/v1";

/// Manifest file names, in the order they are looked for.
pub const MANIFEST_NAMES: [&str; 3] = ["bundle.yaml", "bundle.yml", "bundle.json"];

/// Format-specific options of a source (`log_format`, `service_label`, `timestamp_field`, ...).
pub type SourceOptions = BTreeMap<String, serde_json::Value>;

/// What a source holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Metric series.
    Metrics,
    /// Log lines.
    Logs,
    /// Change events.
    Changes,
    /// Service graph.
    Topology,
    /// Alerts and pages.
    Alerts,
    /// Runbooks, postmortems, ADRs.
    Knowledge,
    /// Rego policies.
    Policies,
}

/// The file format of a source (the table in the bundle spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceFormat {
    /// Prometheus `/api/v1/query_range` body.
    PrometheusQueryRange,
    /// OpenMetrics / Prometheus text exposition with timestamps.
    Openmetrics,
    /// Wide CSV: timestamp column plus one column per series.
    CsvWide,
    /// Loki `/loki/api/v1/query_range` body.
    LokiQueryRange,
    /// Elasticsearch / OpenSearch `_search` body.
    ElasticsearchHits,
    /// JSON Lines logs.
    Jsonl,
    /// Plain log lines.
    Raw,
    /// Argo CD Application history.
    ArgocdHistory,
    /// GitHub deployments.
    GithubDeployments,
    /// Kubernetes EventList.
    K8sEvents,
    /// faultlens change events (JSON Lines).
    FaultlensChanges,
    /// faultlens topology.
    FaultlensTopology,
    /// PagerDuty incidents.
    PagerdutyIncidents,
    /// Alertmanager alerts.
    Alertmanager,
    /// Markdown documents (file or directory).
    Markdown,
    /// Rego policies (file or directory).
    Rego,
}

impl SourceFormat {
    /// Every format.
    pub const ALL: [Self; 16] = [
        Self::PrometheusQueryRange,
        Self::Openmetrics,
        Self::CsvWide,
        Self::LokiQueryRange,
        Self::ElasticsearchHits,
        Self::Jsonl,
        Self::Raw,
        Self::ArgocdHistory,
        Self::GithubDeployments,
        Self::K8sEvents,
        Self::FaultlensChanges,
        Self::FaultlensTopology,
        Self::PagerdutyIncidents,
        Self::Alertmanager,
        Self::Markdown,
        Self::Rego,
    ];

    /// The kind of source this format belongs to.
    #[must_use]
    pub fn kind(self) -> SourceKind {
        match self {
            Self::PrometheusQueryRange | Self::Openmetrics | Self::CsvWide => SourceKind::Metrics,
            Self::LokiQueryRange | Self::ElasticsearchHits | Self::Jsonl | Self::Raw => SourceKind::Logs,
            Self::ArgocdHistory | Self::GithubDeployments | Self::K8sEvents | Self::FaultlensChanges => {
                SourceKind::Changes
            }
            Self::FaultlensTopology => SourceKind::Topology,
            Self::PagerdutyIncidents | Self::Alertmanager => SourceKind::Alerts,
            Self::Markdown => SourceKind::Knowledge,
            Self::Rego => SourceKind::Policies,
        }
    }

    /// The snake_case name used in manifests.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PrometheusQueryRange => "prometheus_query_range",
            Self::Openmetrics => "openmetrics",
            Self::CsvWide => "csv_wide",
            Self::LokiQueryRange => "loki_query_range",
            Self::ElasticsearchHits => "elasticsearch_hits",
            Self::Jsonl => "jsonl",
            Self::Raw => "raw",
            Self::ArgocdHistory => "argocd_history",
            Self::GithubDeployments => "github_deployments",
            Self::K8sEvents => "k8s_events",
            Self::FaultlensChanges => "faultlens_changes",
            Self::FaultlensTopology => "faultlens_topology",
            Self::PagerdutyIncidents => "pagerduty_incidents",
            Self::Alertmanager => "alertmanager",
            Self::Markdown => "markdown",
            Self::Rego => "rego",
        }
    }

    /// Whether the source path may be a directory.
    #[must_use]
    pub fn allows_directory(self) -> bool {
        matches!(self, Self::Markdown | Self::Rego)
    }

    fn file_extensions(self) -> &'static [&'static str] {
        match self {
            Self::Markdown => &["md", "markdown"],
            Self::Rego => &["rego"],
            _ => &[],
        }
    }
}

/// The `incident` block of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentSpec {
    /// Free-text id (required, non-empty).
    pub id: String,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// When the alert fired.
    pub detected_at: Timestamp,
    /// Analysis window; default `detected_at - 2h .. detected_at + 30m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<TimeRange>,
    /// Services the alert names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
}

/// One entry of `sources`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// Path relative to the bundle directory.
    pub path: String,
    /// What the source holds.
    pub kind: SourceKind,
    /// Its file format; must belong to `kind`.
    pub format: SourceFormat,
    /// SHA-256 of the file (of the directory listing and contents for directories);
    /// written by `seal`, verified on load when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<ContentHash>,
    /// Format-specific options.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub options: SourceOptions,
}

impl SourceSpec {
    /// A source of `format` at `path` (kind derived from the format).
    pub fn new(path: impl Into<String>, format: SourceFormat) -> Self {
        Self { path: path.into(), kind: format.kind(), format, sha256: None, options: SourceOptions::new() }
    }

    /// Sets one option.
    #[must_use]
    pub fn with_option(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.options.insert(key.into(), value.into());
        self
    }
}

/// Evaluation labels. Analysis never reads these.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroundTruth {
    /// The service at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_cause_service: Option<String>,
    /// The id of the guilty change event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_cause_change: Option<String>,
    /// Free-text fault description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

/// A bundle manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always `faultlens.bundle/v1`.
    pub format: String,
    /// The incident.
    pub incident: IncidentSpec,
    /// The sources (at least one).
    pub sources: Vec<SourceSpec>,
    /// Evaluation labels; never read by analysis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ground_truth: Option<GroundTruth>,
}

impl Manifest {
    /// A manifest for an incident, with no sources yet.
    #[must_use]
    pub fn new(incident: IncidentSpec) -> Self {
        Self { format: MANIFEST_FORMAT.to_string(), incident, sources: Vec::new(), ground_truth: None }
    }

    /// The incident with its window resolved.
    #[must_use]
    pub fn incident(&self) -> Incident {
        let i = &self.incident;
        Incident {
            id: i.id.clone(),
            title: i.title.clone(),
            detected_at: i.detected_at,
            window: i.window.unwrap_or_else(|| Incident::default_window(i.detected_at)),
            services: i.services.clone(),
        }
    }

    /// The JSON Schema of the manifest, generated from these types.
    #[must_use]
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Manifest)).unwrap_or_default()
    }
}

/// How to load a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadOptions {
    /// Check recorded sha256 values on load (default true).
    pub verify_hashes: bool,
    /// Largest source file accepted, in bytes (default 1 GiB).
    pub max_source_bytes: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { verify_hashes: true, max_source_bytes: 1 << 30 }
    }
}

impl LoadOptions {
    /// Sets [`Self::verify_hashes`].
    #[must_use]
    pub fn with_verify_hashes(mut self, v: bool) -> Self {
        self.verify_hashes = v;
        self
    }

    /// Sets [`Self::max_source_bytes`].
    #[must_use]
    pub fn with_max_source_bytes(mut self, v: u64) -> Self {
        self.max_source_bytes = v;
        self
    }
}

/// One integrity problem found by [`Bundle::verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IntegrityIssue {
    /// The source path.
    pub path: String,
    /// Hash in the manifest, if any.
    pub expected: Option<ContentHash>,
    /// Hash of the data as it is, if readable.
    pub actual: Option<ContentHash>,
    /// What is wrong.
    pub problem: String,
}

/// What one source contributed to an [`IncidentData`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SourceSummary {
    /// Bundle-relative path.
    pub path: String,
    /// Format.
    pub format: SourceFormat,
    /// SHA-256 of the data (file, or directory as sealed).
    pub sha256: ContentHash,
    /// Decoding report.
    pub report: DecodeReport,
}

/// Everything an analysis reads from a bundle: the incident and the decoded sources, and
/// nothing of the ground truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IncidentData {
    /// The incident, window resolved.
    pub incident: Incident,
    /// Metric series of every metrics source, in manifest order.
    pub series: Vec<MetricSeries>,
    /// For each entry of `series`, the index of its source in `sources`.
    pub series_source: Vec<usize>,
    /// Log records, in manifest order then file order.
    pub logs: Vec<LogRecord>,
    /// Change events, sorted by time then id.
    pub changes: Vec<ChangeEvent>,
    /// For each entry of `changes`, the index of its source in `sources`.
    #[serde(default)]
    pub change_source: Vec<usize>,
    /// The service graph (all topology sources merged, plus edges inferred from mesh metrics).
    pub topology: Topology,
    /// Alerts.
    pub alerts: Vec<Alert>,
    /// Knowledge documents.
    pub knowledge: Vec<KnowledgeDoc>,
    /// Policy files.
    pub policies: Vec<PolicyFile>,
    /// One summary per manifest source.
    pub sources: Vec<SourceSummary>,
}

impl IncidentData {
    /// Data for `incident` with nothing decoded yet, for building incidents in code (tests,
    /// other telemetry stores) and filling the fields in.
    #[must_use]
    pub fn new(incident: Incident) -> Self {
        Self {
            incident,
            series: Vec::new(),
            series_source: Vec::new(),
            logs: Vec::new(),
            changes: Vec::new(),
            change_source: Vec::new(),
            topology: Topology::new(),
            alerts: Vec::new(),
            knowledge: Vec::new(),
            policies: Vec::new(),
            sources: Vec::new(),
        }
    }

    /// The source a series came from.
    #[must_use]
    pub fn series_source(&self, series_index: usize) -> Option<&SourceSummary> {
        self.series_source.get(series_index).and_then(|&i| self.sources.get(i))
    }

    /// The source a change event came from.
    #[must_use]
    pub fn change_source(&self, change_index: usize) -> Option<&SourceSummary> {
        self.change_source.get(change_index).and_then(|&i| self.sources.get(i))
    }
}

/// A loaded, validated bundle.
///
/// ```no_run
/// use faultlens_core::Bundle;
/// let bundle = Bundle::load("examples/bundles/checkout-bad-deploy")?;
/// let data = bundle.decode()?;
/// println!("{} series, {} changes", data.series.len(), data.changes.len());
/// # Ok::<(), faultlens_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Bundle {
    dir: PathBuf,
    manifest_path: PathBuf,
    manifest: Manifest,
    options: LoadOptions,
}

impl Bundle {
    /// Loads and validates a bundle with default options.
    ///
    /// # Errors
    /// Every error the spec names: no manifest, malformed or unknown keys
    /// ([`Error::Manifest`]), a path outside the bundle ([`Error::PathEscapesBundle`]), a missing
    /// file ([`Error::MissingSource`]), a sha256 mismatch ([`Error::Sha256Mismatch`]), a file over
    /// the size limit ([`Error::SourceTooLarge`]).
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        Self::load_with(dir, LoadOptions::default())
    }

    /// Loads and validates a bundle.
    ///
    /// # Errors
    /// As [`Self::load`].
    pub fn load_with(dir: impl AsRef<Path>, options: LoadOptions) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let manifest_path =
            MANIFEST_NAMES.iter().map(|n| dir.join(n)).find(|p| p.is_file()).ok_or_else(|| Error::Manifest {
                path: dir.clone(),
                field: "bundle.yaml".into(),
                message: "no bundle.yaml, bundle.yml or bundle.json in this directory".into(),
            })?;
        let text = std::fs::read_to_string(&manifest_path).map_err(|e| Error::io(&manifest_path, e))?;
        let manifest = parse_manifest(&manifest_path, &text)?;
        let bundle = Self { dir, manifest_path, manifest, options };
        bundle.validate()?;
        Ok(bundle)
    }

    /// Writes a new bundle manifest into `dir` (as `bundle.yaml`) and loads it back.
    /// The source files must already be in place.
    ///
    /// # Errors
    /// As [`Self::load`], plus [`Error::Io`] when writing fails.
    pub fn create(dir: impl AsRef<Path>, manifest: Manifest) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let manifest_path = dir.join("bundle.yaml");
        let bundle = Self { dir, manifest_path, manifest, options: LoadOptions::default() };
        bundle.validate()?;
        bundle.save()?;
        Ok(bundle)
    }

    /// The bundle directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest file.
    #[must_use]
    pub fn manifest_path(&self) -> &Path {
        &self.manifest_path
    }

    /// The manifest (including ground truth, which analysis must not read).
    #[must_use]
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The incident, window resolved.
    #[must_use]
    pub fn incident(&self) -> Incident {
        self.manifest.incident()
    }

    /// Evaluation labels, if the bundle has them.
    #[must_use]
    pub fn ground_truth(&self) -> Option<&GroundTruth> {
        self.manifest.ground_truth.as_ref()
    }

    /// Writes the manifest back in its own format (YAML or JSON), canonically: the same
    /// manifest always gives the same bytes.
    ///
    /// # Errors
    /// [`Error::Io`] when writing fails.
    pub fn save(&self) -> Result<()> {
        let text = self.manifest_text()?;
        std::fs::write(&self.manifest_path, text).map_err(|e| Error::io(&self.manifest_path, e))
    }

    /// The canonical manifest text.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if serialisation fails (it does not for valid manifests).
    pub fn manifest_text(&self) -> Result<String> {
        if self.manifest_path.extension().is_some_and(|e| e == "json") {
            serde_json::to_string_pretty(&self.manifest)
                .map(|s| s + "\n")
                .map_err(|e| Error::invalid("manifest", e.to_string()))
        } else {
            serde_yaml_ng::to_string(&self.manifest)
                .map(|t| quote_yaml11_timestamps(&t))
                .map_err(|e| Error::invalid("manifest", e.to_string()))
        }
    }

    /// Computes the sha256 of every source, records it in the manifest and saves it.
    ///
    /// # Errors
    /// [`Error::Io`] when a source cannot be read or the manifest not written.
    pub fn seal(&mut self) -> Result<()> {
        let mut hashes = Vec::with_capacity(self.manifest.sources.len());
        for s in &self.manifest.sources {
            hashes.push(self.hash_source(s)?);
        }
        for (s, h) in self.manifest.sources.iter_mut().zip(hashes) {
            s.sha256 = Some(h);
        }
        self.save()
    }

    /// Checks every source against its recorded sha256; sources without one are reported.
    ///
    /// # Errors
    /// None for content problems (they are returned as issues); [`Error::Io`] is mapped to an
    /// issue too, so this only fails if the manifest itself is unusable.
    pub fn verify(&self) -> Result<Vec<IntegrityIssue>> {
        let mut issues = Vec::new();
        for s in &self.manifest.sources {
            let actual = self.hash_source(s);
            let issue = match (&s.sha256, actual) {
                (Some(e), Ok(a)) if *e == a => None,
                (Some(e), Ok(a)) => Some(IntegrityIssue {
                    path: s.path.clone(),
                    expected: Some(*e),
                    actual: Some(a),
                    problem: "sha256 mismatch".into(),
                }),
                (e, Err(err)) => {
                    Some(IntegrityIssue { path: s.path.clone(), expected: *e, actual: None, problem: err.to_string() })
                }
                (None, Ok(a)) => Some(IntegrityIssue {
                    path: s.path.clone(),
                    expected: None,
                    actual: Some(a),
                    problem: "not sealed".into(),
                }),
            };
            issues.extend(issue);
        }
        Ok(issues)
    }

    /// Decodes every source into an [`IncidentData`].
    ///
    /// # Errors
    /// The first source that fails to decode, as [`Error::Decode`] naming it; [`Error::Io`] or
    /// [`Error::SourceTooLarge`] for unreadable files.
    pub fn decode(&self) -> Result<IncidentData> {
        self.decode_sources(false)
    }

    /// Loads a bundle and decodes it, reading and hashing every source once: each recorded
    /// sha256 is checked (when `options.verify_hashes`) against the very bytes that are then
    /// decoded, where [`Self::load_with`] then [`Self::decode`] read and hash every source
    /// twice. The same checks and errors as the two, a source's hash checked before it is
    /// decoded.
    ///
    /// # Errors
    /// As [`Self::load`] and [`Self::decode`].
    pub fn load_decoded(dir: impl AsRef<Path>, options: LoadOptions) -> Result<(Self, IncidentData)> {
        let verify = options.verify_hashes;
        let mut bundle = Self::load_with(dir, options.clone().with_verify_hashes(false))?;
        bundle.options = options;
        let data = bundle.decode_sources(verify)?;
        Ok((bundle, data))
    }

    /// [`Self::decode`], checking each source's recorded sha256 first when `verify`.
    fn decode_sources(&self, verify: bool) -> Result<IncidentData> {
        let mut data = IncidentData::new(self.incident());
        for (si, spec) in self.manifest.sources.iter().enumerate() {
            let mut report = DecodeReport::default();
            let full = self.resolve(&spec.path)?;
            let is_dir = full.is_dir();
            let files = self.read_source(spec)?;
            let sha256 = source_hash(is_dir, &files);
            if verify {
                expect_sealed(spec, full, sha256)?;
            }
            for (rel, bytes) in files {
                let name =
                    if is_dir { format!("{}/{rel}", spec.path.trim_end_matches('/')) } else { spec.path.clone() };
                let decoded = decode_bytes(spec.format, &name, &bytes, &spec.options)?;
                report.merge(decoded.report);
                match decoded.records {
                    Records::Metrics(s) => {
                        data.series_source.extend(std::iter::repeat_n(si, s.len()));
                        data.series.extend(s);
                    }
                    Records::Logs(l) => data.logs.extend(l),
                    Records::Changes(c) => {
                        data.change_source.extend(std::iter::repeat_n(si, c.len()));
                        data.changes.extend(c);
                    }
                    Records::Topology(t) => data.topology.merge(&t),
                    Records::Alerts(a) => data.alerts.extend(a),
                    Records::Knowledge(k) => data.knowledge.extend(k),
                    Records::Policies(p) => data.policies.extend(p),
                }
            }
            data.sources.push(SourceSummary { path: spec.path.clone(), format: spec.format, sha256, report });
        }
        let mut changes: Vec<(ChangeEvent, usize)> =
            std::mem::take(&mut data.changes).into_iter().zip(std::mem::take(&mut data.change_source)).collect();
        changes.sort_by(|(a, _), (b, _)| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)));
        (data.changes, data.change_source) = changes.into_iter().unzip();
        data.topology.merge(&Topology::infer_from_mesh(&data.series));
        Ok(data)
    }

    // ------------------------------------------------------------ internals

    fn manifest_error(&self, field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Manifest { path: self.manifest_path.clone(), field: field.into(), message: message.into() }
    }

    fn validate(&self) -> Result<()> {
        let m = &self.manifest;
        if m.format != MANIFEST_FORMAT {
            return Err(self.manifest_error("format", format!("expected `{MANIFEST_FORMAT}`, found `{}`", m.format)));
        }
        if m.incident.id.trim().is_empty() {
            return Err(self.manifest_error("incident.id", "must not be empty"));
        }
        if let Some(w) = m.incident.window
            && !w.contains(m.incident.detected_at)
        {
            return Err(self.manifest_error(
                "incident.window",
                format!("detected_at {} is outside the window {w}", m.incident.detected_at),
            ));
        }
        if m.sources.is_empty() {
            return Err(self.manifest_error("sources", "at least one source is required"));
        }
        for (i, s) in m.sources.iter().enumerate() {
            if s.format.kind() != s.kind {
                return Err(self.manifest_error(
                    format!("sources[{i}].format"),
                    format!("`{}` is not a format of kind `{:?}`", s.format.as_str(), s.kind).to_lowercase(),
                ));
            }
            let full = self.resolve(&s.path)?;
            let meta = std::fs::metadata(&full).map_err(|_| Error::MissingSource {
                manifest: self.manifest_path.clone(),
                source_path: s.path.clone(),
            })?;
            if meta.is_dir() && !s.format.allows_directory() {
                return Err(self.manifest_error(
                    format!("sources[{i}].path"),
                    format!("`{}` is a directory; {} needs a file", s.path, s.format.as_str()),
                ));
            }
            if meta.is_file() && meta.len() > self.options.max_source_bytes {
                return Err(Error::SourceTooLarge {
                    path: full,
                    size: meta.len(),
                    limit: self.options.max_source_bytes,
                });
            }
            if self.options.verify_hashes && s.sha256.is_some() {
                expect_sealed(s, full, self.hash_source(s)?)?;
            }
        }
        Ok(())
    }

    /// Resolves a manifest path, refusing anything that leaves the bundle directory (absolute
    /// paths, `..` that climbs out, symlinks that point outside).
    fn resolve(&self, rel: &str) -> Result<PathBuf> {
        let escapes =
            || Error::PathEscapesBundle { manifest: self.manifest_path.clone(), source_path: rel.to_string() };
        let p = Path::new(rel);
        if rel.is_empty() {
            return Err(self.manifest_error("sources.path", "must not be empty"));
        }
        let mut depth = 0i32;
        for c in p.components() {
            match c {
                Component::Normal(_) => depth += 1,
                Component::CurDir => {}
                Component::ParentDir => {
                    depth -= 1;
                    if depth < 0 {
                        return Err(escapes());
                    }
                }
                Component::RootDir | Component::Prefix(_) => return Err(escapes()),
            }
        }
        let full = self.dir.join(p);
        if let (Ok(root), Ok(real)) = (self.dir.canonicalize(), full.canonicalize())
            && !real.starts_with(&root)
        {
            return Err(escapes());
        }
        Ok(full)
    }

    /// The files of a source: `("", path)` for a file, `(relative name, path)` for each
    /// matching file of a directory, sorted. Symlinks inside directories are not followed.
    fn source_files(&self, spec: &SourceSpec) -> Result<Vec<(String, PathBuf)>> {
        let full = self.resolve(&spec.path)?;
        if !full.is_dir() {
            return Ok(vec![(String::new(), full)]);
        }
        let mut out = Vec::new();
        let mut stack = vec![(String::new(), full)];
        while let Some((prefix, dir)) = stack.pop() {
            let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| Error::io(&dir, e))?;
                let ft = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let rel = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
                if ft.is_dir() {
                    stack.push((rel, entry.path()));
                } else if ft.is_file()
                    && Path::new(&name)
                        .extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| spec.format.file_extensions().contains(&e))
                {
                    out.push((rel, entry.path()));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn read_limited(&self, path: &Path) -> Result<Vec<u8>> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.len() > self.options.max_source_bytes {
            return Err(Error::SourceTooLarge {
                path: path.to_path_buf(),
                size: meta.len(),
                limit: self.options.max_source_bytes,
            });
        }
        std::fs::read(path).map_err(|e| Error::io(path, e))
    }

    /// The content hash of a source: the file's sha256, or for a directory the sha256 over
    /// each matching file's relative name and contents, length-prefixed, in name order.
    fn hash_source(&self, spec: &SourceSpec) -> Result<ContentHash> {
        let full = self.resolve(&spec.path)?;
        if full.is_file() {
            return ContentHash::of_file(&full);
        }
        Ok(source_hash(true, &self.read_source(spec)?))
    }

    /// Every file of a source, read, with its name relative to the source (empty for a file
    /// source), in name order.
    fn read_source(&self, spec: &SourceSpec) -> Result<Vec<(String, Vec<u8>)>> {
        self.source_files(spec)?.into_iter().map(|(rel, path)| Ok((rel, self.read_limited(&path)?))).collect()
    }
}

/// A source's content hash from its files (as [`Bundle::read_source`] gives them): a file's
/// sha256, or for a directory the sha256 over each file's relative name and contents,
/// length-prefixed, in name order. Sealing, loading and decoding all hash through this.
fn source_hash(is_dir: bool, files: &[(String, Vec<u8>)]) -> ContentHash {
    if !is_dir {
        return files.first().map_or_else(|| ContentHash::of(&[]), |(_, bytes)| ContentHash::of(bytes));
    }
    let mut h = ContentHasher::new();
    for (rel, bytes) in files {
        h.part(rel.as_bytes()).part(bytes);
    }
    h.finish()
}

/// [`Error::Sha256Mismatch`] when a source has a sealed hash and `actual` differs from it.
fn expect_sealed(spec: &SourceSpec, path: PathBuf, actual: ContentHash) -> Result<()> {
    match spec.sha256 {
        Some(expected) if expected != actual => {
            Err(Error::Sha256Mismatch { path, expected: expected.to_string(), actual: actual.to_string() })
        }
        _ => Ok(()),
    }
}

fn parse_manifest(path: &Path, text: &str) -> Result<Manifest> {
    let err = |field: String, message: String| Error::Manifest { path: path.to_path_buf(), field, message };
    if path.extension().is_some_and(|e| e == "json") {
        let mut de = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(&mut de).map_err(|e| err(e.path().to_string(), e.into_inner().to_string()))
    } else {
        let de = serde_yaml_ng::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| err(e.path().to_string(), e.into_inner().to_string()))
    }
}

/// Quotes plain scalars that a YAML 1.1 reader (PyYAML, Ruby's Psych) would read as timestamps
/// rather than strings, so `detected_at: 2026-11-16T09:50:00Z` stays an RFC 3339 string for
/// every reader of the manifest (serde_yaml_ng writes YAML 1.2, where it is a string already).
fn quote_yaml11_timestamps(text: &str) -> String {
    let looks_like_time = |v: &str| {
        let b = v.as_bytes();
        b.len() >= 10
            && b.iter().take(4).all(u8::is_ascii_digit)
            && b.get(4) == Some(&b'-')
            && b.get(7) == Some(&b'-')
            && v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | ':' | '.' | '+'))
    };
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.lines() {
        let value_at = line.find(": ").map(|i| i + 2).or_else(|| {
            let indent = line.len() - line.trim_start().len();
            line.trim_start().starts_with("- ").then_some(indent + 2)
        });
        match value_at.and_then(|i| Some((line.get(..i)?, line.get(i..)?))) {
            Some((key, v)) if looks_like_time(v) => {
                out.push_str(key);
                out.push('\'');
                out.push_str(v);
                out.push('\'');
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod yaml11_tests {
    use super::quote_yaml11_timestamps;

    #[test]
    fn timestamps_are_quoted_and_nothing_else_changes() {
        let t = "incident:\n  id: x\n  detected_at: 2026-11-16T09:50:00Z\n  window:\n    start: 2026-11-16T07:50:00.5Z\nservices:\n- 2026-01-01\n- web\n";
        let q = quote_yaml11_timestamps(t);
        assert_eq!(
            q,
            "incident:\n  id: x\n  detected_at: '2026-11-16T09:50:00Z'\n  window:\n    start: '2026-11-16T07:50:00.5Z'\nservices:\n- '2026-01-01'\n- web\n"
        );
        let back: serde_yaml_ng::Value = serde_yaml_ng::from_str(&q).unwrap();
        assert_eq!(back["incident"]["detected_at"].as_str(), Some("2026-11-16T09:50:00Z"));
    }
}
