//! One chart model for every report format: a [`Plot`] holds what to draw over a time axis
//! (lines, bars, shaded bands, vertical markers, horizontal thresholds), and the HTML (SVG)
//! and PDF writers each draw it in their own coordinates.

use std::fmt::Write as _;

/// How a mark is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ink {
    /// The main series (blue).
    Primary,
    /// A second series (violet).
    Secondary,
    /// Something bad: failed deployments (red).
    Bad,
    /// A change marker (dashed orange).
    Change,
    /// The detection time (grey).
    Detect,
    /// A threshold (dashed red).
    Threshold,
}

impl Ink {
    /// The SVG class.
    pub(crate) fn class(self) -> &'static str {
        match self {
            Self::Primary => "line",
            Self::Secondary => "line2",
            Self::Bad => "bad",
            Self::Change => "change",
            Self::Detect => "detect",
            Self::Threshold => "threshold",
        }
    }

    /// RGB for the PDF.
    pub(crate) fn rgb(self) -> (f32, f32, f32) {
        match self {
            Self::Primary => (0.23, 0.44, 0.97),
            Self::Secondary => (0.49, 0.23, 0.93),
            Self::Bad => (0.86, 0.15, 0.15),
            Self::Change => (0.76, 0.25, 0.05),
            Self::Detect => (0.54, 0.58, 0.65),
            Self::Threshold => (0.86, 0.15, 0.15),
        }
    }

    /// Whether the mark is dashed.
    pub(crate) fn dashed(self) -> bool {
        matches!(self, Self::Change | Self::Threshold)
    }
}

/// A series drawn as a line; `None` values break it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Line {
    pub(crate) ink: Ink,
    pub(crate) points: Vec<(i64, Option<f64>)>,
}

/// A vertical mark at a time, or a horizontal one at a value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Mark<T> {
    pub(crate) at: T,
    pub(crate) ink: Ink,
    pub(crate) label: String,
}

/// A bar from `start` to `end` (ms) and from 0 up to `value`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bar {
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) value: f64,
    pub(crate) ink: Ink,
}

/// Everything one chart shows over `[x0, x1]` and `[lo, hi]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plot {
    pub(crate) x0: i64,
    pub(crate) x1: i64,
    pub(crate) lo: f64,
    pub(crate) hi: f64,
    /// Shaded time ranges (the anomaly).
    pub(crate) bands: Vec<(i64, i64)>,
    pub(crate) bars: Vec<Bar>,
    pub(crate) lines: Vec<Line>,
    pub(crate) verticals: Vec<Mark<i64>>,
    pub(crate) horizontals: Vec<Mark<f64>>,
}

/// At most this many points per line are drawn: more than any page shows.
const MAX_POINTS: usize = 1_600;

impl Plot {
    /// An empty plot over `[x0, x1]`; the value range follows from what is added
    /// ([`Self::fit`]).
    pub(crate) fn new(x0: i64, x1: i64) -> Self {
        Self {
            x0,
            x1: x1.max(x0.saturating_add(1)),
            lo: 0.0,
            hi: 1.0,
            bands: Vec::new(),
            bars: Vec::new(),
            lines: Vec::new(),
            verticals: Vec::new(),
            horizontals: Vec::new(),
        }
    }

    /// Adds a line of the finite points inside the time range, thinned to [`MAX_POINTS`] by
    /// keeping each bucket's minimum and maximum (spikes survive).
    pub(crate) fn line(&mut self, ink: Ink, points: impl IntoIterator<Item = (i64, Option<f64>)>) {
        let (x0, x1) = (self.x0, self.x1);
        let pts: Vec<(i64, Option<f64>)> = points
            .into_iter()
            .filter(|(t, _)| *t >= x0 && *t <= x1)
            .map(|(t, v)| (t, v.filter(|v| v.is_finite())))
            .collect();
        self.lines.push(Line { ink, points: thin(pts) });
    }

    /// Sets the value range to cover every line, bar and threshold (`zero`: from 0 up), with a
    /// range around a flat value and 0 to 1 for nothing.
    pub(crate) fn fit(&mut self, zero: bool) {
        let values = self
            .lines
            .iter()
            .flat_map(|l| l.points.iter().filter_map(|p| p.1))
            .chain(self.bars.iter().map(|b| b.value))
            .chain(self.horizontals.iter().map(|h| h.at))
            .chain(zero.then_some(0.0))
            .filter(|v| v.is_finite());
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
        (self.lo, self.hi) = if lo.is_finite() && hi > lo {
            (lo, hi)
        } else if lo.is_finite() {
            (lo - 1.0, lo + 1.0)
        } else {
            (0.0, 1.0)
        };
    }

    /// The horizontal position of `t` in `[0, 1]`, clamped.
    pub(crate) fn fx(&self, t: i64) -> f64 {
        (t.clamp(self.x0, self.x1) - self.x0) as f64 / (self.x1 - self.x0) as f64
    }

    /// The vertical position of `v` in `[0, 1]`, clamped.
    pub(crate) fn fy(&self, v: f64) -> f64 {
        ((v - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0)
    }

    /// The runs of consecutive defined points of a line.
    pub(crate) fn runs(line: &Line) -> impl Iterator<Item = Vec<(i64, f64)>> + '_ {
        line.points
            .split(|p| p.1.is_none())
            .filter(|r| !r.is_empty())
            .map(|r| r.iter().filter_map(|&(t, v)| v.map(|v| (t, v))).collect())
    }

    /// The plot as an SVG element `w` by `h` units.
    pub(crate) fn svg(&self, w: f64, h: f64) -> String {
        const PAD: f64 = 36.0;
        let x = |t: i64| PAD + self.fx(t) * (w - 2.0 * PAD);
        let y = |v: f64| h - PAD / 2.0 - self.fy(v) * (h - PAD);
        let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" role=\"img\">");
        for &(a, b) in &self.bands {
            let (ax, bx) = (x(a), x(b));
            let _ = write!(
                s,
                "<rect x=\"{ax:.1}\" y=\"0\" width=\"{:.1}\" height=\"{h}\" class=\"band\"/>",
                (bx - ax).max(1.0)
            );
        }
        for b in &self.bars {
            let (ax, bx, top) = (x(b.start), x(b.end), y(b.value));
            let _ = write!(
                s,
                "<rect x=\"{ax:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" class=\"{}\"/>",
                (bx - ax - 1.0).max(0.5),
                (y(self.lo.max(0.0)) - top).max(0.0),
                b.ink.class()
            );
        }
        for m in &self.verticals {
            let cx = x(m.at);
            let _ = write!(
                s,
                "<line x1=\"{cx:.1}\" y1=\"0\" x2=\"{cx:.1}\" y2=\"{h}\" class=\"{}\"><title>{}</title></line>",
                m.ink.class(),
                crate::report::esc(&m.label)
            );
        }
        for m in &self.horizontals {
            let cy = y(m.at);
            let _ = write!(
                s,
                "<line x1=\"{PAD}\" y1=\"{cy:.1}\" x2=\"{:.1}\" y2=\"{cy:.1}\" class=\"{}\"><title>{}</title></line>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" class=\"axis\">{}</text>",
                w - PAD,
                m.ink.class(),
                crate::report::esc(&m.label),
                w - PAD - 2.0,
                cy - 3.0,
                crate::report::esc(&m.label)
            );
        }
        for line in &self.lines {
            for run in Self::runs(line) {
                let path: Vec<String> = run.iter().map(|&(t, v)| format!("{:.1},{:.1}", x(t), y(v))).collect();
                let _ = write!(s, "<polyline points=\"{}\" class=\"{}\"/>", path.join(" "), line.ink.class());
            }
        }
        let _ = write!(
            s,
            "<text x=\"2\" y=\"12\" class=\"axis\">{}</text><text x=\"2\" y=\"{:.0}\" class=\"axis\">{}</text></svg>",
            crate::report::esc(&faultlens_core::format_number(self.hi)),
            h - 4.0,
            crate::report::esc(&faultlens_core::format_number(self.lo))
        );
        s
    }
}

/// Thins a line to about [`MAX_POINTS`]: each bucket keeps its first gap, its minimum and its
/// maximum, in time order.
fn thin(pts: Vec<(i64, Option<f64>)>) -> Vec<(i64, Option<f64>)> {
    if pts.len() <= MAX_POINTS {
        return pts;
    }
    let per = pts.len().div_ceil(MAX_POINTS / 3);
    let mut out = Vec::with_capacity(MAX_POINTS + 3);
    for chunk in pts.chunks(per) {
        let gap = chunk.iter().find(|p| p.1.is_none());
        let defined = chunk.iter().filter(|p| p.1.is_some());
        let min = defined.clone().min_by(|a, b| a.1.unwrap_or(0.0).total_cmp(&b.1.unwrap_or(0.0)));
        let max = defined.max_by(|a, b| a.1.unwrap_or(0.0).total_cmp(&b.1.unwrap_or(0.0)));
        let mut keep: Vec<(i64, Option<f64>)> = [gap, min, max].into_iter().flatten().copied().collect();
        keep.sort_by_key(|p| p.0);
        keep.dedup();
        out.extend(keep);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_spikes_and_gaps() {
        let mut pts: Vec<(i64, Option<f64>)> = (0..100_000).map(|i| (i, Some(1.0))).collect();
        pts[54_321].1 = Some(50.0);
        pts[70_000].1 = None;
        let t = thin(pts);
        assert!(t.len() <= MAX_POINTS + 3, "{}", t.len());
        assert!(t.contains(&(54_321, Some(50.0))));
        assert!(t.contains(&(70_000, None)));
        assert!(t.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn fitting_covers_thresholds_and_breaks_lines_at_gaps() {
        let mut p = Plot::new(0, 10);
        p.line(Ink::Primary, [(0, Some(1.0)), (1, Some(2.0)), (2, None), (3, Some(f64::NAN)), (4, Some(3.0))]);
        p.horizontals.push(Mark { at: 14.4, ink: Ink::Threshold, label: "14.4".into() });
        p.fit(true);
        assert_eq!((p.lo, p.hi), (0.0, 14.4));
        let runs: Vec<_> = Plot::runs(&p.lines[0]).collect();
        assert_eq!(runs, vec![vec![(0, 1.0), (1, 2.0)], vec![(4, 3.0)]]);
        let mut flat = Plot::new(5, 5);
        flat.line(Ink::Primary, [(5, Some(2.0))]);
        flat.fit(false);
        assert_eq!((flat.lo, flat.hi, flat.x1), (1.0, 3.0, 6));
        assert!(flat.svg(100.0, 50.0).starts_with("<svg"));
    }
}
