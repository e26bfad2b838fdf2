//! Log anomaly signals for an incident window: templates never seen in the baseline, templates
//! whose rate jumps, and error-severity surges, each with an [`Evidence`] item.
//!
//! The baseline is everything before the window. A rate jump is a Poisson upper-tail test of
//! the window's count against the baseline rate scaled to the window's length (with half a
//! line of prior, so a template absent from the baseline still has a rate).

use faultlens_core::{ContentHash, Evidence, LogRecord, Severity, TimeRange, Timestamp};

use crate::metrics::{StreamConfig, score_streaming};
use serde::{Deserialize, Serialize};

use super::miner::{MinerConfig, TemplateId, TemplateMiner};

/// Settings of [`log_signals`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignalConfig {
    /// A rate jump is reported when its Poisson tail probability is at most this.
    pub max_p: f64,
    /// ... and the window's rate is at least this many times the baseline's.
    pub min_ratio: f64,
    /// Example lines kept per signal.
    pub examples: usize,
    /// Width of the bins of the per-template count series scored by the streaming metric
    /// detector, in milliseconds.
    pub bin_ms: i64,
    /// Detector score a surge must reach in the window when the baseline has at least
    /// [`Self::detector_min_bins`] bins (1/3 is a tail probability of 1e-2 against the
    /// template's own history, the level at which the detector opens an event, so a bursty
    /// template's usual bursts do not count).
    pub detector_threshold: f64,
    /// Baseline bins the detector needs before its verdict is required.
    pub detector_min_bins: usize,
    /// The miner's settings.
    pub miner: MinerConfig,
}

impl Default for SignalConfig {
    fn default() -> Self {
        Self {
            max_p: 1e-3,
            min_ratio: 2.0,
            examples: 3,
            bin_ms: 60_000,
            detector_threshold: 1.0 / 3.0,
            detector_min_bins: 120,
            miner: MinerConfig::default(),
        }
    }
}

/// What a signal says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// A template that never occurred in the baseline.
    NewTemplate,
    /// A template whose rate jumped.
    RateSurge,
    /// Lines of error severity or worse (all templates together) surged.
    ErrorSurge,
}

/// An example line behind a signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogExample {
    /// The bundle-relative source file.
    pub source: String,
    /// 1-based line in it.
    pub line: u64,
    /// The message.
    pub text: String,
}

/// One log anomaly signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogSignal {
    /// What it says.
    pub kind: SignalKind,
    /// The service whose lines these are, when known (counts are per service).
    pub service: Option<String>,
    /// The template (none for an error surge across templates).
    pub template_id: Option<TemplateId>,
    /// The template text (`severity >= error` for an error surge).
    pub template: String,
    /// Lines in the baseline.
    pub baseline_count: u64,
    /// Lines in the window.
    pub window_count: u64,
    /// Poisson tail probability of the window's count under the baseline rate (it underflows
    /// to 0 for overwhelming surges; `neg_log10_p` keeps the strength).
    pub p_value: f64,
    /// `-log10` of the tail probability.
    pub neg_log10_p: f64,
    /// Highest score of the streaming metric detector on the template's count series (per
    /// [`SignalConfig::bin_ms`]) inside the window.
    pub detector_score: f64,
    /// Start of the first bin in the window where the detector's score reached the threshold.
    pub onset: Option<Timestamp>,
    /// The first lines in the window.
    pub examples: Vec<LogExample>,
    /// Evidence: the template id, the window, the hash of the window's lines.
    pub evidence: Evidence,
}

/// The signals of a window, and what could not be used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogSignals {
    /// Signals, strongest (smallest p) first.
    pub signals: Vec<LogSignal>,
    /// The baseline used (from the first timed line to the window's start), when there is one.
    pub baseline: Option<TimeRange>,
    /// Lines without a timestamp, which can be in neither period.
    pub untimed: u64,
}

/// The signal period of an incident: from `lead_minutes` before the alert fired (but not
/// before the incident window) to the window's end; [`log_signals`] takes what comes before as
/// the baseline.
///
/// # Errors
/// When the window ends before the period would start (a malformed incident).
pub fn signal_window(
    window: TimeRange,
    detected_at: Timestamp,
    lead_minutes: u32,
) -> faultlens_core::Result<TimeRange> {
    let from = Timestamp::from_millis(detected_at.as_millis().saturating_sub(i64::from(lead_minutes) * 60_000));
    TimeRange::new(from.max(window.start), window.end)
}

/// Per-template tallies.
#[derive(Default)]
struct Tally {
    baseline: u64,
    window: u64,
    lines: Vec<usize>,
    /// Lines per bin, from the baseline's start to the window's end.
    bins: Vec<u32>,
}

impl Tally {
    fn count(&mut self, bin: usize, bins: usize) {
        if self.bins.is_empty() {
            self.bins = vec![0; bins];
        }
        if let Some(b) = self.bins.get_mut(bin) {
            *b = b.saturating_add(1);
        }
    }
}

/// Finds the log anomaly signals of `window` in `records` (any order).
#[must_use]
pub fn log_signals(records: &[LogRecord], window: TimeRange, config: &SignalConfig) -> LogSignals {
    let untimed = records.iter().filter(|r| r.timestamp.is_none()).count() as u64;
    let first = records.iter().filter_map(|r| r.timestamp).min();
    let baseline = first.filter(|f| *f < window.start).and_then(|f| TimeRange::new(f, window.start).ok());
    let Some(baseline) = baseline else {
        return LogSignals { signals: Vec::new(), baseline: None, untimed };
    };
    let mut order: Vec<usize> =
        (0..records.len()).filter(|&i| records.get(i).is_some_and(|r| r.timestamp.is_some())).collect();
    // by time, then file and line (borrowed keys: no reference counts touched per comparison)
    let key = |i: usize| records.get(i).map(|r| (r.timestamp, &*r.source, r.line));
    order.sort_by(|&a, &b| key(a).cmp(&key(b)));
    let mut miner = TemplateMiner::new(config.miner.clone());
    let clusters: Vec<(usize, _)> =
        order.iter().filter_map(|&i| records.get(i).map(|r| (i, miner.add(&r.message)))).collect();
    miner.finish();
    let bin_ms = config.bin_ms.max(1);
    let n_bins = ((window.end.as_millis() - baseline.start.as_millis()) / bin_ms + 1).clamp(1, 10_000_000) as usize;
    let window_bin = ((window.start.as_millis() - baseline.start.as_millis()) / bin_ms).max(0) as usize;
    type Key = (Option<String>, TemplateId);
    let mut tallies: std::collections::BTreeMap<Key, (String, Tally)> = std::collections::BTreeMap::new();
    let mut errors: std::collections::BTreeMap<Option<String>, Tally> = std::collections::BTreeMap::new();
    for (i, c) in clusters {
        let (Some(r), Some(t)) = (records.get(i), miner.template_of(c)) else { continue };
        let Some(ts) = r.timestamp else { continue };
        let in_window = window.contains(ts);
        let in_baseline = ts < window.start;
        if !in_window && !in_baseline {
            continue;
        }
        let service = r.service.as_deref().map(str::to_string);
        let entry =
            tallies.entry((service.clone(), t.id.clone())).or_insert_with(|| (t.text.clone(), Tally::default()));
        let error = r.level.is_some_and(Severity::is_error);
        let error_tally = if error { Some(errors.entry(service).or_default()) } else { None };
        let bin = ((ts.as_millis() - baseline.start.as_millis()) / bin_ms).max(0) as usize;
        for tally in std::iter::once(&mut entry.1).chain(error_tally) {
            tally.count(bin, n_bins);
            if in_window {
                tally.window += 1;
                tally.lines.push(i);
            } else {
                tally.baseline += 1;
            }
        }
    }
    let scale = window.duration_millis().max(1) as f64 / baseline.duration_millis().max(1) as f64;
    let mut signals = Vec::new();
    let mut consider = |service: Option<String>, id: Option<TemplateId>, text: String, tally: &Tally, error: bool| {
        if tally.window == 0 {
            return;
        }
        let expected = (tally.baseline as f64 + 0.5) * scale;
        let ln_p = poisson_tail_ln(tally.window, expected);
        let p = ln_p.exp();
        let new = tally.baseline == 0 && !error;
        let poisson_surge = p <= config.max_p && tally.window as f64 >= config.min_ratio * expected;
        if !(new || poisson_surge) {
            return;
        }
        // the template's count series through the streaming detector: a surge must also be rare
        // against the template's own history when there is enough of it
        let ts: Vec<i64> = (0..tally.bins.len() as i64).map(|b| baseline.start.as_millis() + b * bin_ms).collect();
        let values: Vec<f64> = tally.bins.iter().map(|&c| f64::from(c)).collect();
        let scores = score_streaming(&ts, &values, &StreamConfig::default());
        let in_window = scores.get(window_bin..).unwrap_or_default();
        let detector_score = in_window.iter().map(|s| s.score).fold(0.0, f64::max);
        let onset = in_window
            .iter()
            .position(|s| s.score >= config.detector_threshold)
            .and_then(|k| ts.get(window_bin + k))
            .map(|&t| Timestamp::from_millis(t));
        let detector_ok = window_bin < config.detector_min_bins || detector_score >= config.detector_threshold;
        let surge = poisson_surge && detector_ok;
        if !(new || surge) {
            return;
        }
        let kind = if error {
            SignalKind::ErrorSurge
        } else if new {
            SignalKind::NewTemplate
        } else {
            SignalKind::RateSurge
        };
        let mut bytes = Vec::new();
        for r in tally.lines.iter().filter_map(|&i| records.get(i)) {
            bytes.extend_from_slice(format!("{}:{}:{}\n", r.source, r.line, r.message).as_bytes());
        }
        let examples: Vec<LogExample> = tally
            .lines
            .iter()
            .filter_map(|&i| records.get(i))
            .take(config.examples)
            .map(|r| LogExample { source: r.source.to_string(), line: r.line, text: r.message.clone() })
            .collect();
        let source = examples.first().map(|e| e.source.clone()).unwrap_or_default();
        let scope = service.as_deref().map(|s| format!(" service:{s}")).unwrap_or_default();
        let query = id.as_ref().map_or_else(|| format!("severity>=error{scope}"), |t| format!("template:{t}{scope}"));
        let detail = format!(
            "{} lines in the window, {} in the {:.0} min before it (expected {:.1}); p = 1e-{:.1}",
            tally.window,
            tally.baseline,
            baseline.duration_millis() as f64 / 60_000.0,
            expected,
            -ln_p / std::f64::consts::LN_10
        );
        let evidence = Evidence::new(source, query, ContentHash::of(&bytes), detail).with_range(window);
        signals.push(LogSignal {
            kind,
            service,
            template_id: id,
            template: text,
            baseline_count: tally.baseline,
            window_count: tally.window,
            p_value: p,
            neg_log10_p: -ln_p / std::f64::consts::LN_10,
            detector_score,
            onset,
            examples,
            evidence,
        });
    };
    for ((service, id), (text, tally)) in &tallies {
        consider(service.clone(), Some(id.clone()), text.clone(), tally, false);
    }
    for (service, tally) in &errors {
        consider(service.clone(), None, "severity >= error".into(), tally, true);
    }
    signals.sort_by(|a, b| {
        b.neg_log10_p
            .total_cmp(&a.neg_log10_p)
            .then_with(|| a.service.cmp(&b.service))
            .then_with(|| a.template_id.cmp(&b.template_id))
    });
    LogSignals { signals, baseline: Some(baseline), untimed }
}

/// `ln P(X >= k)` for `X ~ Poisson(mu)`, summed in log space from `k` up (no underflow).
fn poisson_tail_ln(k: u64, mu: f64) -> f64 {
    if k == 0 {
        return 0.0;
    }
    if mu <= 0.0 {
        return f64::NEG_INFINITY;
    }
    let kf = k as f64;
    let first = -mu + kf * mu.ln() - ln_factorial(k);
    // terms relative to the first: t_{i+1} / t_i = mu / (i + 1)
    let mut rel = 1.0f64;
    let mut sum = 0.0f64;
    let mut i = kf;
    for _ in 0..1_000_000 {
        sum += rel;
        i += 1.0;
        rel *= mu / i;
        if rel < sum * 1e-16 || !rel.is_finite() {
            break;
        }
    }
    (first + sum.ln()).min(0.0)
}

#[cfg(test)]
fn poisson_tail(k: u64, mu: f64) -> f64 {
    poisson_tail_ln(k, mu).exp()
}

/// `ln(k!)`: exact below 30, Stirling's series above.
fn ln_factorial(k: u64) -> f64 {
    if k < 30 {
        return (2..=k).map(|i| (i as f64).ln()).sum();
    }
    let n = k as f64;
    n * n.ln() - n + 0.5 * (std::f64::consts::TAU * n).ln() + 1.0 / (12.0 * n) - 1.0 / (360.0 * n * n * n)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use faultlens_core::{Labels, Timestamp};

    use super::*;

    fn rec(line: u64, minute: i64, level: Severity, msg: &str) -> LogRecord {
        let src: Arc<str> = "logs/app.log".into();
        LogRecord::new(
            &src,
            line,
            Some(Timestamp::from_millis(minute * 60_000)),
            Some("cart"),
            Some(level),
            Labels::new(),
            msg.into(),
        )
    }

    #[test]
    fn poisson_tail_matches_known_values() {
        assert!((poisson_tail(1, 1.0) - (1.0 - (-1.0f64).exp())).abs() < 1e-12);
        // P(X >= 10 | mu = 2) = 4.6e-5
        assert!((poisson_tail(10, 2.0) - 4.649_807e-5).abs() < 1e-9);
        assert!(poisson_tail(500, 10.0) < 1e-200);
        assert!(poisson_tail_ln(5000, 10.0) < -20_000.0);
        assert_eq!(poisson_tail_ln(0, 3.0), 0.0);
        assert!((poisson_tail(40, 40.0) - 0.521_029).abs() < 1e-5);
    }

    #[test]
    fn new_templates_surges_and_errors() {
        let mut recs = Vec::new();
        let mut line = 0;
        for m in 0..600 {
            line += 1;
            recs.push(rec(line, m, Severity::Info, &format!("GET /cart/{m} 200 in {}ms", m % 13)));
            if m % 60 == 0 {
                line += 1;
                recs.push(rec(line, m, Severity::Error, &format!("payment timeout after {m}ms")));
            }
        }
        for m in 600..630 {
            for _ in 0..3 {
                line += 1;
                recs.push(rec(line, m, Severity::Error, &format!("payment timeout after {m}ms")));
            }
            line += 1;
            recs.push(rec(line, m, Severity::Error, "connection pool exhausted for db-7"));
        }
        let window =
            TimeRange::new(Timestamp::from_millis(600 * 60_000), Timestamp::from_millis(630 * 60_000)).unwrap();
        let out = log_signals(&recs, window, &SignalConfig::default());
        let kinds: Vec<(SignalKind, &str)> = out.signals.iter().map(|s| (s.kind, s.template.as_str())).collect();
        assert!(kinds.contains(&(SignalKind::NewTemplate, "connection pool exhausted for db-<*>")), "{kinds:?}");
        assert!(kinds.contains(&(SignalKind::RateSurge, "payment timeout after <*>")), "{kinds:?}");
        assert!(kinds.iter().any(|(k, _)| *k == SignalKind::ErrorSurge));
        assert!(!kinds.iter().any(|(_, t)| t.starts_with("GET")), "steady traffic is not a signal: {kinds:?}");
        let s = out.signals.iter().find(|s| s.kind == SignalKind::RateSurge).unwrap();
        assert_eq!((s.baseline_count, s.window_count), (10, 90));
        assert_eq!(s.examples.len(), 3);
        assert_eq!(s.evidence.query, format!("template:{} service:cart", s.template_id.clone().unwrap()));
        assert_eq!(s.service.as_deref(), Some("cart"));
        assert_eq!(s.evidence.range, Some(window));
        // deterministic, whatever the input order
        let mut rev = recs.clone();
        rev.reverse();
        assert_eq!(log_signals(&rev, window, &SignalConfig::default()), out);
    }

    #[test]
    fn a_bursty_templates_usual_burst_is_not_a_surge() {
        let mut recs = Vec::new();
        let mut line = 0;
        for m in 0..620 {
            // a cron job: twenty lines every 50 minutes, one line a minute otherwise
            let n = if m % 50 == 7 { 20 } else { 1 };
            for _ in 0..n {
                line += 1;
                recs.push(rec(line, m, Severity::Info, &format!("cron sync batch {line} done")));
            }
        }
        let window =
            TimeRange::new(Timestamp::from_millis(605 * 60_000), Timestamp::from_millis(615 * 60_000)).unwrap();
        let out = log_signals(&recs, window, &SignalConfig::default());
        assert!(out.signals.is_empty(), "{:?}", out.signals.first());
        // the same burst with no history to compare with would have counted
        let short: Vec<LogRecord> =
            recs.iter().filter(|r| r.timestamp.unwrap().as_millis() >= 560 * 60_000).cloned().collect();
        let out = log_signals(&short, window, &SignalConfig::default());
        assert_eq!(out.signals.first().map(|s| s.kind), Some(SignalKind::RateSurge));
    }

    #[test]
    fn no_baseline_means_no_claims() {
        let recs = vec![rec(1, 10, Severity::Error, "boom")];
        let window = TimeRange::new(Timestamp::from_millis(0), Timestamp::from_millis(3_600_000)).unwrap();
        let out = log_signals(&recs, window, &SignalConfig::default());
        assert!(out.signals.is_empty() && out.baseline.is_none());
    }
}
