//! Incident reports: Markdown and a self-contained HTML page with SVG charts (metric timelines
//! with the anomaly band and change markers), built from an analysis's hypotheses.
//!
//! Every hypothesis in a report is a recommendation, so every one must cite its evidence: at
//! least one item naming its source, with a content hash. [`IncidentReport::check`] refuses a
//! report where one does not, and both exports call it first. Telemetry text is untrusted:
//! everything interpolated into HTML or SVG is escaped, and the page loads nothing from outside.

use std::fmt::Write as _;

use faultlens_core::{ChangeEvent, Hypothesis, Incident, TimeRange};
use serde::{Deserialize, Serialize};

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
fn esc(s: &str) -> String {
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

    /// The report as Markdown.
    ///
    /// # Errors
    /// [`ReportError`] from [`Self::check`].
    pub fn to_markdown(&self) -> Result<String, ReportError> {
        self.check()?;
        let mut o = String::new();
        let i = &self.incident;
        let _ = writeln!(o, "# Incident report: {}", cell(i.title.as_deref().unwrap_or(&i.id)));
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "- incident: {}, detected {}, window {} to {}",
            code(&i.id),
            i.detected_at,
            i.window.start,
            i.window.end
        );
        let _ = writeln!(o);
        let _ = writeln!(o, "## Hypotheses");
        for h in &self.hypotheses {
            let _ = writeln!(o);
            let _ = writeln!(o, "### {}. {} (confidence {:.2})", h.rank, cell(&h.summary), h.confidence.get());
            let _ = writeln!(o);
            for e in h.evidence.as_slice() {
                let _ = writeln!(
                    o,
                    "- evidence {}: {} in {} (sha256 {}): {}",
                    e.id,
                    code(&e.query),
                    code(&e.source),
                    e.sha256,
                    cell(&e.detail)
                );
            }
            for e in &h.counter_evidence {
                let _ = writeln!(o, "- against: {}: {}", code(&e.query), cell(&e.detail));
            }
            for r in &h.ruled_out {
                let _ = writeln!(o, "- ruled out {}: {}", cell(&r.subject), cell(&r.reason));
            }
            for c in &h.next_checks {
                let _ = writeln!(o, "- next check: {}", cell(c));
            }
            for c in &h.citations {
                let _ = writeln!(
                    o,
                    "- runbook: {} lines {}-{} ({})",
                    cell(&c.path),
                    c.line_start,
                    c.line_end,
                    cell(&c.headings.join(" > "))
                );
            }
        }
        if !self.changes.is_empty() {
            let _ = writeln!(o);
            let _ = writeln!(o, "## Changes");
            let _ = writeln!(o);
            let _ = writeln!(o, "| at | change | service | kind |");
            let _ = writeln!(o, "|---|---|---|---|");
            for c in &self.changes {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} |",
                    c.at,
                    code(&c.id).replace('|', "\\|"),
                    cell(&c.service),
                    c.kind.as_str()
                );
            }
        }
        for n in &self.notes {
            let _ = writeln!(o, "\n> {}", cell(n));
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
        let i = &self.incident;
        let title = esc(i.title.as_deref().unwrap_or(&i.id));
        let mut o = String::new();
        let _ = write!(
            o,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
             <title>Incident report: {title}</title><style>{CSS}</style></head><body>\n"
        );
        let _ = writeln!(o, "<h1>Incident report: {title}</h1>");
        let _ = writeln!(
            o,
            "<p class=\"meta\">incident <code>{}</code> · detected {} · window {} to {}</p>",
            esc(&i.id),
            i.detected_at,
            i.window.start,
            i.window.end
        );
        let _ = writeln!(o, "<h2>Hypotheses</h2>");
        for h in &self.hypotheses {
            let pct = 100.0 * h.confidence.get();
            let _ = writeln!(
                o,
                "<section class=\"hyp\"><h3>{}. {}</h3><div class=\"bar\"><span style=\"width:{pct:.1}%\"></span></div>\
                 <p class=\"conf\">confidence {:.2}</p><ul>",
                h.rank,
                esc(&h.summary),
                h.confidence.get()
            );
            for e in h.evidence.as_slice() {
                let _ = writeln!(
                    o,
                    "<li><b>evidence {}</b> <code>{}</code> in <code>{}</code>: {} <small>sha256 {}</small></li>",
                    esc(&e.id),
                    esc(&e.query),
                    esc(&e.source),
                    esc(&e.detail),
                    e.sha256
                );
            }
            for e in &h.counter_evidence {
                let _ = writeln!(
                    o,
                    "<li class=\"against\"><b>against</b> <code>{}</code>: {}</li>",
                    esc(&e.query),
                    esc(&e.detail)
                );
            }
            for r in &h.ruled_out {
                let _ = writeln!(o, "<li class=\"out\"><b>ruled out</b> {}: {}</li>", esc(&r.subject), esc(&r.reason));
            }
            for c in &h.next_checks {
                let _ = writeln!(o, "<li><b>next check</b> {}</li>", esc(c));
            }
            for c in &h.citations {
                let _ = writeln!(
                    o,
                    "<li><b>runbook</b> <code>{}</code> lines {}-{}: {}</li>",
                    esc(&c.path),
                    c.line_start,
                    c.line_end,
                    esc(&c.headings.join(" › "))
                );
            }
            let _ = writeln!(o, "</ul></section>");
        }
        if !self.timelines.is_empty() {
            let _ = writeln!(
                o,
                "<h2>Timelines</h2><p class=\"meta\">shaded: the anomaly · dashed: changes · grey: detection</p>"
            );
            for t in &self.timelines {
                let _ = writeln!(
                    o,
                    "<figure><figcaption>{} <code>{}</code></figcaption>{}</figure>",
                    esc(&t.title),
                    esc(&t.selector),
                    self.svg(t)
                );
            }
        }
        if !self.changes.is_empty() {
            let _ =
                writeln!(o, "<h2>Changes</h2><table><tr><th>at</th><th>change</th><th>service</th><th>kind</th></tr>");
            for c in &self.changes {
                let _ = writeln!(
                    o,
                    "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                    c.at,
                    esc(&c.id),
                    esc(&c.service),
                    c.kind.as_str()
                );
            }
            let _ = writeln!(o, "</table>");
        }
        for n in &self.notes {
            let _ = writeln!(o, "<p class=\"note\">{}</p>", esc(n));
        }
        let _ = writeln!(o, "</body></html>");
        Ok(o)
    }

    /// The finite points of a timeline inside the incident window, and the value range to plot
    /// (a flat or empty series gets a range around its value, or 0 to 1).
    pub(crate) fn plotted(&self, t: &Timeline) -> (Vec<(i64, f64)>, f64, f64) {
        let (t0, t1) = (self.incident.window.start.as_millis(), self.incident.window.end.as_millis());
        let pts: Vec<(i64, f64)> =
            t.points.iter().copied().filter(|(x, v)| *x >= t0 && *x <= t1 && v.is_finite()).collect();
        let (lo, hi) = pts.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.1), b.max(p.1)));
        let (lo, hi) = if lo.is_finite() && hi > lo {
            (lo, hi)
        } else if lo.is_finite() {
            (lo - 1.0, lo + 1.0)
        } else {
            (0.0, 1.0)
        };
        (pts, lo, hi)
    }

    /// One timeline as an SVG line chart: the series, the anomaly band, change markers.
    fn svg(&self, t: &Timeline) -> String {
        const W: f64 = 760.0;
        const H: f64 = 180.0;
        const PAD: f64 = 36.0;
        let (t0, t1) = (self.incident.window.start.as_millis(), self.incident.window.end.as_millis());
        let (pts, lo, hi) = self.plotted(t);
        let span = (t1 - t0).max(1) as f64;
        let x = |ms: i64| PAD + (ms - t0) as f64 / span * (W - 2.0 * PAD);
        let y = |v: f64| H - PAD / 2.0 - (v - lo) / (hi - lo) * (H - PAD);
        let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" role=\"img\">");
        if let Some(a) = t.anomaly {
            let (ax, bx) = (x(a.start.as_millis().max(t0)), x(a.end.as_millis().min(t1)));
            let _ = write!(
                s,
                "<rect x=\"{ax:.1}\" y=\"0\" width=\"{:.1}\" height=\"{H}\" class=\"band\"/>",
                (bx - ax).max(1.0)
            );
        }
        for c in self.changes.iter().filter(|c| c.at.as_millis() >= t0 && c.at.as_millis() <= t1) {
            let cx = x(c.at.as_millis());
            let _ = write!(
                s,
                "<line x1=\"{cx:.1}\" y1=\"0\" x2=\"{cx:.1}\" y2=\"{H}\" class=\"change\"><title>{} ({})</title></line>",
                esc(&c.id),
                esc(&c.service)
            );
        }
        let dx = x(self.incident.detected_at.as_millis().clamp(t0, t1));
        let _ = write!(
            s,
            "<line x1=\"{dx:.1}\" y1=\"0\" x2=\"{dx:.1}\" y2=\"{H}\" class=\"detect\"><title>detected</title></line>"
        );
        let path: Vec<String> = pts.iter().map(|&(ms, v)| format!("{:.1},{:.1}", x(ms), y(v))).collect();
        let _ = write!(s, "<polyline points=\"{}\" class=\"line\"/>", path.join(" "));
        let _ = write!(
            s,
            "<text x=\"2\" y=\"12\" class=\"axis\">{}</text><text x=\"2\" y=\"{:.0}\" class=\"axis\">{}</text></svg>",
            esc(&faultlens_core::format_number(hi)),
            H - 4.0,
            esc(&faultlens_core::format_number(lo))
        );
        s
    }
}

const CSS: &str = "body{font:15px/1.45 system-ui,sans-serif;max-width:820px;margin:2em auto;color:#1d2433}\
code{font-size:13px;background:#f1f3f7;padding:0 3px;border-radius:3px}.meta,.conf,small{color:#5b6478}\
.hyp{border:1px solid #dde2ea;border-radius:6px;padding:.2em 1em;margin:1em 0}.against{color:#8a3b12}.out{color:#5b6478}\
.bar{height:6px;background:#eef1f6;border-radius:3px}.bar span{display:block;height:6px;background:#3a6ff7;border-radius:3px}\
table{border-collapse:collapse}td,th{border-bottom:1px solid #dde2ea;padding:2px 8px;text-align:left}\
svg{width:100%;height:auto;background:#fafbfd;border:1px solid #e3e7ee}.line{fill:none;stroke:#3a6ff7;stroke-width:1.4}\
.band{fill:#f7c948;opacity:.28}.detect{stroke:#8a94a6;stroke-width:1.2}.change{stroke:#c2410c;stroke-dasharray:4 3}.axis{font-size:10px;fill:#5b6478}\
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
            notes: vec![],
        }
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
            let mut r = report(ContentHash::of(b"x"));
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
