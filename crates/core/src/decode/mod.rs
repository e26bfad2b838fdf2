//! Decoders for every source format of bundle v1.
//!
//! Each decoder takes the bytes of one source file and returns typed records plus a
//! [`DecodeReport`] that counts what was read, what was skipped and why. A decoder never
//! panics: malformed input gives an [`Error::Decode`] that names the file and the line,
//! field or JSON path, and what was expected. Documented normalisations (not errors):
//! - metric samples out of time order are sorted, samples with equal timestamps keep the
//!   last value (both counted in the report);
//! - `NaN`, `+Inf` and `-Inf` sample values are kept as IEEE values;
//! - Unix timestamps of unknown unit are read by magnitude ([`Timestamp::from_unix_auto`]);
//! - invalid UTF-8 in text logs is replaced with U+FFFD and counted;
//! - log lines that are not JSON where JSON is expected, or records of a kind the format
//!   carries but that are not changes (Kubernetes events such as `Pulled`), are skipped and
//!   counted, never dropped silently.

pub mod alertmanager;
pub mod argocd;
pub mod changes;
pub mod csv_wide;
pub mod elasticsearch;
pub mod github;
pub mod jsonl;
pub mod k8s_events;
pub mod loki;
mod loki_stream;
pub mod markdown;
pub mod openmetrics;
pub mod pagerduty;
pub mod prometheus;
pub mod raw;
pub mod rego;
pub mod topology;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::alert::Alert;
use crate::bundle::{SourceFormat, SourceOptions};
use crate::change::ChangeEvent;
use crate::error::{Error, Location, Result};
use crate::knowledge::{KnowledgeDoc, PolicyFile};
use crate::labels::Labels;
use crate::log::LogRecord;
use crate::series::MetricSeries;
use crate::time::Timestamp;
use crate::topology::Topology;

/// How many warnings a report keeps verbatim; the rest are only counted.
pub const MAX_WARNINGS: usize = 50;

/// What a decoder read, skipped and normalised.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DecodeReport {
    /// Records produced (series, log lines, changes, alerts, sections, files).
    pub records: u64,
    /// Input records skipped (each counted here and, up to [`MAX_WARNINGS`], described).
    pub skipped: u64,
    /// Samples or records changed by a documented normalisation (reordering, duplicate
    /// timestamps folded, invalid UTF-8 replaced).
    pub normalized: u64,
    /// Descriptions of skipped and normalised records, first [`MAX_WARNINGS`] only.
    pub warnings: Vec<String>,
    /// Warnings beyond [`MAX_WARNINGS`], counted but not kept.
    pub warnings_truncated: u64,
}

impl DecodeReport {
    pub(crate) fn warn(&mut self, location: &Location, message: impl std::fmt::Display) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(format!("{location}: {message}"));
        } else {
            self.warnings_truncated += 1;
        }
    }

    pub(crate) fn skip(&mut self, location: &Location, message: impl std::fmt::Display) {
        self.skipped += 1;
        self.warn(location, format_args!("skipped: {message}"));
    }

    /// Folds another report into this one.
    pub fn merge(&mut self, other: Self) {
        self.records += other.records;
        self.skipped += other.skipped;
        self.normalized += other.normalized;
        self.warnings_truncated += other.warnings_truncated;
        for w in other.warnings {
            if self.warnings.len() < MAX_WARNINGS {
                self.warnings.push(w);
            } else {
                self.warnings_truncated += 1;
            }
        }
    }
}

/// Typed records of one source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", content = "records", rename_all = "snake_case")]
pub enum Records {
    /// Metric series.
    Metrics(Vec<MetricSeries>),
    /// Log lines.
    Logs(Vec<LogRecord>),
    /// Change events.
    Changes(Vec<ChangeEvent>),
    /// A service graph.
    Topology(Topology),
    /// Alerts.
    Alerts(Vec<Alert>),
    /// Knowledge documents.
    Knowledge(Vec<KnowledgeDoc>),
    /// Policy files.
    Policies(Vec<PolicyFile>),
}

/// Records and the report of one decoded source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Decoded {
    /// The records.
    pub records: Records,
    /// What was read and skipped.
    pub report: DecodeReport,
}

/// Decodes one file's bytes. `source` is the name used in errors and in records
/// (the bundle-relative path). Directory sources (markdown, rego) go through
/// [`crate::Bundle::decode`], which reads each file and calls this per file.
///
/// # Errors
/// [`Error::Decode`] naming `source` and the location of the problem.
pub fn decode_bytes(format: SourceFormat, source: &str, bytes: &[u8], options: &SourceOptions) -> Result<Decoded> {
    let mut report = DecodeReport::default();
    let records = match format {
        SourceFormat::PrometheusQueryRange => {
            Records::Metrics(prometheus::decode(source, bytes, options, &mut report)?)
        }
        SourceFormat::Openmetrics => Records::Metrics(openmetrics::decode(source, bytes, options, &mut report)?),
        SourceFormat::CsvWide => Records::Metrics(csv_wide::decode(source, bytes, options, &mut report)?),
        SourceFormat::LokiQueryRange => Records::Logs(loki::decode(source, bytes, options, &mut report)?),
        SourceFormat::ElasticsearchHits => Records::Logs(elasticsearch::decode(source, bytes, options, &mut report)?),
        SourceFormat::Jsonl => Records::Logs(jsonl::decode(source, bytes, options, &mut report)?),
        SourceFormat::Raw => Records::Logs(raw::decode(source, bytes, options, &mut report)?),
        SourceFormat::ArgocdHistory => Records::Changes(argocd::decode(source, bytes, options, &mut report)?),
        SourceFormat::GithubDeployments => Records::Changes(github::decode(source, bytes, options, &mut report)?),
        SourceFormat::K8sEvents => Records::Changes(k8s_events::decode(source, bytes, options, &mut report)?),
        SourceFormat::FaultlensChanges => Records::Changes(changes::decode(source, bytes, options, &mut report)?),
        SourceFormat::FaultlensTopology => Records::Topology(topology::decode(source, bytes, options, &mut report)?),
        SourceFormat::PagerdutyIncidents => Records::Alerts(pagerduty::decode(source, bytes, options, &mut report)?),
        SourceFormat::Alertmanager => Records::Alerts(alertmanager::decode(source, bytes, options, &mut report)?),
        SourceFormat::Markdown => Records::Knowledge(markdown::decode(source, bytes, options, &mut report)?),
        SourceFormat::Rego => Records::Policies(rego::decode(source, bytes, options, &mut report)?),
    };
    Ok(Decoded { records, report })
}

// ---------------------------------------------------------------- shared helpers

/// Parses JSON into `T`; on failure re-parses with path tracking so the error names the
/// JSON path (the fast path pays nothing for it).
pub(crate) fn parse_json<'de, T: Deserialize<'de>>(source: &str, bytes: &'de [u8], expected: &str) -> Result<T> {
    match serde_json::from_slice::<T>(bytes) {
        Ok(v) => Ok(v),
        Err(first) => {
            let mut de = serde_json::Deserializer::from_slice(bytes);
            let (path, msg) = match serde_path_to_error::deserialize::<_, T>(&mut de) {
                Err(e) => {
                    let p = e.path().to_string();
                    (p, e.into_inner().to_string())
                }
                Ok(_) => (".".to_string(), first.to_string()),
            };
            Err(Error::decode(source, Location::JsonPath { path }, expected, msg))
        }
    }
}

/// [`parse_json`] for a JSON fragment found at `prefix` in the file, so that error paths name
/// the place in the whole document (`data.result[3].values[7]`).
pub(crate) fn parse_json_at<'de, T: Deserialize<'de>>(
    source: &str,
    bytes: &'de [u8],
    expected: &str,
    prefix: &str,
) -> Result<T> {
    parse_json(source, bytes, expected).map_err(|e| match e {
        Error::Decode { location: Location::JsonPath { path }, expected, found, .. } => Error::decode(
            source,
            Location::JsonPath { path: format!("{prefix}{}", path.trim_start_matches('.')) },
            expected,
            found,
        ),
        other => other,
    })
}

/// The text of one line (without its LF): a trailing CR dropped, invalid UTF-8 replaced with
/// U+FFFD (the result is `Cow::Owned` exactly when something was replaced or copied).
#[must_use]
pub fn line_text(line: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line))
}

/// Splits text into lines (LF or CRLF), decoding each as UTF-8 with replacement; yields
/// `(1-based line number, text)`. Invalid UTF-8 is counted in `report.normalized`.
pub(crate) fn text_lines<'a>(
    bytes: &'a [u8],
    report: &'a mut DecodeReport,
) -> impl Iterator<Item = (u64, std::borrow::Cow<'a, str>)> + 'a {
    let mut n = 0u64;
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let empty = bytes.is_empty();
    body.split(|&b| b == b'\n').filter(move |_| !empty).map(move |line| {
        n += 1;
        let text = line_text(line);
        if matches!(text, std::borrow::Cow::Owned(_)) {
            report.normalized += 1;
            report.warn(&Location::Line { line: n }, "invalid UTF-8 replaced with U+FFFD");
        }
        (n, text)
    })
}

/// Reads an option as a string.
pub(crate) fn opt_str<'a>(options: &'a SourceOptions, key: &str) -> Option<&'a str> {
    options.get(key).and_then(|v| v.as_str())
}

/// Reads an option as a list of strings (a string is a one-item list).
pub(crate) fn opt_list(options: &SourceOptions, key: &str) -> Vec<String> {
    match options.get(key) {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

/// Looks up a dotted path (`kubernetes.labels.app`) in a JSON object; a key containing the
/// dots literally wins over nested lookup.
pub(crate) fn json_get<'a>(v: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    if let Some(x) = v.get(path) {
        return Some(x);
    }
    let mut cur = v;
    for part in path.split('.') {
        cur = cur.get(part)?;
    }
    Some(cur)
}

/// A JSON scalar as text (strings verbatim, numbers and booleans printed).
pub(crate) fn json_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A timestamp from a JSON value: RFC 3339 (or a few common layouts) string, or a Unix
/// number / numeric string of any unit.
pub(crate) fn json_time(v: &serde_json::Value) -> Option<Timestamp> {
    match v {
        serde_json::Value::String(s) => parse_time_text(s),
        serde_json::Value::Number(n) => n.as_f64().and_then(|f| Timestamp::from_unix_auto(f).ok()),
        _ => None,
    }
}

/// Parses a timestamp written as text: RFC 3339, `YYYY-MM-DD HH:MM:SS[.fff|,fff]` (UTC
/// assumed), or a Unix number of any unit.
pub(crate) fn parse_time_text(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if let Ok(t) = Timestamp::parse_rfc3339(s) {
        return Some(t);
    }
    if let Ok(f) = s.parse::<f64>() {
        return Timestamp::from_unix_auto(f).ok();
    }
    let norm = s.replacen(',', ".", 1);
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y/%m/%d %H:%M:%S%.f", "%d/%b/%Y:%H:%M:%S%.f"] {
        if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(&norm, fmt) {
            return Some(Timestamp::from_millis(dt.and_utc().timestamp_millis()));
        }
    }
    if let Ok(dt) = chrono::DateTime::parse_from_str(&norm, "%d/%b/%Y:%H:%M:%S %z") {
        return Some(Timestamp::from_millis(dt.timestamp_millis()));
    }
    None
}

/// Accumulates samples into series keyed by name and labels, in order of first
/// appearance, then normalises each one.
#[derive(Default)]
pub(crate) struct SeriesBuilder {
    index: BTreeMap<(String, Labels), usize>,
    series: Vec<MetricSeries>,
}

impl SeriesBuilder {
    pub(crate) fn series_mut(&mut self, name: &str, labels: &Labels) -> Option<&mut MetricSeries> {
        let key = (name.to_string(), labels.clone());
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                let i = self.series.len();
                self.series.push(MetricSeries::new(name, labels.clone(), Vec::new(), Vec::new()).ok()?);
                self.index.insert(key, i);
                i
            }
        };
        self.series.get_mut(i)
    }

    pub(crate) fn finish(mut self, report: &mut DecodeReport) -> Vec<MetricSeries> {
        for s in &mut self.series {
            let r = s.normalize();
            if r.reordered || r.duplicates_merged > 0 {
                report.normalized += r.duplicates_merged as u64 + u64::from(r.reordered);
                report.warn(
                    &Location::File,
                    format_args!(
                        "{}: {}{} samples with duplicate timestamps folded",
                        s.selector(),
                        if r.reordered { "samples sorted by time; " } else { "" },
                        r.duplicates_merged
                    ),
                );
            }
        }
        report.records += self.series.len() as u64;
        self.series
    }
}

/// Parses a sample value as Prometheus writes it (`NaN`, `+Inf`, `-Inf`, decimals).
pub(crate) fn parse_sample_value(s: &str) -> Option<f64> {
    match s {
        "NaN" | "nan" => Some(f64::NAN),
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse::<f64>().ok(),
    }
}

/// Test helper: decode a fixture with default options.
#[cfg(test)]
pub(crate) fn decode_fixture(format: SourceFormat, bytes: &[u8]) -> Result<Decoded> {
    decode_bytes(format, "fixture", bytes, &SourceOptions::new())
}
