//! The incident report as PDF, written in-process with `pdf-writer`: A4 pages, the standard
//! Helvetica fonts (nothing embedded, text in WinAnsi encoding; characters outside it become
//! `?`), the same content as the HTML page, and the timelines drawn as vector paths.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use crate::report::{IncidentReport, ReportError, Timeline};

const W: f32 = 595.0;
const H: f32 = 842.0;
const MARGIN: f32 = 50.0;
const BODY: f32 = 9.0;
const LEAD: f32 = 12.0;
const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

/// Text in WinAnsi (Latin-1 for the printable range); anything else becomes `?`.
fn win_ansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c as u32 {
            0x20..=0x7E | 0xA0..=0xFF => c as u32 as u8,
            _ => b'?',
        })
        .collect()
}

/// Greedy word wrap at an average Helvetica width of half the font size.
fn wrap(s: &str, size: f32, width: f32) -> Vec<String> {
    let max = ((width / (size * 0.5)) as usize).max(10);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in s.split_whitespace() {
        let mut word = word.to_string();
        while word.chars().count() > max {
            let head: String = word.chars().take(max).collect();
            word = word.chars().skip(max).collect();
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            lines.push(head);
        }
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > max {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Pages being laid out, top to bottom.
struct Layout {
    done: Vec<Content>,
    current: Content,
    y: f32,
}

impl Layout {
    fn new() -> Self {
        Self { done: Vec::new(), current: Content::new(), y: H - MARGIN }
    }

    fn page(&mut self) -> &mut Content {
        &mut self.current
    }

    /// Starts a new page when `height` does not fit.
    fn need(&mut self, height: f32) {
        if self.y - height < MARGIN {
            self.done.push(std::mem::replace(&mut self.current, Content::new()));
            self.y = H - MARGIN;
        }
    }

    /// Every page, in order.
    fn finish(mut self) -> Vec<Content> {
        self.done.push(self.current);
        self.done
    }

    /// Writes wrapped text at `indent`.
    fn text(&mut self, s: &str, size: f32, bold: bool, indent: f32) {
        for line in wrap(s, size, W - 2.0 * MARGIN - indent) {
            self.need(size + 3.0);
            self.y -= size + 3.0;
            let y = self.y;
            let c = self.page();
            c.begin_text();
            c.set_font(if bold { BOLD } else { REGULAR }, size);
            c.next_line(MARGIN + indent, y);
            c.show(Str(&win_ansi(&line)));
            c.end_text();
        }
    }

    fn gap(&mut self, h: f32) {
        self.y -= h;
    }
}

impl IncidentReport {
    /// The report as a PDF document (A4, standard fonts, vector timelines); byte-identical for
    /// the same report.
    ///
    /// # Errors
    /// [`ReportError`] from [`IncidentReport::check`].
    pub fn to_pdf(&self) -> Result<Vec<u8>, ReportError> {
        self.check()?;
        let i = &self.incident;
        let mut l = Layout::new();
        l.text(&format!("Incident report: {}", i.title.as_deref().unwrap_or(&i.id)), 16.0, true, 0.0);
        l.text(
            &format!("incident {} - detected {} - window {} to {}", i.id, i.detected_at, i.window.start, i.window.end),
            BODY,
            false,
            0.0,
        );
        l.gap(LEAD);
        l.text("Hypotheses", 12.0, true, 0.0);
        for h in &self.hypotheses {
            l.gap(4.0);
            l.text(&format!("{}. {} (confidence {:.2})", h.rank, h.summary, h.confidence.get()), 10.0, true, 0.0);
            for e in h.evidence.as_slice() {
                let sha = e.sha256.to_string();
                l.text(
                    &format!(
                        "evidence {}: {} in {}: {} (sha256 {})",
                        e.id,
                        e.query,
                        e.source,
                        e.detail,
                        sha.get(..16).unwrap_or(&sha)
                    ),
                    BODY,
                    false,
                    12.0,
                );
            }
            for e in &h.counter_evidence {
                l.text(&format!("against: {}: {}", e.query, e.detail), BODY, false, 12.0);
            }
            for r in &h.ruled_out {
                l.text(&format!("ruled out {}: {}", r.subject, r.reason), BODY, false, 12.0);
            }
            for c in &h.next_checks {
                l.text(&format!("next check: {c}"), BODY, false, 12.0);
            }
            for c in &h.citations {
                l.text(
                    &format!("runbook: {} lines {}-{} ({})", c.path, c.line_start, c.line_end, c.headings.join(" > ")),
                    BODY,
                    false,
                    12.0,
                );
            }
        }
        if !self.timelines.is_empty() {
            l.gap(LEAD);
            // the heading stays with the first chart
            l.need(180.0);
            l.text("Timelines (shaded: the anomaly; dashed: changes; grey: detection)", 12.0, true, 0.0);
            for t in &self.timelines {
                l.need(150.0);
                l.text(&format!("{} - {}", t.title, t.selector), BODY, true, 0.0);
                l.gap(4.0);
                let top = l.y;
                self.chart(l.page(), t, top - 110.0, 110.0);
                l.y = top - 118.0;
            }
        }
        if !self.changes.is_empty() {
            l.gap(LEAD);
            l.need(40.0);
            l.text("Changes", 12.0, true, 0.0);
            for c in &self.changes {
                l.text(&format!("{}  {}  {}  {}", c.at, c.id, c.service, c.kind.as_str()), BODY, false, 0.0);
            }
        }
        for n in &self.notes {
            l.text(n, BODY, false, 0.0);
        }
        Ok(write(l.finish(), i.title.as_deref().unwrap_or(&i.id)))
    }

    /// One timeline in the box from `bottom` up `height` points.
    fn chart(&self, c: &mut Content, t: &Timeline, bottom: f32, height: f32) {
        let (left, width) = (MARGIN, W - 2.0 * MARGIN);
        let (t0, t1) = (self.incident.window.start.as_millis(), self.incident.window.end.as_millis());
        let span = (t1 - t0).max(1) as f64;
        let x = |ms: i64| left + ((ms.clamp(t0, t1) - t0) as f64 / span) as f32 * width;
        let (pts, lo, hi) = self.plotted(t);
        let y = |v: f64| bottom + 6.0 + ((v - lo) / (hi - lo)) as f32 * (height - 12.0);
        c.save_state();
        // frame
        c.set_stroke_rgb(0.85, 0.87, 0.9).set_line_width(0.5).rect(left, bottom, width, height).stroke();
        if let Some(a) = t.anomaly {
            let (ax, bx) = (x(a.start.as_millis()), x(a.end.as_millis()));
            c.set_fill_rgb(0.99, 0.93, 0.75).rect(ax, bottom, (bx - ax).max(1.0), height).fill_nonzero();
        }
        c.set_stroke_rgb(0.76, 0.25, 0.05).set_line_width(0.7).set_dash_pattern([3.0, 2.0], 0.0);
        for ch in self.changes.iter().filter(|ch| ch.at.as_millis() >= t0 && ch.at.as_millis() <= t1) {
            let cx = x(ch.at.as_millis());
            c.move_to(cx, bottom).line_to(cx, bottom + height).stroke();
        }
        c.set_dash_pattern([], 0.0).set_stroke_rgb(0.54, 0.58, 0.65);
        let dx = x(self.incident.detected_at.as_millis());
        c.move_to(dx, bottom).line_to(dx, bottom + height).stroke();
        c.set_stroke_rgb(0.23, 0.44, 0.97).set_line_width(0.9);
        let mut first = true;
        for &(m, v) in &pts {
            if first {
                c.move_to(x(m), y(v));
                first = false;
            } else {
                c.line_to(x(m), y(v));
            }
        }
        if !first {
            c.stroke();
        }
        c.restore_state();
        for (v, at) in [(hi, bottom + height - 9.0), (lo, bottom + 3.0)] {
            c.begin_text();
            c.set_font(REGULAR, 7.0);
            c.set_fill_rgb(0.36, 0.39, 0.47);
            c.next_line(left + 3.0, at);
            c.show(Str(&win_ansi(&faultlens_core::format_number(v))));
            c.end_text();
        }
        c.set_fill_rgb(0.0, 0.0, 0.0);
    }
}

/// Assembles the pages into a document.
fn write(pages: Vec<Content>, title: &str) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let (regular, bold) = (Ref::new(3), Ref::new(4));
    let info = Ref::new(5);
    let n = pages.len() as i32;
    let page_ids: Vec<Ref> = (0..n).map(|k| Ref::new(6 + 2 * k)).collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(page_ids.iter().copied()).count(n);
    pdf.document_info(info).title(TextStr(title)).producer(TextStr("faultlens"));
    pdf.type1_font(regular).base_font(Name(b"Helvetica")).encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold).base_font(Name(b"Helvetica-Bold")).encoding_predefined(Name(b"WinAnsiEncoding"));
    for (k, content) in pages.into_iter().enumerate() {
        let id = Ref::new(6 + 2 * k as i32);
        let content_id = Ref::new(7 + 2 * k as i32);
        let mut page = pdf.page(id);
        page.media_box(Rect::new(0.0, 0.0, W, H)).parent(tree).contents(content_id);
        let mut res = page.resources();
        res.fonts().pair(REGULAR, regular).pair(BOLD, bold);
        res.finish();
        page.finish();
        pdf.stream(content_id, &content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_words_and_splits_long_ones() {
        let lines = wrap("a bb ccc dddd", 10.0, 50.0);
        assert!(lines.iter().all(|l| l.chars().count() <= 10), "{lines:?}");
        assert_eq!(lines.join(" "), "a bb ccc dddd");
        let long = "x".repeat(35);
        assert_eq!(wrap(&long, 10.0, 50.0).concat(), long);
        assert_eq!(win_ansi("a\u{e9}\u{2192}"), vec![b'a', 0xE9, b'?']);
    }
}
