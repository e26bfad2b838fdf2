//! The analysis report (`faultlens.report/v1`, see `specs/bundle-v1.md`) and its Markdown form.

use std::fmt::Write as _;

use faultlens_core::{ContentHash, Hypothesis, TimeRange, Timestamp};
use faultlens_detect::logs::LogSignal;
use serde::{Deserialize, Serialize};

use crate::changes::{ChangeVerdict, ScoredChange};
use crate::rank::ServiceScore;
use crate::shift::{Periods, SeriesShift};

/// The report format tag.
pub const REPORT_FORMAT: &str = "faultlens.report/v1";

/// The incident a report is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportIncident {
    /// Incident id.
    pub id: String,
    /// Title, when given.
    pub title: Option<String>,
    /// When the alert fired.
    pub detected_at: Timestamp,
    /// The analysis window.
    pub window: TimeRange,
    /// Services the alert names.
    pub services: Vec<String>,
}

/// One input the analysis read, with its hash, so a report can be tied to its data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportInput {
    /// Bundle-relative path.
    pub path: String,
    /// SHA-256 of the data.
    pub sha256: ContentHash,
    /// Records decoded from it.
    pub records: u64,
}

/// The result of [`crate::analyze`]. The same bundle always gives the same report, byte for
/// byte, in either form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`REPORT_FORMAT`].
    pub format: String,
    /// The incident.
    pub incident: ReportIncident,
    /// Ranked hypotheses, best first; each has evidence.
    pub hypotheses: Vec<Hypothesis>,
    /// The baseline and incident periods every series was compared over.
    pub periods: Periods,
    /// Every service considered, by final score.
    pub services: Vec<ServiceScore>,
    /// Anomalous service-level series, strongest first.
    pub anomalies: Vec<SeriesShift>,
    /// Log anomaly signals, strongest first.
    pub log_patterns: Vec<LogSignal>,
    /// Changes in the window, scored, most plausible first.
    pub changes: Vec<ScoredChange>,
    /// What the analysis could not use or had to assume.
    pub notes: Vec<String>,
    /// The inputs read.
    pub inputs: Vec<ReportInput>,
}

impl Report {
    /// The report as pretty JSON (with a final newline).
    ///
    /// # Errors
    /// [`crate::Error::Serialize`] if serialisation fails (it does not for reports built by
    /// [`crate::analyze`]).
    pub fn to_json(&self) -> Result<String, crate::Error> {
        let mut s = serde_json::to_string_pretty(self).map_err(|e| crate::Error::Serialize(e.to_string()))?;
        s.push('\n');
        Ok(s)
    }

    /// The report as Markdown, for people: hypotheses with their evidence, counter-evidence,
    /// what was ruled out, next checks and citations, then the anomalies, log patterns and
    /// changes.
    #[must_use]
    pub fn to_markdown(&self) -> String {
        let mut o = String::new();
        let i = &self.incident;
        let _ = writeln!(o, "# Incident {}{}", i.id, i.title.as_deref().map(|t| format!(": {t}")).unwrap_or_default());
        let _ = writeln!(o);
        let _ = writeln!(o, "- Detected: {}", i.detected_at);
        let _ = writeln!(o, "- Window: {}", i.window);
        if !i.services.is_empty() {
            let _ = writeln!(o, "- Alerting: {}", i.services.join(", "));
        }
        let _ = writeln!(o, "- Baseline {} compared with {}", self.periods.baseline, self.periods.incident);
        let _ = writeln!(o);
        let _ = writeln!(o, "## Hypotheses");
        let _ = writeln!(o);
        if self.hypotheses.is_empty() {
            let _ = writeln!(o, "No hypothesis: nothing in the data departs from its baseline enough to cite.");
        }
        for h in &self.hypotheses {
            let _ = writeln!(
                o,
                "### {}. {} (confidence {:.2}, {})",
                h.rank,
                h.summary,
                h.confidence.get(),
                serde_json::to_value(h.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
            );
            let _ = writeln!(o);
            let _ = writeln!(o, "Evidence:");
            for e in h.evidence.as_slice() {
                let _ = writeln!(o, "- {}", evidence_line(e));
            }
            if !h.counter_evidence.is_empty() {
                let _ = writeln!(o, "\nAgainst it:");
                for e in &h.counter_evidence {
                    let _ = writeln!(o, "- {}", evidence_line(e));
                }
            }
            if !h.ruled_out.is_empty() {
                let _ = writeln!(o, "\nRuled out:");
                for r in &h.ruled_out {
                    let _ = writeln!(o, "- `{}`: {}", r.subject, r.reason);
                }
            }
            if !h.next_checks.is_empty() {
                let _ = writeln!(o, "\nNext checks:");
                for c in &h.next_checks {
                    let _ = writeln!(o, "- {c}");
                }
            }
            if !h.citations.is_empty() {
                let _ = writeln!(o, "\nRunbooks and postmortems:");
                for c in &h.citations {
                    let _ = writeln!(
                        o,
                        "- {} \u{a7} {} (lines {}-{}, score {:.2}, sha256 {})",
                        c.path,
                        c.headings.join(" > "),
                        c.line_start,
                        c.line_end,
                        c.score,
                        short(&c.sha256.to_string())
                    );
                }
            }
            let _ = writeln!(o);
        }
        let _ = writeln!(o, "## Anomalies");
        let _ = writeln!(o);
        if self.anomalies.is_empty() {
            let _ = writeln!(o, "None above the threshold.");
        } else {
            let _ = writeln!(o, "| service | metric | robust z | onset | source |");
            let _ = writeln!(o, "|---|---|---:|---|---|");
            for a in self.anomalies.iter().take(20) {
                let onset = a.onset.map(|t| t.to_string()).unwrap_or_else(|| "-".into());
                let _ = writeln!(
                    o,
                    "| {} | {} | {:+.1} | {onset} | {} |",
                    cell(&a.service),
                    cell(&a.metric),
                    a.z,
                    cell(&a.source)
                );
            }
            if self.anomalies.len() > 20 {
                let _ = writeln!(o, "\n{} more in the JSON report.", self.anomalies.len() - 20);
            }
        }
        let _ = writeln!(o);
        let _ = writeln!(o, "## Log patterns");
        let _ = writeln!(o);
        if self.log_patterns.is_empty() {
            let _ = writeln!(o, "None.");
        }
        for l in self.log_patterns.iter().take(10) {
            let _ = writeln!(
                o,
                "- {} `{}`: {} -> {} lines (-log10 p {:.1})",
                l.service.as_deref().unwrap_or("-"),
                l.template.replace('`', "'"),
                l.baseline_count,
                l.window_count,
                l.neg_log10_p
            );
        }
        let _ = writeln!(o);
        let _ = writeln!(o, "## Changes");
        let _ = writeln!(o);
        if self.changes.is_empty() {
            let _ = writeln!(o, "None in the window.");
        } else {
            let _ = writeln!(o, "| change | service | kind | at | score | verdict | why |");
            let _ = writeln!(o, "|---|---|---|---|---:|---|---|");
            for c in &self.changes {
                let verdict = match c.verdict {
                    ChangeVerdict::Suspect => "suspect",
                    ChangeVerdict::Possible => "possible",
                    ChangeVerdict::RuledOut => "ruled out",
                };
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} | {:.2} | {verdict} | {} |",
                    cell(&c.change.id),
                    cell(&c.change.service),
                    c.change.kind.as_str(),
                    c.change.at,
                    c.score,
                    cell(&c.reasons.join("; "))
                );
            }
        }
        if !self.notes.is_empty() {
            let _ = writeln!(o);
            let _ = writeln!(o, "## Notes");
            let _ = writeln!(o);
            for n in &self.notes {
                let _ = writeln!(o, "- {n}");
            }
        }
        o
    }
}

fn short(h: &str) -> &str {
    h.get(..12).unwrap_or(h)
}

/// Text safe inside a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn evidence_line(e: &faultlens_core::Evidence) -> String {
    let range = e.range.map(|r| format!(" [{r}]")).unwrap_or_default();
    format!(
        "{}`{}` in {}{range}: {} (sha256 {})",
        if e.id.is_empty() { String::new() } else { format!("{} ", e.id) },
        e.query.replace('`', "'"),
        e.source,
        e.detail.replace('\n', " "),
        short(&e.sha256.to_string())
    )
}
