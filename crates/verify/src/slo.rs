//! Service level objectives: error budgets, burn rates, multi-window multi-burn-rate alerting
//! and Prometheus rules in Sloth's naming.
//!
//! An SLO is an objective (0.999) over a period (30 days) for an events SLI: bad events over
//! all events, which covers ratio SLIs (5xx over requests) and latency SLIs (requests slower
//! than the threshold over requests, from histogram buckets). The error budget is
//! `1 - objective`; the burn rate over a window is the window's bad ratio over the budget (1
//! spends the budget exactly over the period).
//!
//! Alerting follows the SRE workbook's multi-window, multi-burn-rate scheme: an alert fires when
//! both a long and a short window burn faster than a factor. [`BurnWindow::defaults`] holds
//! the workbook's pairs: pages at 1h/5m over 14.4 and 6h/30m over 6, tickets at 1d/2h over 3
//! and 3d/6h over 1.
//!
//! Evaluation fails closed: a window the data does not cover, or one without events, is
//! reported as such and makes the verdict [`BurnVerdict::Insufficient`] unless another pair
//! already fires.

use serde::{Deserialize, Serialize};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Errors of SLO computations.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SloError {
    /// The SLO definition is unusable.
    #[error("slo `{slo}`: `{field}` {message}")]
    Invalid {
        /// The SLO's name.
        slo: String,
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The event series are inconsistent.
    #[error("events: {0}")]
    Events(String),
    /// An events file could not be read.
    #[error(transparent)]
    Input(#[from] crate::samples::InputError),
}

/// Reads event counts from CSV with columns `timestamp,total,bad` (any order, other columns
/// ignored; timestamps in RFC 3339, `YYYY-MM-DD HH:MM:SS` or Unix numbers), sorted by time.
///
/// # Errors
/// [`SloError::Input`] naming the line and column of a missing column, an unreadable
/// timestamp or a count that is not a number; [`SloError::Events`] for a repeated timestamp.
pub fn read_events_csv(source: &str, bytes: &[u8]) -> Result<Events, SloError> {
    let mut rows: Vec<(i64, f64, f64)> =
        crate::samples::read_rows(source, bytes, &["timestamp", "total", "bad"], |row| {
            let num = |field: &str| {
                let cell = row.text(field)?;
                cell.parse::<f64>().map_err(|_| row.err(field, format!("`{cell}` is not a number")))
            };
            Ok((row.time("timestamp")?.as_millis(), num("total")?, num("bad")?))
        })?;
    rows.sort_by_key(|r| r.0);
    if let Some(w) = rows.windows(2).find(|w| w.first().map(|a| a.0) == w.get(1).map(|b| b.0)) {
        let t = w.first().map_or(0, |a| a.0);
        return Err(SloError::Events(format!(
            "{source}: timestamp {} appears twice",
            faultlens_core::Timestamp::from_millis(t)
        )));
    }
    Ok(Events {
        timestamps_ms: rows.iter().map(|r| r.0).collect(),
        total: rows.iter().map(|r| r.1).collect(),
        bad: rows.iter().map(|r| r.2).collect(),
    })
}

/// An events SLI: PromQL of the bad-event rate and the total-event rate, each with Sloth's
/// `{{.window}}` placeholder for the range (`sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsSli {
    /// Rate of bad events.
    pub error_query: String,
    /// Rate of all events.
    pub total_query: String,
}

/// One SLO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slo {
    /// Name, unique within the service (`requests-availability`).
    pub name: String,
    /// The service.
    pub service: String,
    /// Objective as a ratio in (0, 1) (`0.999`).
    pub objective: f64,
    /// Period in days (30).
    #[serde(default = "default_period")]
    pub period_days: u32,
    /// What it promises, in words.
    #[serde(default)]
    pub description: String,
    /// The SLI.
    pub sli: EventsSli,
    /// Name of the page alert (`<Service><Name>Page` by default).
    #[serde(default)]
    pub page_alert: Option<String>,
    /// Name of the ticket alert.
    #[serde(default)]
    pub ticket_alert: Option<String>,
}

fn default_period() -> u32 {
    30
}

impl Slo {
    /// An SLO over the default 30-day period, without a description and with the default
    /// alert names.
    #[must_use]
    pub fn new(service: impl Into<String>, name: impl Into<String>, objective: f64, sli: EventsSli) -> Self {
        Self {
            name: name.into(),
            service: service.into(),
            objective,
            period_days: default_period(),
            description: String::new(),
            sli,
            page_alert: None,
            ticket_alert: None,
        }
    }

    /// Checks the objective, period and names.
    ///
    /// # Errors
    /// [`SloError::Invalid`] naming the field.
    pub fn validate(&self) -> Result<(), SloError> {
        let bad = |field, message: &str| {
            Err(SloError::Invalid { slo: self.name.clone(), field, message: message.to_string() })
        };
        let label_safe = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !label_safe(&self.name) {
            return bad("name", "must be non-empty letters, digits, '-', '_' or '.'");
        }
        if !label_safe(&self.service) {
            return bad("service", "must be non-empty letters, digits, '-', '_' or '.'");
        }
        if !(self.objective > 0.0 && self.objective < 1.0) {
            return bad("objective", "must be a ratio strictly between 0 and 1 (0.999, not 99.9)");
        }
        if self.period_days == 0 || self.period_days > 366 {
            return bad("period_days", "must be 1 to 366");
        }
        for (field, q) in [("sli.error_query", &self.sli.error_query), ("sli.total_query", &self.sli.total_query)] {
            if !q.contains("{{.window}}") {
                return bad(field, "must contain the {{.window}} placeholder");
            }
        }
        Ok(())
    }

    /// The error budget, `1 - objective`.
    #[must_use]
    pub fn budget(&self) -> f64 {
        1.0 - self.objective
    }

    /// `<service>-<name>`, Sloth's `sloth_id`.
    #[must_use]
    pub fn id(&self) -> String {
        format!("{}-{}", self.service, self.name)
    }
}

/// Event counts per step: `bad[i]` of `total[i]` events in the step ending at `timestamps_ms[i]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Events {
    /// Step end times, ascending.
    pub timestamps_ms: Vec<i64>,
    /// All events per step.
    pub total: Vec<f64>,
    /// Bad events per step.
    pub bad: Vec<f64>,
}

/// Prefix sums over a validated [`Events`].
struct Prefix<'a> {
    ts: &'a [i64],
    total: Vec<f64>,
    bad: Vec<f64>,
    step_ms: i64,
}

impl<'a> Prefix<'a> {
    fn new(e: &'a Events) -> Result<Self, SloError> {
        let n = e.timestamps_ms.len();
        if e.total.len() != n || e.bad.len() != n {
            return Err(SloError::Events(format!(
                "{n} timestamps, {} totals and {} bad counts",
                e.total.len(),
                e.bad.len()
            )));
        }
        if let Some(i) = e.timestamps_ms.windows(2).position(|w| w.first() >= w.get(1)) {
            return Err(SloError::Events(format!("timestamps not strictly ascending at index {}", i + 1)));
        }
        let (mut total, mut bad) = (vec![0.0; n + 1], vec![0.0; n + 1]);
        for i in 0..n {
            // missing or impossible counts add nothing (and show as lost coverage)
            let t = e.total.get(i).copied().filter(|v| v.is_finite() && *v >= 0.0).unwrap_or(0.0);
            let b = e.bad.get(i).copied().filter(|v| v.is_finite() && *v >= 0.0).unwrap_or(0.0).min(t);
            let (pt, pb) = (total.get(i).copied().unwrap_or(0.0), bad.get(i).copied().unwrap_or(0.0));
            if let (Some(x), Some(y)) = (total.get_mut(i + 1), bad.get_mut(i + 1)) {
                *x = pt + t;
                *y = pb + b;
            }
        }
        let step_ms = match faultlens_core::median_step(&e.timestamps_ms) {
            0 => MINUTE_MS,
            step => step,
        };
        Ok(Self { ts: &e.timestamps_ms, total, bad, step_ms })
    }

    /// Bad and total events in `(at - window, at]`, and whether the data covers the window.
    fn window(&self, at: i64, window_ms: i64) -> (f64, f64, bool) {
        let lo = self.ts.partition_point(|&t| t <= at - window_ms);
        let hi = self.ts.partition_point(|&t| t <= at);
        let sum = |p: &[f64]| p.get(hi).copied().unwrap_or(0.0) - p.get(lo).copied().unwrap_or(0.0);
        // covered: the first step inside begins no later than the window does, and the last is recent
        let covered = hi > lo
            && self.ts.first().is_some_and(|&f| f - self.step_ms <= at - window_ms)
            && self.ts.get(hi - 1).is_some_and(|&l| l + self.step_ms > at);
        (sum(&self.bad), sum(&self.total), covered)
    }
}

/// The error budget over the SLO's period ending at `at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// All events in the period.
    pub total: f64,
    /// Bad events in the period.
    pub bad: f64,
    /// The budget, `1 - objective`.
    pub budget: f64,
    /// Share of the budget spent (can exceed 1); `None` without events.
    pub consumed: Option<f64>,
    /// Share left, `1 - consumed` (negative when overspent); `None` without events.
    pub remaining: Option<f64>,
    /// Whether the data covers the whole period.
    pub covered: bool,
}

/// The error budget at `at`.
///
/// # Errors
/// [`SloError`] for an invalid SLO or inconsistent events.
pub fn error_budget(slo: &Slo, events: &Events, at_ms: i64) -> Result<Budget, SloError> {
    slo.validate()?;
    let p = Prefix::new(events)?;
    let (bad, total, covered) = p.window(at_ms, i64::from(slo.period_days) * DAY_MS);
    let consumed = (total > 0.0).then(|| bad / total / slo.budget());
    Ok(Budget { total, bad, budget: slo.budget(), consumed, remaining: consumed.map(|c| 1.0 - c), covered })
}

/// A multi-window burn-rate alert condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BurnWindow {
    /// Long window in milliseconds.
    pub long_ms: i64,
    /// Short window in milliseconds.
    pub short_ms: i64,
    /// Burn-rate factor both must exceed.
    pub factor: f64,
    /// `page` or `ticket`.
    pub severity: Severity,
}

/// Alert severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Open a ticket.
    Ticket,
    /// Page someone.
    Page,
}

impl Severity {
    /// The snake_case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ticket => "ticket",
            Self::Page => "page",
        }
    }
}

impl BurnWindow {
    /// The SRE workbook's pairs: 1h/5m at 14.4 and 6h/30m at 6 page; 1d/2h at 3 and 3d/6h at 1
    /// open a ticket.
    #[must_use]
    pub fn defaults() -> Vec<Self> {
        let w = |long_ms, short_ms, factor, severity| Self { long_ms, short_ms, factor, severity };
        vec![
            w(HOUR_MS, 5 * MINUTE_MS, 14.4, Severity::Page),
            w(6 * HOUR_MS, 30 * MINUTE_MS, 6.0, Severity::Page),
            w(DAY_MS, 2 * HOUR_MS, 3.0, Severity::Ticket),
            w(3 * DAY_MS, 6 * HOUR_MS, 1.0, Severity::Ticket),
        ]
    }
}

/// One window pair evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BurnCheck {
    /// The condition.
    pub window: BurnWindow,
    /// Burn rate over the long window (`None` without events there).
    pub long_rate: Option<f64>,
    /// Burn rate over the short window.
    pub short_rate: Option<f64>,
    /// Both windows covered by data.
    pub covered: bool,
    /// Both rates above the factor.
    pub firing: bool,
}

/// The burn-rate verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BurnVerdict {
    /// No pair fires and every pair was judged on full data.
    Ok,
    /// A ticket pair fires.
    Ticket,
    /// A page pair fires.
    Page,
    /// No pair fires, but some could not be judged (missing data or no events).
    Insufficient,
}

/// Every window pair at `at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BurnEvaluation {
    /// The verdict.
    pub verdict: BurnVerdict,
    /// Each pair.
    pub checks: Vec<BurnCheck>,
}

/// Evaluates the burn-rate pairs at `at`.
///
/// # Errors
/// [`SloError`] for an invalid SLO or inconsistent events.
pub fn evaluate_burn(
    slo: &Slo,
    events: &Events,
    windows: &[BurnWindow],
    at_ms: i64,
) -> Result<BurnEvaluation, SloError> {
    slo.validate()?;
    let p = Prefix::new(events)?;
    let rate = |w: i64| {
        let (bad, total, covered) = p.window(at_ms, w);
        ((total > 0.0).then(|| bad / total / slo.budget()), covered)
    };
    let checks: Vec<BurnCheck> = windows
        .iter()
        .map(|w| {
            let ((long_rate, lc), (short_rate, sc)) = (rate(w.long_ms), rate(w.short_ms));
            let firing = long_rate.is_some_and(|r| r > w.factor) && short_rate.is_some_and(|r| r > w.factor);
            BurnCheck { window: w.clone(), long_rate, short_rate, covered: lc && sc, firing }
        })
        .collect();
    let fires = |s: Severity| checks.iter().any(|c| c.firing && c.window.severity == s);
    let verdict = if fires(Severity::Page) {
        BurnVerdict::Page
    } else if fires(Severity::Ticket) {
        BurnVerdict::Ticket
    } else if checks.iter().any(|c| !c.covered || c.long_rate.is_none() || c.short_rate.is_none()) {
        BurnVerdict::Insufficient
    } else {
        BurnVerdict::Ok
    };
    Ok(BurnEvaluation { verdict, checks })
}

/// The burn rate over a trailing window at every step, for charts (`None` where the window
/// has no events or is not covered).
///
/// # Errors
/// [`SloError`] for an invalid SLO or inconsistent events.
pub fn burn_rate_series(slo: &Slo, events: &Events, window_ms: i64) -> Result<Vec<(i64, Option<f64>)>, SloError> {
    slo.validate()?;
    let p = Prefix::new(events)?;
    let first = events.timestamps_ms.first().copied().unwrap_or(0);
    let budget = slo.budget();
    // one pass: the window's first sample only moves forward
    let mut lo = 0usize;
    Ok(events
        .timestamps_ms
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            while p.ts.get(lo).is_some_and(|&x| x <= t - window_ms) {
                lo += 1;
            }
            let sum = |v: &[f64]| v.get(i + 1).copied().unwrap_or(0.0) - v.get(lo).copied().unwrap_or(0.0);
            let (bad, total) = (sum(&p.bad), sum(&p.total));
            let covered = first - p.step_ms <= t - window_ms;
            (t, (covered && total > 0.0).then(|| bad / total / budget))
        })
        .collect())
}

/// Sloth's SLI windows and their names.
const SLI_WINDOWS: [&str; 7] = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"];

/// Escapes a string for a double-quoted YAML scalar.
fn yaml_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if c.is_control() => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// A PromQL label matcher value (double-quoted, escaped).
fn promql_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `UpperCamelCase` of a `kebab-or_snake` name.
fn camel(s: &str) -> String {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

/// Prometheus recording and alerting rules for the SLOs, in Sloth's naming: per SLO a group of
/// SLI recordings (`slo:sli_error:ratio_rate5m` ... `_rate3d`, and the period's
/// `slo:sli_error:ratio_rate30d`), a group of meta recordings (`slo:objective:ratio`,
/// `slo:error_budget:ratio`, `slo:time_period:days`, `slo:current_burn_rate:ratio`,
/// `slo:period_burn_rate:ratio`, `slo:period_error_budget_remaining:ratio`, `sloth_slo_info`)
/// and a group with the page and ticket alerts of the default window pairs. Labels `sloth_id`,
/// `sloth_service`, `sloth_slo` (and `sloth_window`, `sloth_severity`) as Sloth sets them.
///
/// # Errors
/// [`SloError::Invalid`] for an invalid SLO, or two SLOs with the same service and name.
pub fn prometheus_rules(slos: &[Slo]) -> Result<String, SloError> {
    use std::fmt::Write as _;
    let mut o = String::from("# Generated by faultlens (Sloth-compatible SLO rules). Do not edit.\ngroups:\n");
    let mut seen = std::collections::BTreeSet::new();
    for slo in slos {
        slo.validate()?;
        if !seen.insert(slo.id()) {
            return Err(SloError::Invalid {
                slo: slo.name.clone(),
                field: "name",
                message: format!("repeats the SLO id `{}` (rule groups would collide)", slo.id()),
            });
        }
        let id = slo.id();
        let sel = format!(
            "sloth_id={}, sloth_service={}, sloth_slo={}",
            promql_str(&id),
            promql_str(&slo.service),
            promql_str(&slo.name)
        );
        let labels = |o: &mut String, indent: &str, extra: &[(&str, &str)]| {
            let _ = writeln!(o, "{indent}labels:");
            for (k, v) in
                [("sloth_id", id.as_str()), ("sloth_service", slo.service.as_str()), ("sloth_slo", slo.name.as_str())]
                    .iter()
                    .chain(extra)
            {
                let _ = writeln!(o, "{indent}  {k}: {}", yaml_str(v));
            }
        };
        let period = format!("{}d", slo.period_days);
        let budget = format!("{}", slo.budget());
        // SLI recordings
        let _ = writeln!(o, "- name: {}", yaml_str(&format!("sloth-slo-sli-recordings-{id}")));
        let _ = writeln!(o, "  rules:");
        for w in SLI_WINDOWS {
            let _ = writeln!(o, "  - record: slo:sli_error:ratio_rate{w}");
            let expr = format!(
                "({})\n/\n({})",
                slo.sli.error_query.replace("{{.window}}", w),
                slo.sli.total_query.replace("{{.window}}", w)
            );
            let _ = writeln!(o, "    expr: {}", yaml_str(&expr));
            labels(&mut o, "    ", &[("sloth_window", w)]);
        }
        let _ = writeln!(o, "  - record: slo:sli_error:ratio_rate{period}");
        let expr = format!(
            "sum_over_time(slo:sli_error:ratio_rate5m{{{sel}}}[{period}])\n/ ignoring (sloth_window)\ncount_over_time(slo:sli_error:ratio_rate5m{{{sel}}}[{period}])"
        );
        let _ = writeln!(o, "    expr: {}", yaml_str(&expr));
        labels(&mut o, "    ", &[("sloth_window", period.as_str())]);
        // meta recordings
        let _ = writeln!(o, "- name: {}", yaml_str(&format!("sloth-slo-meta-recordings-{id}")));
        let _ = writeln!(o, "  rules:");
        let meta = [
            ("slo:objective:ratio", format!("vector({})", slo.objective)),
            ("slo:error_budget:ratio", format!("vector(1-{})", slo.objective)),
            ("slo:time_period:days", format!("vector({})", slo.period_days)),
            (
                "slo:current_burn_rate:ratio",
                format!(
                    "slo:sli_error:ratio_rate5m{{{sel}}}\n/ on(sloth_id, sloth_slo, sloth_service) group_left\nslo:error_budget:ratio{{{sel}}}"
                ),
            ),
            (
                "slo:period_burn_rate:ratio",
                format!(
                    "slo:sli_error:ratio_rate{period}{{{sel}}}\n/ on(sloth_id, sloth_slo, sloth_service) group_left\nslo:error_budget:ratio{{{sel}}}"
                ),
            ),
            ("slo:period_error_budget_remaining:ratio", format!("1 - slo:period_burn_rate:ratio{{{sel}}}")),
        ];
        for (record, expr) in meta {
            let _ = writeln!(o, "  - record: {record}");
            let _ = writeln!(o, "    expr: {}", yaml_str(&expr));
            labels(&mut o, "    ", &[]);
        }
        let _ = writeln!(o, "  - record: sloth_slo_info");
        let _ = writeln!(o, "    expr: vector(1)");
        labels(
            &mut o,
            "    ",
            &[("sloth_mode", "cli-gen-prom"), ("sloth_objective", &format!("{}", 100.0 * slo.objective))],
        );
        // alerts
        let _ = writeln!(o, "- name: {}", yaml_str(&format!("sloth-slo-alerts-{id}")));
        let _ = writeln!(o, "  rules:");
        let windows = BurnWindow::defaults();
        for severity in [Severity::Page, Severity::Ticket] {
            let pairs: Vec<&BurnWindow> = windows.iter().filter(|w| w.severity == severity).collect();
            let name = match severity {
                Severity::Page => slo.page_alert.clone(),
                Severity::Ticket => slo.ticket_alert.clone(),
            }
            .unwrap_or_else(|| format!("{}{}{}", camel(&slo.service), camel(&slo.name), camel(severity.as_str())));
            let cond = |w_ms: i64, factor: f64| {
                format!(
                    "max(slo:sli_error:ratio_rate{}{{{sel}}} > ({factor} * {budget})) without (sloth_window)",
                    window_name(w_ms)
                )
            };
            let expr = pairs
                .iter()
                .map(|w| {
                    format!("(\n    {}\n    and\n    {}\n)", cond(w.short_ms, w.factor), cond(w.long_ms, w.factor))
                })
                .collect::<Vec<_>>()
                .join("\nor\n");
            let _ = writeln!(o, "  - alert: {name}");
            let _ = writeln!(o, "    expr: {}", yaml_str(&expr));
            labels(&mut o, "    ", &[("sloth_severity", severity.as_str())]);
            let _ = writeln!(o, "    annotations:");
            let summary = format!("{} SLO {} error budget burn rate is too fast", slo.service, slo.name);
            let _ = writeln!(o, "      summary: {}", yaml_str(&summary));
            let _ = writeln!(o, "      title: {}", yaml_str(&format!("({}) {summary}", severity.as_str())));
        }
    }
    Ok(o)
}

/// Sloth's name of a window length (`5m`, `1h`, `3d`).
#[must_use]
pub fn window_name(ms: i64) -> String {
    if ms % DAY_MS == 0 {
        format!("{}d", ms / DAY_MS)
    } else if ms % HOUR_MS == 0 {
        format!("{}h", ms / HOUR_MS)
    } else {
        format!("{}m", ms / MINUTE_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slo() -> Slo {
        let sli = EventsSli {
            error_query: "sum(rate(http_requests_total{job=\"checkout\",code=~\"5..\"}[{{.window}}]))".into(),
            total_query: "sum(rate(http_requests_total{job=\"checkout\"}[{{.window}}]))".into(),
        };
        Slo::new("checkout", "requests-availability", 0.999, sli)
    }

    /// `days` of one-minute steps with 1,000 events each and `bad(minute)` bad ones.
    fn events(days: i64, bad: impl Fn(i64) -> f64) -> Events {
        let n = days * 24 * 60;
        Events {
            timestamps_ms: (1..=n).map(|m| m * MINUTE_MS).collect(),
            total: vec![1000.0; n as usize],
            bad: (1..=n).map(bad).collect(),
        }
    }

    #[test]
    fn budget_and_burn_follow_the_definitions() {
        // 0.05% bad: half the budget
        let e = events(30, |_| 0.5);
        let end = 30 * DAY_MS;
        let b = error_budget(&slo(), &e, end).unwrap();
        assert!(b.covered);
        assert!((b.consumed.unwrap() - 0.5).abs() < 1e-9 && (b.remaining.unwrap() - 0.5).abs() < 1e-9);
        let ev = evaluate_burn(&slo(), &e, &BurnWindow::defaults(), end).unwrap();
        assert_eq!(ev.verdict, BurnVerdict::Ok);
        assert!(ev.checks.iter().all(|c| (c.long_rate.unwrap() - 0.5).abs() < 1e-9));
        // the last hour at 2% bad: burn 20 over 1h and 5m pages; the 6h window burns (5 * 0.5 + 20) / 6
        let e = events(30, |m| if m > 30 * 24 * 60 - 60 { 20.0 } else { 0.5 });
        let ev = evaluate_burn(&slo(), &e, &BurnWindow::defaults(), end).unwrap();
        assert_eq!(ev.verdict, BurnVerdict::Page);
        assert!(ev.checks[0].firing && !ev.checks[1].firing);
        assert!((ev.checks[1].long_rate.unwrap() - (5.0 * 0.5 + 20.0) / 6.0).abs() < 1e-9);
    }

    #[test]
    fn missing_data_is_insufficient_not_ok() {
        // two days of data cannot judge the 3-day window
        let e = events(2, |_| 0.0);
        let ev = evaluate_burn(&slo(), &e, &BurnWindow::defaults(), 2 * DAY_MS).unwrap();
        assert_eq!(ev.verdict, BurnVerdict::Insufficient);
        assert!(!ev.checks[3].covered);
        // no events at all
        let mut e = events(4, |_| 0.0);
        e.total.iter_mut().for_each(|t| *t = 0.0);
        let ev = evaluate_burn(&slo(), &e, &BurnWindow::defaults(), 4 * DAY_MS).unwrap();
        assert_eq!(ev.verdict, BurnVerdict::Insufficient);
        assert!(error_budget(&slo(), &e, 4 * DAY_MS).unwrap().consumed.is_none());
        // a series that stopped an hour ago does not cover now
        let e = events(4, |_| 0.0);
        let ev = evaluate_burn(&slo(), &e, &BurnWindow::defaults(), 4 * DAY_MS + HOUR_MS).unwrap();
        assert_eq!(ev.verdict, BurnVerdict::Insufficient);
    }

    #[test]
    fn bad_definitions_and_events_are_refused() {
        let mut s = slo();
        s.objective = 99.9;
        assert!(s.validate().unwrap_err().to_string().contains("objective"));
        let mut s = slo();
        s.sli.error_query = "sum(rate(x[5m]))".into();
        assert!(s.validate().unwrap_err().to_string().contains("{{.window}}"));
        let mut s = slo();
        s.name = "a\"b".into();
        assert!(s.validate().is_err());
        let e = Events { timestamps_ms: vec![2, 1], total: vec![1.0, 1.0], bad: vec![0.0, 0.0] };
        assert!(evaluate_burn(&slo(), &e, &BurnWindow::defaults(), 2).is_err());
        let e = Events { timestamps_ms: vec![1], total: vec![], bad: vec![] };
        assert!(error_budget(&slo(), &e, 1).is_err());
    }

    #[test]
    fn burn_series_matches_point_evaluations() {
        let e = events(1, |m| if m % 97 == 0 { 30.0 } else { 1.0 });
        let s = burn_rate_series(&slo(), &e, HOUR_MS).unwrap();
        assert_eq!(s.len(), e.timestamps_ms.len());
        assert!(s.iter().take(59).all(|(_, r)| r.is_none()), "the first hour is not covered");
        let (t, r) = s[500];
        let ev = evaluate_burn(
            &slo(),
            &e,
            &[BurnWindow { long_ms: HOUR_MS, short_ms: HOUR_MS, factor: 0.0, severity: Severity::Page }],
            t,
        )
        .unwrap();
        assert!((ev.checks[0].long_rate.unwrap() - r.unwrap()).abs() < 1e-12);
    }

    #[test]
    fn rules_use_sloth_names_and_quote_what_they_embed() {
        let text = prometheus_rules(&[slo()]).unwrap();
        for name in [
            "slo:sli_error:ratio_rate5m",
            "slo:sli_error:ratio_rate3d",
            "slo:sli_error:ratio_rate30d",
            "slo:objective:ratio",
            "slo:error_budget:ratio",
            "slo:time_period:days",
            "slo:current_burn_rate:ratio",
            "slo:period_burn_rate:ratio",
            "slo:period_error_budget_remaining:ratio",
            "sloth_slo_info",
            "alert: CheckoutRequestsAvailabilityPage",
            "alert: CheckoutRequestsAvailabilityTicket",
        ] {
            assert!(text.contains(name), "{name}");
        }
        assert!(text.contains("(14.4 * "));
        assert_eq!(text, prometheus_rules(&[slo()]).unwrap());
    }
}
