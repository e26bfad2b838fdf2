//! The incident report as PDF, written in-process with `pdf-writer`: A4 pages, the standard
//! Helvetica fonts (nothing embedded, text in WinAnsi encoding; characters outside it become
//! `?`), the same content as the HTML page, and the timelines drawn as vector paths.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use crate::chart::{Ink, Plot};
use crate::report::{Block, IncidentReport, ReportError, Span};

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

/// Spans as one line of plain text (hashes shortened to 16 digits).
fn plain(spans: &[Span]) -> String {
    let mut o = String::new();
    for s in spans {
        match s {
            Span::Text(t) | Span::Code(t) => o.push_str(t),
            Span::Label(l) => {
                o.push_str(l);
                o.push(' ');
            }
            Span::Hash(h) => {
                let h = h.to_string();
                o.push_str(&format!("(sha256 {})", h.get(..16).unwrap_or(&h)));
            }
        }
    }
    o
}

impl IncidentReport {
    /// The report as a PDF document (A4, standard fonts, vector charts); byte-identical for
    /// the same report.
    ///
    /// # Errors
    /// [`ReportError`] from [`IncidentReport::check`].
    pub fn to_pdf(&self) -> Result<Vec<u8>, ReportError> {
        self.check()?;
        let blocks = self.blocks();
        let mut l = Layout::new();
        for (k, block) in blocks.iter().enumerate() {
            match block {
                Block::Title(t) => l.text(t, 16.0, true, 0.0),
                Block::Meta(spans) => {
                    l.text(&plain(spans), BODY, false, 0.0);
                }
                Block::Section(t) => {
                    l.gap(LEAD);
                    // a heading stays with what follows it: the first chart, or a few lines
                    let chart_soon = blocks.iter().skip(k + 1).take(4).any(|b| matches!(b, Block::Figure { .. }));
                    l.need(if chart_soon { 180.0 } else { 60.0 });
                    l.text(t, 12.0, true, 0.0);
                }
                Block::Legend(t) => l.text(t, BODY, false, 0.0),
                Block::Paragraph(spans) => {
                    l.gap(3.0);
                    l.text(&plain(spans), BODY, false, 0.0);
                }
                Block::Hypothesis { rank, summary, confidence } => {
                    l.gap(4.0);
                    l.text(&format!("{rank}. {summary} (confidence {confidence:.2})"), 10.0, true, 0.0);
                }
                Block::Item(_, spans) => l.text(&plain(spans), BODY, false, 12.0),
                Block::EndHypothesis => {}
                Block::Figure { caption, plot } => {
                    l.need(150.0);
                    l.gap(4.0);
                    l.text(&plain(caption), BODY, true, 0.0);
                    l.gap(4.0);
                    let top = l.y;
                    draw(l.page(), plot, top - 110.0, 110.0);
                    l.y = top - 118.0;
                }
                Block::Table { header, rows } => {
                    l.gap(3.0);
                    let width = (W - 2.0 * MARGIN) / header.len().max(1) as f32;
                    let row = |l: &mut Layout, cells: Vec<String>, bold: bool| {
                        l.need(BODY + 3.0);
                        l.y -= BODY + 3.0;
                        let y = l.y;
                        let max = (width / (BODY * 0.5)) as usize;
                        let c = l.page();
                        for (j, full) in cells.iter().enumerate() {
                            // a cell too wide for its column is cut, and marked so
                            let mut cell: String = full.chars().take(max.saturating_sub(1)).collect();
                            if cell.chars().count() < full.chars().count() {
                                cell.push('~');
                            }
                            c.begin_text();
                            c.set_font(if bold { BOLD } else { REGULAR }, BODY);
                            c.next_line(MARGIN + j as f32 * width, y);
                            c.show(Str(&win_ansi(&cell)));
                            c.end_text();
                        }
                    };
                    row(&mut l, header.iter().map(|h| (*h).to_string()).collect(), true);
                    for r in rows {
                        row(&mut l, r.iter().map(|s| plain(std::slice::from_ref(s))).collect(), false);
                    }
                }
                Block::Note(n) => l.text(n, BODY, false, 0.0),
            }
        }
        let i = &self.incident;
        Ok(write(l.finish(), i.title.as_deref().unwrap_or(&i.id)))
    }
}

/// One plot in the box from `bottom` up `height` points, across the text width.
fn draw(c: &mut Content, p: &Plot, bottom: f32, height: f32) {
    let (left, width) = (MARGIN, W - 2.0 * MARGIN - 24.0);
    let x = |t: i64| left + p.fx(t) as f32 * width;
    let y = |v: f64| bottom + 6.0 + p.fy(v) as f32 * (height - 12.0);
    let ink = |c: &mut Content, ink: Ink, stroke: bool| {
        let (r, g, b) = ink.rgb();
        if stroke {
            c.set_stroke_rgb(r, g, b);
            if ink.dashed() {
                c.set_dash_pattern([3.0, 2.0], 0.0);
            } else {
                c.set_dash_pattern([], 0.0);
            }
        } else {
            c.set_fill_rgb(r, g, b);
        }
    };
    c.save_state();
    c.set_stroke_rgb(0.85, 0.87, 0.9).set_line_width(0.5).rect(left, bottom, width, height).stroke();
    for &(a, b) in &p.bands {
        let (ax, bx) = (x(a), x(b));
        c.set_fill_rgb(0.99, 0.93, 0.75).rect(ax, bottom, (bx - ax).max(1.0), height).fill_nonzero();
    }
    for bar in &p.bars {
        let (ax, bx) = (x(bar.start), x(bar.end));
        let (base, top) = (y(p.lo.max(0.0)), y(bar.value));
        ink(c, bar.ink, false);
        c.rect(ax, base, (bx - ax - 0.5).max(0.3), (top - base).max(0.0)).fill_nonzero();
    }
    c.set_line_width(0.7);
    for m in &p.verticals {
        ink(c, m.ink, true);
        let cx = x(m.at);
        c.move_to(cx, bottom).line_to(cx, bottom + height).stroke();
    }
    for m in &p.horizontals {
        ink(c, m.ink, true);
        let cy = y(m.at);
        c.move_to(left, cy).line_to(left + width, cy).stroke();
    }
    c.set_line_width(0.9);
    for line in &p.lines {
        ink(c, line.ink, true);
        for run in Plot::runs(line) {
            let mut pts = run.iter();
            if let Some(&(t, v)) = pts.next() {
                c.move_to(x(t), y(v));
                for &(t, v) in pts {
                    c.line_to(x(t), y(v));
                }
                c.stroke();
            }
        }
    }
    c.restore_state();
    let labels = [(p.hi, left + 3.0, bottom + height - 9.0), (p.lo, left + 3.0, bottom + 3.0)];
    let thresholds = p.horizontals.iter().map(|m| (m.at, left + width + 2.0, y(m.at) - 2.0));
    c.set_fill_rgb(0.36, 0.39, 0.47);
    for (v, at_x, at_y) in labels.into_iter().chain(thresholds) {
        c.begin_text();
        c.set_font(REGULAR, 7.0);
        c.next_line(at_x, at_y);
        c.show(Str(&win_ansi(&faultlens_core::format_number(v))));
        c.end_text();
    }
    c.set_fill_rgb(0.0, 0.0, 0.0);
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
