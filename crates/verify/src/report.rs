//! Incident reports: Markdown, a self-contained HTML page with SVG charts, and PDF, built from
//! an analysis's hypotheses, with optional SLO and DORA panels.
//!
//! The charts: metric timelines with the anomaly band, change markers and the detection time;
//! an SLO's burn rate over the 1-hour and 6-hour windows against the page thresholds
//! ([`SloPanel`]); deployments per day with the failed ones ([`DoraPanel`]).
//!
//! Every hypothesis in a report is a recommendation, so every one must cite its evidence: at
//! least one item naming its source, with a content hash. [`IncidentReport::check`] refuses a
//! report where one does not, and every export calls it first. Panels cite their input file
//! and its hash. Telemetry text is untrusted: everything interpolated into HTML or SVG is
//! escaped, Markdown text cannot open markup, and the page loads nothing from outside.
//!
//! The three formats are written from one list of blocks ([`IncidentReport`]'s layout), so
//! they always show the same content.

use std::fmt::Write as _;

use faultlens_core::{ChangeEvent, ContentHash, Hypothesis, Incident, TimeRange};
use serde::{Deserialize, Serialize};

use crate::chart::{Bar, Ink, Mark, Plot};
use crate::dora::{Deployment, DoraReport, IncidentRecord, TierTable, dora, failed_deployments};
use crate::slo::{
    Budget, BurnEvaluation, BurnVerdict, BurnWindow, Events, Slo, SloError, burn_rate_series, error_budget,
    evaluate_burn, window_name,
};

/// A metric timeline to chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// Chart title (`checkout: http_errors_ratio`).
    pub title: String,
    /// The series' selector, as the evidence cites it.
    pub selector: String,
    /// `(unix ms, value)` points, ascending.
    pub points: Vec<(i64, f64)>,
    /// The anomaly, shaded.
    pub anomaly: Option<TimeRange>,
}

/// A burn-rate series of one window, for the chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BurnLine {
    /// The window's name (`1h`).
    pub window: String,
    /// The page threshold the window's pair uses.
    pub factor: f64,
    /// `(unix ms, burn rate)`; `None` where the window is not covered or has no events.
    pub points: Vec<(i64, Option<f64>)>,
}

/// An SLO's state for a report: error budget, the multi-window burn-rate evaluation, and the
/// burn rate over the page windows (1h at 14.4, 6h at 6) for the chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloPanel {
    /// The SLO.
    pub slo: Slo,
    /// When it was evaluated (unix ms).
    pub at_ms: i64,
    /// The error budget over the SLO's period.
    pub budget: Budget,
    /// Every window pair.
    pub burn: BurnEvaluation,
    /// Burn-rate series of the page windows.
    pub series: Vec<BurnLine>,
    /// The events' file, as cited.
    pub source: String,
    /// The events' content hash.
    pub sha256: ContentHash,
}

impl SloPanel {
    /// Evaluates `slo` on `events` at `at_ms` (the time of the last event when `None`), citing
    /// `source` with the hash of its bytes.
    ///
    /// # Errors
    /// [`SloError`] for an invalid SLO or inconsistent events.
    pub fn new(
        slo: &Slo,
        events: &Events,
        at_ms: Option<i64>,
        source: impl Into<String>,
        sha256: ContentHash,
    ) -> Result<Self, SloError> {
        let at_ms = at_ms.or_else(|| events.timestamps_ms.last().copied()).unwrap_or(0);
        let windows = BurnWindow::defaults();
        let mut series = Vec::new();
        for w in windows.iter().filter(|w| w.severity == crate::slo::Severity::Page) {
            let points = burn_rate_series(slo, events, w.long_ms)?.into_iter().filter(|p| p.0 <= at_ms).collect();
            series.push(BurnLine { window: window_name(w.long_ms), factor: w.factor, points });
        }
        Ok(Self {
            slo: slo.clone(),
            at_ms,
            budget: error_budget(slo, events, at_ms)?,
            burn: evaluate_burn(slo, events, &windows, at_ms)?,
            series,
            source: source.into(),
            sha256,
        })
    }
}

/// Deployments in one bucket of the DORA chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployCount {
    /// Start of the bucket (unix ms, a UTC day or a run of days).
    pub start_ms: i64,
    /// End of the bucket (exclusive).
    pub end_ms: i64,
    /// Deployments in it.
    pub deployments: u32,
    /// Of which failed (marked, or named by an incident).
    pub failed: u32,
}

/// DORA's four keys for a report, with the table they were placed in and deployments per day
/// (per run of days beyond 120 days) for the chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoraPanel {
    /// The four keys.
    pub report: DoraReport,
    /// The tier table used.
    pub table: TierTable,
    /// Deployments per bucket over the period.
    pub buckets: Vec<DeployCount>,
    /// The inputs, as cited (`deployments.csv, incidents.csv`).
    pub source: String,
    /// The inputs' content hash.
    pub sha256: ContentHash,
}

impl DoraPanel {
    /// Computes the four keys over `period` (see [`dora`]) and the deployment counts.
    #[must_use]
    pub fn new(
        deployments: &[Deployment],
        incidents: &[IncidentRecord],
        period: Option<TimeRange>,
        table: TierTable,
        source: impl Into<String>,
        sha256: ContentHash,
    ) -> Self {
        const DAY: i64 = 86_400_000;
        let report = dora(deployments, incidents, period, Some(&table));
        let (start, end) = (report.period.start.as_millis(), report.period.end.as_millis());
        let first_day = start.div_euclid(DAY) * DAY;
        let days = (end - first_day).div_euclid(DAY) + 1;
        let width = DAY * (days.max(1) + 119).div_euclid(120);
        let n = usize::try_from((end - first_day).div_euclid(width) + 1).unwrap_or(1);
        let mut buckets: Vec<DeployCount> = (0..n as i64)
            .map(|k| DeployCount {
                start_ms: first_day + k * width,
                end_ms: first_day + (k + 1) * width,
                deployments: 0,
                failed: 0,
            })
            .collect();
        let failed = failed_deployments(incidents);
        for d in deployments {
            let t = d.deployed_at.as_millis();
            if t < start || t > end {
                continue;
            }
            let k = usize::try_from((t - first_day).div_euclid(width)).unwrap_or(0);
            if let Some(b) = buckets.get_mut(k) {
                b.deployments += 1;
                b.failed += u32::from(d.failed || failed.contains(d.id.as_str()));
            }
        }
        Self { report, table, buckets, source: source.into(), sha256 }
    }
}

/// Everything a report shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentReport {
    /// The incident.
    pub incident: Incident,
    /// Hypotheses, ranked.
    pub hypotheses: Vec<Hypothesis>,
    /// Timelines to chart.
    pub timelines: Vec<Timeline>,
    /// Changes in the window, drawn as markers and listed.
    pub changes: Vec<ChangeEvent>,
    /// SLOs to show, with their burn-rate charts.
    #[serde(default)]
    pub slos: Vec<SloPanel>,
    /// DORA's four keys, with the deployment chart.
    #[serde(default)]
    pub dora: Option<DoraPanel>,
    /// Notes of the analysis.
    pub notes: Vec<String>,
}

/// Why a report cannot be exported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// A hypothesis cites no usable evidence.
    #[error("hypothesis {rank} ({summary}) cites no evidence with a source and a content hash; refusing to export")]
    Uncited {
        /// Its rank.
        rank: u32,
        /// Its summary.
        summary: String,
    },
}

/// HTML text escaping (also safe inside double-quoted attributes).
pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() && c != '\n' => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

/// Markdown text: HTML-significant characters escaped (renderers pass raw HTML through),
/// backticks escaped (so text never opens a code span), pipes escaped (for table cells),
/// newlines folded.
fn cell(s: &str) -> String {
    esc(s).replace('\\', "\\\\").replace('`', "\\`").replace('|', "\\|").replace('\n', " ")
}

/// A Markdown code span: fenced with more backticks than the text holds, nothing escaped
/// inside (code spans show their text literally), newlines folded.
fn code(s: &str) -> String {
    if s.is_empty() {
        // two backticks alone would be literal text that pairs with a later span
        return "` `".to_string();
    }
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{}{pad}{fence}", s.replace('\n', " "))
}

/// A piece of a line of text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Span {
    /// Plain text.
    Text(String),
    /// A query, path or id, shown literally.
    Code(String),
    /// A leading label (bold where the format has it).
    Label(String),
    /// A content hash.
    Hash(ContentHash),
}

/// The tone of an item in a hypothesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tone {
    Plain,
    Against,
    Out,
}

/// One block of a report, in reading order; every format writes the same blocks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Block {
    Title(String),
    Meta(Vec<Span>),
    Section(String),
    Legend(String),
    Paragraph(Vec<Span>),
    Hypothesis { rank: u32, summary: String, confidence: f64 },
    Item(Tone, Vec<Span>),
    EndHypothesis,
    Figure { caption: Vec<Span>, plot: Plot },
    Table { header: Vec<&'static str>, rows: Vec<Vec<Span>> },
    Note(String),
}

fn text(s: impl Into<String>) -> Span {
    Span::Text(s.into())
}

/// A share as a percentage with at most four significant digits and no trailing zeros
/// (`99.9%`, `35.11%`, `5%`).
fn percent(v: f64) -> String {
    let s = faultlens_core::format_number(100.0 * v);
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { &s };
    format!("{s}%")
}

impl IncidentReport {
    /// Refuses a report in which a hypothesis cites no evidence with a source and a hash.
    ///
    /// # Errors
    /// [`ReportError::Uncited`] naming the first such hypothesis.
    pub fn check(&self) -> Result<(), ReportError> {
        for h in &self.hypotheses {
            let cited = h.evidence.as_slice().iter().any(|e| !e.source.is_empty() && e.sha256.as_bytes() != &[0; 32]);
            if !cited {
                return Err(ReportError::Uncited { rank: h.rank, summary: h.summary.clone() });
            }
        }
        Ok(())
    }

    /// The report's content as blocks, in reading order.
    pub(crate) fn blocks(&self) -> Vec<Block> {
        let i = &self.incident;
        let mut b = vec![
            Block::Title(format!("Incident report: {}", i.title.as_deref().unwrap_or(&i.id))),
            Block::Meta(vec![
                text("incident "),
                Span::Code(i.id.clone()),
                text(format!(
                    " \u{b7} detected {} \u{b7} window {} to {}",
                    i.detected_at, i.window.start, i.window.end
                )),
            ]),
            Block::Section("Hypotheses".into()),
        ];
        for h in &self.hypotheses {
            b.push(Block::Hypothesis { rank: h.rank, summary: h.summary.clone(), confidence: h.confidence.get() });
            for e in h.evidence.as_slice() {
                b.push(Block::Item(
                    Tone::Plain,
                    vec![
                        Span::Label(format!("evidence {}", e.id)),
                        Span::Code(e.query.clone()),
                        text(" in "),
                        Span::Code(e.source.clone()),
                        text(format!(": {} ", e.detail)),
                        Span::Hash(e.sha256),
                    ],
                ));
            }
            for e in &h.counter_evidence {
                b.push(Block::Item(
                    Tone::Against,
                    vec![Span::Label("against".into()), Span::Code(e.query.clone()), text(format!(": {}", e.detail))],
                ));
            }
            for r in &h.ruled_out {
                b.push(Block::Item(
                    Tone::Out,
                    vec![Span::Label("ruled out".into()), text(format!("{}: {}", r.subject, r.reason))],
                ));
            }
            for c in &h.next_checks {
                b.push(Block::Item(Tone::Plain, vec![Span::Label("next check".into()), text(c.as_str())]));
            }
            for c in &h.citations {
                b.push(Block::Item(
                    Tone::Plain,
                    vec![
                        Span::Label("runbook".into()),
                        Span::Code(c.path.clone()),
                        text(format!(" lines {}-{}: {}", c.line_start, c.line_end, c.headings.join(" \u{203a} "))),
                    ],
                ));
            }
            b.push(Block::EndHypothesis);
        }
        if !self.timelines.is_empty() {
            b.push(Block::Section("Timelines".into()));
            b.push(Block::Legend("shaded: the anomaly \u{b7} dashed: changes \u{b7} grey: detection".into()));
            for t in &self.timelines {
                b.push(Block::Figure {
                    caption: vec![text(format!("{} \u{b7} ", t.title)), Span::Code(t.selector.clone())],
                    plot: self.timeline_plot(t),
                });
            }
        }
        for p in &self.slos {
            self.slo_blocks(p, &mut b);
        }
        if let Some(d) = &self.dora {
            dora_blocks(d, &mut b);
        }
        if !self.changes.is_empty() {
            b.push(Block::Section("Changes".into()));
            b.push(Block::Table {
                header: vec!["at", "change", "service", "kind"],
                rows: self
                    .changes
                    .iter()
                    .map(|c| {
                        vec![
                            text(c.at.to_string()),
                            Span::Code(c.id.clone()),
                            text(c.service.as_str()),
                            text(c.kind.as_str()),
                        ]
                    })
                    .collect(),
            });
        }
        b.extend(self.notes.iter().map(|n| Block::Note(n.clone())));
        b
    }

    /// A timeline over the incident window: the series, the anomaly band, change markers and
    /// the detection time.
    fn timeline_plot(&self, t: &Timeline) -> Plot {
        let w = self.incident.window;
        let mut p = Plot::new(w.start.as_millis(), w.end.as_millis());
        if let Some(a) = t.anomaly {
            p.bands.push((a.start.as_millis(), a.end.as_millis()));
        }
        for c in self.changes.iter().filter(|c| w.contains(c.at)) {
            p.verticals.push(Mark {
                at: c.at.as_millis(),
                ink: Ink::Change,
                label: format!("{} ({})", c.id, c.service),
            });
        }
        p.verticals.push(Mark {
            at: self.incident.detected_at.as_millis(),
            ink: Ink::Detect,
            label: "detected".into(),
        });
        p.line(Ink::Primary, t.points.iter().map(|&(t, v)| (t, Some(v))));
        p.fit(false);
        p
    }

    fn slo_blocks(&self, p: &SloPanel, b: &mut Vec<Block>) {
        let slo = &p.slo;
        b.push(Block::Section(format!("SLO {}", slo.id())));
        let verdict = match p.burn.verdict {
            BurnVerdict::Ok => "ok",
            BurnVerdict::Ticket => "ticket",
            BurnVerdict::Page => "page",
            BurnVerdict::Insufficient => "insufficient data",
        };
        let budget = p.budget.remaining.map_or_else(
            || "unknown (no events)".to_string(),
            |r| format!("{} left ({} of {} events bad)", percent(r), p.budget.bad, p.budget.total),
        );
        let covered = if p.budget.covered { "" } else { "; the events do not cover the whole period" };
        b.push(Block::Paragraph(vec![
            Span::Label("objective".into()),
            text(format!(
                "{} over {} days{}. Error budget {budget}{covered}. Burn-rate verdict: {verdict}.",
                percent(slo.objective),
                slo.period_days,
                if slo.description.is_empty() { String::new() } else { format!(" ({})", slo.description) }
            )),
        ]));
        b.push(Block::Paragraph(vec![
            text("events from "),
            Span::Code(p.source.clone()),
            text(" "),
            Span::Hash(p.sha256),
        ]));
        let rate = |r: Option<f64>| r.map_or_else(|| "-".to_string(), faultlens_core::format_number);
        b.push(Block::Table {
            header: vec!["windows", "long", "short", "over", "severity", "state"],
            rows: p
                .burn
                .checks
                .iter()
                .map(|c| {
                    let state = if c.firing {
                        "firing"
                    } else if !c.covered || c.long_rate.is_none() || c.short_rate.is_none() {
                        "not enough data"
                    } else {
                        "ok"
                    };
                    vec![
                        text(format!("{}/{}", window_name(c.window.long_ms), window_name(c.window.short_ms))),
                        text(rate(c.long_rate)),
                        text(rate(c.short_rate)),
                        text(faultlens_core::format_number(c.window.factor)),
                        text(c.window.severity.as_str()),
                        text(state),
                    ]
                })
                .collect(),
        });
        let first = p.series.iter().filter_map(|l| l.points.first().map(|x| x.0)).min().unwrap_or(p.at_ms);
        let mut plot = Plot::new(first, p.at_ms);
        for (k, line) in p.series.iter().enumerate() {
            plot.line(if k == 0 { Ink::Primary } else { Ink::Secondary }, line.points.iter().copied());
            plot.horizontals.push(Mark {
                at: line.factor,
                ink: Ink::Threshold,
                label: format!("{} {}", line.window, faultlens_core::format_number(line.factor)),
            });
        }
        plot.fit(true);
        let names: Vec<&str> = p.series.iter().map(|l| l.window.as_str()).collect();
        b.push(Block::Figure {
            caption: vec![text(format!(
                "burn rate over {} (blue, violet); dashed: their page thresholds",
                names.join(" and ")
            ))],
            plot,
        });
    }
}

fn dora_blocks(d: &DoraPanel, b: &mut Vec<Block>) {
    let r = &d.report;
    b.push(Block::Section("DORA metrics".into()));
    b.push(Block::Paragraph(vec![
        text(format!(
            "{} to {}: {} deployments, {} failed; placed in the {} table. From ",
            r.period.start, r.period.end, r.deployments, r.failed_deployments, d.table.year
        )),
        Span::Code(d.source.clone()),
        text(" "),
        Span::Hash(d.sha256),
    ]));
    let value = |k: &crate::dora::KeyRow| match (k.value, k.unit) {
        (None, _) => "unknown".to_string(),
        (Some(v), "ratio") => percent(v),
        (Some(v), unit) => format!("{} {unit}", faultlens_core::format_number(v)),
    };
    b.push(Block::Table {
        header: vec!["metric", "value", "tier", "the report's range"],
        rows: r
            .key_rows()
            .iter()
            .map(|k| {
                vec![
                    text(k.label),
                    text(value(k)),
                    text(k.tier.as_deref().unwrap_or("-")),
                    text(k.published(&d.table).unwrap_or_default()),
                ]
            })
            .collect(),
    });
    if let (Some(first), Some(last)) = (d.buckets.first(), d.buckets.last()) {
        let mut plot = Plot::new(first.start_ms, last.end_ms);
        for k in &d.buckets {
            let bar = |value: u32, ink| Bar { start: k.start_ms, end: k.end_ms, value: f64::from(value), ink };
            plot.bars.push(bar(k.deployments, Ink::Primary));
            if k.failed > 0 {
                plot.bars.push(bar(k.failed, Ink::Bad));
            }
        }
        plot.fit(true);
        let days = (first.end_ms - first.start_ms) / 86_400_000;
        let per = if days == 1 { "day".to_string() } else { format!("{days} days") };
        b.push(Block::Figure { caption: vec![text(format!("deployments per {per} (red: failed)"))], plot });
    }
    for n in &r.notes {
        b.push(Block::Note(n.clone()));
    }
}

/// Spans as Markdown; `in_table` escapes pipes inside code spans as well.
fn md_spans(spans: &[Span], in_table: bool) -> String {
    let mut o = String::new();
    for s in spans {
        match s {
            Span::Text(t) => o.push_str(&cell(t)),
            Span::Code(c) if in_table => o.push_str(&code(c).replace('|', "\\|")),
            Span::Code(c) => o.push_str(&code(c)),
            Span::Label(l) => {
                let _ = write!(o, "**{}** ", cell(l));
            }
            Span::Hash(h) => {
                let _ = write!(o, "(sha256 {h})");
            }
        }
    }
    o
}

/// Spans as HTML.
fn html_spans(spans: &[Span]) -> String {
    let mut o = String::new();
    for s in spans {
        match s {
            Span::Text(t) => o.push_str(&esc(t)),
            Span::Code(c) => {
                let _ = write!(o, "<code>{}</code>", esc(c));
            }
            Span::Label(l) => {
                let _ = write!(o, "<b>{}</b> ", esc(l));
            }
            Span::Hash(h) => {
                let _ = write!(o, "<small>sha256 {h}</small>");
            }
        }
    }
    o
}

impl IncidentReport {
    /// The report as Markdown (the charts' data appear as tables; the charts themselves are in
    /// the HTML and PDF forms).
    ///
    /// # Errors
    /// [`ReportError`] from [`Self::check`].
    pub fn to_markdown(&self) -> Result<String, ReportError> {
        self.check()?;
        let mut o = String::new();
        for block in self.blocks() {
            match block {
                Block::Title(t) => {
                    let _ = writeln!(o, "# {}\n", cell(&t));
                }
                Block::Meta(spans) => {
                    let _ = writeln!(o, "- {}", md_spans(&spans, false));
                }
                Block::Section(t) => {
                    let _ = writeln!(o, "\n## {}", cell(&t));
                }
                Block::Legend(_) | Block::Figure { .. } => {}
                Block::Paragraph(spans) => {
                    let _ = writeln!(o, "\n{}", md_spans(&spans, false));
                }
                Block::Hypothesis { rank, summary, confidence } => {
                    let _ = writeln!(o, "\n### {rank}. {} (confidence {confidence:.2})\n", cell(&summary));
                }
                Block::Item(_, spans) => {
                    let _ = writeln!(o, "- {}", md_spans(&spans, false));
                }
                Block::EndHypothesis => {}
                Block::Table { header, rows } => {
                    let _ = writeln!(o, "\n| {} |", header.join(" | "));
                    let _ = writeln!(o, "|{}", "---|".repeat(header.len()));
                    for row in rows {
                        let cells: Vec<String> = row.iter().map(|s| md_spans(std::slice::from_ref(s), true)).collect();
                        let _ = writeln!(o, "| {} |", cells.join(" | "));
                    }
                }
                Block::Note(n) => {
                    let _ = writeln!(o, "\n> {}", cell(&n));
                }
            }
        }
        Ok(o)
    }

    /// The report as one self-contained HTML page (inline CSS and SVG, no scripts, nothing
    /// fetched).
    ///
    /// # Errors
    /// [`ReportError`] from [`Self::check`].
    pub fn to_html(&self) -> Result<String, ReportError> {
        self.check()?;
        let mut o = String::new();
        for block in self.blocks() {
            match block {
                Block::Title(t) => {
                    let t = esc(&t);
                    let _ = write!(
                        o,
                        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
                         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
                         <title>{t}</title><style>{CSS}</style></head><body>\n<h1>{t}</h1>\n"
                    );
                }
                Block::Meta(spans) => {
                    let _ = writeln!(o, "<p class=\"meta\">{}</p>", html_spans(&spans));
                }
                Block::Section(t) => {
                    let _ = writeln!(o, "<h2>{}</h2>", esc(&t));
                }
                Block::Legend(t) => {
                    let _ = writeln!(o, "<p class=\"meta\">{}</p>", esc(&t));
                }
                Block::Paragraph(spans) => {
                    let _ = writeln!(o, "<p>{}</p>", html_spans(&spans));
                }
                Block::Hypothesis { rank, summary, confidence } => {
                    let _ = writeln!(
                        o,
                        "<section class=\"hyp\"><h3>{rank}. {}</h3><div class=\"bar\"><span style=\"width:{:.1}%\"></span></div>\
                         <p class=\"conf\">confidence {confidence:.2}</p><ul>",
                        esc(&summary),
                        100.0 * confidence
                    );
                }
                Block::Item(tone, spans) => {
                    let class = match tone {
                        Tone::Plain => "",
                        Tone::Against => " class=\"against\"",
                        Tone::Out => " class=\"out\"",
                    };
                    let _ = writeln!(o, "<li{class}>{}</li>", html_spans(&spans));
                }
                Block::EndHypothesis => {
                    let _ = writeln!(o, "</ul></section>");
                }
                Block::Figure { caption, plot } => {
                    let _ = writeln!(
                        o,
                        "<figure><figcaption>{}</figcaption>{}</figure>",
                        html_spans(&caption),
                        plot.svg(760.0, 180.0)
                    );
                }
                Block::Table { header, rows } => {
                    let _ = write!(o, "<table><tr>");
                    for h in header {
                        let _ = write!(o, "<th>{}</th>", esc(h));
                    }
                    let _ = writeln!(o, "</tr>");
                    for row in rows {
                        let cells: String =
                            row.iter().map(|s| format!("<td>{}</td>", html_spans(std::slice::from_ref(s)))).collect();
                        let _ = writeln!(o, "<tr>{cells}</tr>");
                    }
                    let _ = writeln!(o, "</table>");
                }
                Block::Note(n) => {
                    let _ = writeln!(o, "<p class=\"note\">{}</p>", esc(&n));
                }
            }
        }
        let _ = writeln!(o, "</body></html>");
        Ok(o)
    }
}

const CSS: &str = "body{font:15px/1.45 system-ui,sans-serif;max-width:820px;margin:2em auto;color:#1d2433}\
code{font-size:13px;background:#f1f3f7;padding:0 3px;border-radius:3px}.meta,.conf,small{color:#5b6478}\
.hyp{border:1px solid #dde2ea;border-radius:6px;padding:.2em 1em;margin:1em 0}.against{color:#8a3b12}.out{color:#5b6478}\
.bar{height:6px;background:#eef1f6;border-radius:3px}.bar span{display:block;height:6px;background:#3a6ff7;border-radius:3px}\
table{border-collapse:collapse;margin:.5em 0}td,th{border-bottom:1px solid #dde2ea;padding:2px 8px;text-align:left}\
svg{width:100%;height:auto;background:#fafbfd;border:1px solid #e3e7ee}.line{fill:none;stroke:#3a6ff7;stroke-width:1.4}\
.line2{fill:none;stroke:#7c3aed;stroke-width:1.4}rect.line{fill:#3a6ff7;stroke:none}.bad{fill:#dc2626}\
.band{fill:#f7c948;opacity:.28}.detect{stroke:#8a94a6;stroke-width:1.2}.change{stroke:#c2410c;stroke-dasharray:4 3}\
.threshold{stroke:#dc2626;stroke-dasharray:5 3;stroke-width:1}.axis{font-size:10px;fill:#5b6478}\
.note{color:#5b6478;font-style:italic}";

#[cfg(test)]
mod tests {
    use faultlens_core::{
        ChangeKind, Confidence, ContentHash, Evidence, EvidenceList, Hypothesis, HypothesisKind, Timestamp,
    };

    use super::*;

    fn report(hash: ContentHash) -> IncidentReport {
        let window = TimeRange::new(Timestamp::from_millis(0), Timestamp::from_millis(3_600_000)).unwrap();
        let e = Evidence::new("metrics/<x>.json", "errors{service=\"a<b>\"}", hash, "rose \"10x\" & more")
            .with_range(window);
        let h = Hypothesis::new(
            HypothesisKind::Change,
            Confidence::try_from(0.9).unwrap(),
            "deploy <script>alert(1)</script> broke it",
            EvidenceList::one(e),
        );
        IncidentReport {
            incident: Incident {
                id: "inc-1".into(),
                title: Some("errors | up".into()),
                detected_at: Timestamp::from_millis(3_000_000),
                window,
                services: vec!["a".into()],
            },
            hypotheses: vec![h],
            timelines: vec![Timeline {
                title: "a: errors".into(),
                selector: "errors{service=\"a\"}".into(),
                points: (0..60).map(|m| (m * 60_000, if m > 40 { 5.0 } else { 1.0 })).collect(),
                anomaly: Some(
                    TimeRange::new(Timestamp::from_millis(2_460_000), Timestamp::from_millis(3_600_000)).unwrap(),
                ),
            }],
            changes: vec![ChangeEvent {
                id: "deploy\"><img src=x>".into(),
                at: Timestamp::from_millis(2_400_000),
                service: "a".into(),
                kind: ChangeKind::Deploy,
                from: None,
                to: None,
                source: None,
                author: None,
                description: None,
            }],
            slos: vec![],
            dora: None,
            notes: vec![],
        }
    }

    /// The report with an SLO panel (a day of minute events, a burn spike in the last hour)
    /// and a DORA panel (ten days, one failed deployment).
    fn with_panels(mut r: IncidentReport, name: &str) -> IncidentReport {
        use crate::slo::{EventsSli, Slo};
        let n = 24 * 60;
        let events = Events {
            timestamps_ms: (1..=n).map(|m| m * 60_000).collect(),
            total: vec![1000.0; n as usize],
            bad: (1..=n).map(|m| if m > n - 60 { 30.0 } else { 0.5 }).collect(),
        };
        let sli = EventsSli { error_query: "e[{{.window}}]".into(), total_query: "t[{{.window}}]".into() };
        let mut slo = Slo::new("checkout", "availability", 0.999, sli);
        slo.description = name.to_string();
        r.slos.push(SloPanel::new(&slo, &events, None, format!("{name}.csv"), ContentHash::of(b"events")).unwrap());
        let day = 86_400_000;
        let deployments: Vec<Deployment> = (0..10)
            .map(|k| Deployment {
                id: format!("{name}-{k}"),
                service: "a".into(),
                deployed_at: Timestamp::from_millis(k * day + 3_600_000),
                commit_at: Some(Timestamp::from_millis(k * day)),
                failed: false,
            })
            .collect();
        let incidents = vec![IncidentRecord {
            id: "i".into(),
            started_at: Timestamp::from_millis(4 * day),
            resolved_at: Some(Timestamp::from_millis(4 * day + 1_800_000)),
            change_id: Some(format!("{name}-3")),
        }];
        let table = TierTable::of_year(2024).unwrap();
        r.dora = Some(DoraPanel::new(&deployments, &incidents, None, table, "d.csv, i.csv", ContentHash::of(b"d")));
        r
    }

    #[test]
    fn slo_and_dora_panels_in_every_format() {
        let r = with_panels(report(ContentHash::of(b"x")), "availability");
        let slo = &r.slos[0];
        assert_eq!(slo.burn.verdict, BurnVerdict::Page, "30x the budget over the last hour");
        assert_eq!(slo.series.iter().map(|l| l.window.as_str()).collect::<Vec<_>>(), ["1h", "6h"]);
        let d = r.dora.as_ref().unwrap();
        assert_eq!(d.buckets.len(), 10);
        assert_eq!(d.buckets.iter().map(|b| b.deployments).sum::<u32>(), 10);
        assert_eq!(d.buckets.iter().map(|b| b.failed).collect::<Vec<_>>(), [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        let html = r.to_html().unwrap();
        for want in [
            "<h2>SLO checkout-availability</h2>",
            "class=\"threshold\"",
            "class=\"line2\"",
            "<h2>DORA metrics</h2>",
            "class=\"bad\"",
            "deployments per day",
            "<small>sha256",
        ] {
            assert!(html.contains(want), "{want}");
        }
        let md = r.to_markdown().unwrap();
        assert!(md.contains("## SLO checkout-availability") && md.contains("| 1h/5m |"), "{md}");
        assert!(md.contains("| deployment frequency |") && md.contains("on demand"), "{md}");
        let pdf = r.to_pdf().unwrap();
        assert_eq!(pdf, r.to_pdf().unwrap());
        // a long history is bucketed so the chart keeps at most 120 bars
        let long: Vec<Deployment> = (0..1000)
            .map(|k| Deployment {
                id: k.to_string(),
                service: String::new(),
                deployed_at: Timestamp::from_millis(k * 86_400_000),
                commit_at: None,
                failed: false,
            })
            .collect();
        let p = DoraPanel::new(&long, &[], None, TierTable::of_year(2021).unwrap(), "x", ContentHash::of(b""));
        assert!(p.buckets.len() <= 120, "{}", p.buckets.len());
        assert_eq!(p.buckets.iter().map(|b| b.deployments).sum::<u32>(), 1000);
    }

    #[test]
    fn html_is_self_contained_and_escapes_telemetry() {
        let html = report(ContentHash::of(b"x")).to_html().unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"));
        assert!(!html.contains("<img") && html.contains("&lt;img"));
        assert!(html.contains("<svg") && html.contains("class=\"band\"") && html.contains("class=\"change\""));
        assert!(!html.contains("http://") || html.matches("http://").count() == 1, "only the SVG namespace");
        let md = report(ContentHash::of(b"x")).to_markdown().unwrap();
        assert!(md.contains("errors \\| up") && !md.contains("<script>"));
    }

    proptest::proptest! {
        /// Whatever telemetry text goes in, the HTML page has exactly the tags the renderer
        /// writes: every `<` in it opens one of them, and the Markdown has no raw `<` at all.
        #[test]
        fn hostile_text_never_becomes_markup(summary in ".{0,40}", id in ".{0,20}", query in ".{0,30}") {
            let mut r = with_panels(report(ContentHash::of(b"x")), &id);
            r.hypotheses[0].summary = summary;
            r.changes[0].id = id;
            let e = Evidence::new("src", query, ContentHash::of(b"y"), "d");
            r.hypotheses[0].evidence.push(e);
            let html = r.to_html().unwrap();
            let allowed = [
                "<!DOCTYPE", "<html", "</html", "<head", "</head", "<meta", "<title", "</title", "<style", "</style",
                "<body", "</body", "<h1", "</h1", "<h2", "</h2", "<h3", "</h3", "<p", "</p", "<section", "</section",
                "<div", "</div", "<span", "</span", "<ul", "</ul", "<li", "</li", "<b>", "</b>", "<code", "</code",
                "<small", "</small", "<figure", "</figure", "<figcaption", "</figcaption", "<svg", "</svg", "<rect",
                "<line", "</line", "<polyline", "<text", "</text", "<table", "</table", "<tr", "</tr", "<th", "</th",
                "<td", "</td",
            ];
            for (i, _) in html.match_indices('<') {
                let rest = &html[i..];
                proptest::prop_assert!(allowed.iter().any(|t| rest.starts_with(t)), "unexpected markup at {}", &rest[..rest.len().min(30)]);
            }
            let md = r.to_markdown().unwrap();
            // code spans never cross a line of ours (each is its own list item, heading or row)
            for line in md.lines() {
                proptest::prop_assert!(!outside_code_spans(line).contains('<'), "{}", line);
            }
        }
    }

    /// The text of `md` with its code spans (a run of n backticks up to the next run of exactly
    /// n) removed, as CommonMark reads them.
    fn outside_code_spans(md: &str) -> String {
        let b = md.as_bytes();
        let run = |i: usize| b[i..].iter().take_while(|&&c| c == b'`').count();
        let (mut out, mut i) = (Vec::new(), 0);
        while i < b.len() {
            if b[i] == b'\\' && i + 1 < b.len() {
                // a backslash escape stands for its character, never for markup
                out.push(b[i + 1]);
                i += 2;
                continue;
            }
            if b[i] != b'`' {
                out.push(b[i]);
                i += 1;
                continue;
            }
            let n = run(i);
            let mut j = i + n;
            let close = loop {
                match b[j..].iter().position(|&c| c == b'`') {
                    None => break None,
                    Some(k) => {
                        let m = run(j + k);
                        if m == n {
                            break Some(j + k + m);
                        }
                        j += k + m;
                    }
                }
            };
            match close {
                Some(end) => i = end,
                None => {
                    out.extend_from_slice(&b[i..i + n]);
                    i += n;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn code_spans_hold_backticks() {
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code(""), "` `");
        assert_eq!(code("<`"), "`` <` ``");
        assert_eq!(code("`x`"), "`` `x` ``");
        assert_eq!(code("q{a=\"b\"}"), "`q{a=\"b\"}`");
    }

    #[test]
    fn pdf_is_a_deterministic_document() {
        let r = report(ContentHash::of(b"x"));
        let a = r.to_pdf().unwrap();
        assert!(a.starts_with(b"%PDF-"));
        assert!(String::from_utf8_lossy(&a).trim_end().ends_with("%%EOF"));
        assert_eq!(a, r.to_pdf().unwrap());
        let text = String::from_utf8_lossy(&a);
        assert!(text.contains("/Helvetica") && text.contains("/Type /Page"));
    }

    #[test]
    fn a_report_without_evidence_is_refused() {
        let r = report("0".repeat(64).parse().unwrap());
        assert!(matches!(r.check(), Err(ReportError::Uncited { rank: _, .. })));
        assert!(r.to_html().is_err() && r.to_markdown().is_err() && r.to_pdf().is_err());
    }
}
