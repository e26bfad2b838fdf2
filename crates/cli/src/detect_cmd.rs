//! `faultlens detect series|bundle`.

use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};
use faultlens::core::Timestamp;
use faultlens::core::{Bundle, LoadOptions};
use faultlens::detect::metrics::{self, BatchConfig, DetectConfig, StreamConfig, StreamingDetector, score_batch};

use crate::output::json;
use crate::{Failure, Format};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum Mode {
    /// Causal: the score of a point uses only the points before it.
    #[default]
    Stream,
    /// The whole series at once.
    Batch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum Granularity {
    /// One series per metric and service.
    #[default]
    Service,
    /// Every series as stored (per pod, per version).
    Series,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DetectAction {
    /// Score every row of a `timestamp,value` CSV; writes `timestamp,value,anomaly_score`.
    Series {
        /// Input CSV with a header and the columns timestamp,value.
        input: PathBuf,
        /// Output CSV (one row per input row, in order).
        #[arg(long)]
        output: PathBuf,
        /// Streaming (causal, the default) or batch.
        #[arg(long, value_enum, default_value_t = Mode::Stream)]
        mode: Mode,
        /// Detector settings as JSON (fields of `StreamConfig`; omitted fields keep their defaults).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The detector's saved state (streaming mode): resumed from this file when it exists,
        /// and written back after the last row, so a series can be scored in pieces, one run at
        /// a time, exactly as in one run. Rows not after the state's last timestamp score 0.
        #[arg(long)]
        state: Option<PathBuf>,
        /// Add the columns `kind,expected,scale,z,p_value,onset` after `anomaly_score`: the test
        /// that found the point (`residual`, `shift`, `out_of_range` or `stretch`; empty for
        /// ordinary points), the value expected there, the residual scale in the series' units,
        /// the standardised residual, and, in streaming mode, the point's tail probability and
        /// whether it opened a reported excursion (batch mode leaves those two empty).
        #[arg(long)]
        detail: bool,
    },
    /// Print the anomalies of a bundle's metric series in its incident window, by service.
    Bundle {
        /// The bundle directory.
        dir: PathBuf,
        /// Streaming (causal, the default) or batch.
        #[arg(long, value_enum, default_value_t = Mode::Stream)]
        mode: Mode,
        /// How many series to list.
        #[arg(long, default_value_t = 20)]
        top: usize,
        /// Score one series per metric and service (pods averaged, continuous across deploys),
        /// or every series as stored.
        #[arg(long, value_enum, default_value_t = Granularity::Service)]
        by: Granularity,
    },
}

fn fail(code: u8, message: String) -> Failure {
    Failure { reported: false, code, message }
}

pub(crate) fn run(action: DetectAction, format: Format) -> Result<(), Failure> {
    match action {
        DetectAction::Series { input, output, mode, config, state, detail } => {
            let given = match &config {
                None => None,
                Some(p) => {
                    let text = std::fs::read_to_string(p).map_err(|e| fail(3, format!("{}: {e}", p.display())))?;
                    Some(serde_json::from_str(&text).map_err(|e| fail(2, format!("{}: {e}", p.display())))?)
                }
            };
            let scorer = match (mode, state) {
                (Mode::Batch, Some(_)) => {
                    return Err(fail(
                        2,
                        "--state keeps a streaming detector; it cannot be used with --mode batch".into(),
                    ));
                }
                (Mode::Batch, None) => Scorer::Batch,
                (Mode::Stream, None) => {
                    Scorer::Stream(Box::new(StreamingDetector::new(given.unwrap_or_default())), None)
                }
                (Mode::Stream, Some(path)) => {
                    Scorer::Stream(Box::new(resume_or_start(&path, given.as_ref(), config.as_deref())?), Some(path))
                }
            };
            series(&input, &output, scorer, detail, format)
        }
        DetectAction::Bundle { dir, mode, top, by } => bundle(&dir, mode, top, by, format),
    }
}

/// How `detect series` scores: the batch ensemble, or a streaming detector (fresh or resumed)
/// and the file its state is saved to.
enum Scorer {
    Batch,
    Stream(Box<StreamingDetector>, Option<PathBuf>),
}

/// The detector saved at `path`, or a fresh one when the file does not exist. Settings given
/// with `--config` must be the ones the saved detector learned under.
fn resume_or_start(
    path: &Path,
    given: Option<&StreamConfig>,
    config_path: Option<&Path>,
) -> Result<StreamingDetector, Failure> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(StreamingDetector::new(given.cloned().unwrap_or_default()));
        }
        Err(e) => return Err(fail(3, format!("{}: {e}", path.display()))),
    };
    let value = serde_json::from_str(&text).map_err(|e| fail(2, format!("{}: {e}", path.display())))?;
    let d = StreamingDetector::restore(value).map_err(|e| fail(2, format!("{}: {e}", path.display())))?;
    if let (Some(given), Some(config_path)) = (given, config_path)
        && given != d.config()
    {
        return Err(fail(
            2,
            format!(
                "{}: the saved detector learned under other settings than {}; leave out --config to keep its own",
                path.display(),
                config_path.display()
            ),
        ));
    }
    Ok(d)
}

/// Writes the detector's state next to `path` and renames it into place, so an interrupted
/// run leaves the previous state whole.
fn save_state(path: &Path, d: &StreamingDetector) -> Result<(), Failure> {
    let text = serde_json::to_string(d).map_err(|e| fail(3, format!("{}: {e}", path.display())))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text).map_err(|e| fail(3, format!("{}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(|e| fail(3, format!("{}: {e}", path.display())))
}

/// The `--detail` columns of one row, after `anomaly_score`.
const DETAIL_COLUMNS: [&str; 6] = ["kind", "expected", "scale", "z", "p_value", "onset"];

/// A number for a `--detail` column: its shortest exact form, empty when not finite.
fn cell(v: f64) -> String {
    if v.is_finite() { format!("{v}") } else { String::new() }
}

/// The `--detail` columns of a point scored in streaming mode.
fn stream_detail(p: &metrics::PointScore) -> [String; 6] {
    [
        p.kind.map(|k| k.name().to_string()).unwrap_or_default(),
        cell(p.expected),
        cell(p.scale),
        cell(p.z),
        cell(p.p_value),
        p.onset.to_string(),
    ]
}

/// The `--detail` columns of point `i` of a batch result, whose value is `v`.
fn batch_detail(r: &metrics::BatchResult, i: usize, v: f64) -> [String; 6] {
    let expected = r.expected.get(i).copied().unwrap_or(f64::NAN);
    let z = if r.scale > 0.0 { (v - expected) / r.scale } else { f64::NAN };
    [
        r.kinds.get(i).copied().flatten().map(|k| k.name().to_string()).unwrap_or_default(),
        cell(expected),
        cell(if expected.is_finite() { r.scale } else { f64::NAN }),
        cell(z),
        String::new(),
        String::new(),
    ]
}

fn series(input: &PathBuf, output: &PathBuf, scorer: Scorer, detail: bool, format: Format) -> Result<(), Failure> {
    let mut rdr = csv::Reader::from_path(input).map_err(|e| fail(3, format!("{}: {e}", input.display())))?;
    let headers = rdr.headers().map_err(|e| fail(3, format!("{}: line 1: {e}", input.display())))?.clone();
    let col = |name: &str| headers.iter().position(|h| h.trim() == name);
    let (Some(tc), Some(vc)) = (col("timestamp"), col("value")) else {
        return Err(fail(
            1,
            format!("{}: line 1: expected the columns timestamp,value, found {:?}", input.display(), headers),
        ));
    };
    let mut raw = Vec::new();
    let mut ts = Vec::new();
    let mut vs = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| fail(1, format!("{}: line {line}: {e}", input.display())))?;
        let t_text = rec.get(tc).unwrap_or_default().to_string();
        let v_text = rec.get(vc).unwrap_or_default().to_string();
        let t = Timestamp::parse_lenient(&t_text).ok_or_else(|| {
            fail(
                1,
                format!("{}: line {line}, field `timestamp`: expected a timestamp, found `{t_text}`", input.display()),
            )
        })?;
        // an empty or unparseable value is a missing sample: scored 0, kept in the output
        let v = v_text.trim().parse::<f64>().unwrap_or(f64::NAN);
        ts.push(t.as_millis());
        vs.push(v);
        raw.push((t_text, v_text));
    }
    // the score of each row, and its detail columns when asked for
    let (scores, details, state): (Vec<f64>, Vec<[String; 6]>, _) = match scorer {
        Scorer::Stream(mut d, state) => {
            let (mut scores, mut details) = (Vec::with_capacity(ts.len()), Vec::new());
            for (&t, &v) in ts.iter().zip(&vs) {
                let p = d.update(t, v);
                scores.push(p.score);
                if detail {
                    details.push(stream_detail(&p));
                }
            }
            (scores, details, Some((d, state)))
        }
        Scorer::Batch => {
            let mut r = score_batch(&ts, &vs, &BatchConfig::default());
            let details =
                if detail { vs.iter().enumerate().map(|(i, &v)| batch_detail(&r, i, v)).collect() } else { Vec::new() };
            (std::mem::take(&mut r.scores), details, None)
        }
    };
    let mut w = csv::Writer::from_path(output).map_err(|e| fail(3, format!("{}: {e}", output.display())))?;
    let io = |e: csv::Error| fail(3, format!("{}: {e}", output.display()));
    let mut header = vec!["timestamp", "value", "anomaly_score"];
    if detail {
        header.extend(DETAIL_COLUMNS);
    }
    w.write_record(&header).map_err(io)?;
    for (i, ((t, v), s)) in raw.iter().zip(&scores).enumerate() {
        let score = format!("{s:.6}");
        let mut row = vec![t.as_str(), v.as_str(), score.as_str()];
        if let Some(d) = details.get(i) {
            row.extend(d.iter().map(String::as_str));
        }
        w.write_record(&row).map_err(io)?;
    }
    w.flush().map_err(|e| fail(3, format!("{}: {e}", output.display())))?;
    let saved = match &state {
        Some((d, Some(path))) => {
            save_state(path, d)?;
            serde_json::json!({"path": path, "points": d.state().points(), "skipped": d.state().skipped()})
        }
        _ => serde_json::Value::Null,
    };
    let report = serde_json::json!({"ok": true, "rows": scores.len(), "output": output, "state": saved});
    if format == Format::Json {
        return json(&report);
    }
    Ok(())
}

fn bundle(dir: &PathBuf, mode: Mode, top: usize, by: Granularity, format: Format) -> Result<(), Failure> {
    let mut data = Bundle::load_decoded(dir, LoadOptions::default())?.1;
    let sources: Vec<String> = match by {
        Granularity::Series => {
            (0..data.series.len()).map(|i| data.series_source(i).map(|s| s.path.clone()).unwrap_or_default()).collect()
        }
        Granularity::Service => {
            let by_series: std::collections::BTreeMap<String, String> = (0..data.series.len())
                .filter_map(|i| Some((data.series.get(i)?.name().to_string(), data.series_source(i)?.path.clone())))
                .collect();
            data.series = metrics::aggregate_by(&data.series, &["service"]);
            data.series.iter().map(|s| by_series.get(s.name()).cloned().unwrap_or_default()).collect()
        }
    };
    let mode = match mode {
        Mode::Stream => metrics::Mode::Stream,
        Mode::Batch => metrics::Mode::Batch,
    };
    let analyses = metrics::detect_many(&data.series, &sources, &DetectConfig::default().with_mode(mode));
    let ranked = metrics::rank_in_window(&data.series, &analyses, data.incident.window);
    let groups = metrics::group_by_service(&ranked);
    if format == Format::Json {
        let top_windows: Vec<_> = ranked
            .iter()
            .take(top)
            .filter_map(|r| {
                analyses.get(r.index).map(|a| {
                    (r, a.windows.iter().filter(|w| data.incident.window.contains(w.onset)).collect::<Vec<_>>())
                })
            })
            .map(|(r, w)| serde_json::json!({"series": r, "windows": w}))
            .collect();
        return json(
            &serde_json::json!({"incident": data.incident.id, "anomalous_series": ranked.len(), "groups": groups, "top": top_windows}),
        );
    }
    let det = data.incident.detected_at.as_millis();
    let significant = ranked.iter().filter(|r| r.significant).count();
    println!(
        "{}: {} of {} series anomalous in the window {}; {significant} significant at 5% family-wise (marked *)",
        data.incident.id,
        ranked.len(),
        data.series.len(),
        data.incident.window
    );
    // groups with a significant series first, each part in order of onset
    let mut ordered: Vec<&(String, Vec<metrics::RankedSeries>)> = groups.iter().collect();
    ordered.sort_by_key(|(_, g)| !g.iter().any(|r| r.significant));
    for (service, g) in ordered {
        let first = g.iter().map(|r| r.onset).min();
        println!(
            "\n{} ({} series, first onset {})",
            if service.is_empty() { "(no service)" } else { service },
            g.len(),
            first.map(|t| crate::output::offset(t.as_millis() - det)).unwrap_or_default()
        );
        for r in g.iter().take(top) {
            let w = analyses.get(r.index).and_then(|a| a.windows.iter().find(|w| w.onset == r.onset));
            let how = w
                .map(|w| {
                    format!(
                        "{:?} {:+.1} sigma, observed {} vs band {}..{}{}",
                        w.direction,
                        if w.direction == metrics::Direction::Up { w.magnitude_sigmas } else { -w.magnitude_sigmas },
                        crate::output::num(w.observed),
                        crate::output::num(w.band_low),
                        crate::output::num(w.band_high),
                        crate::output::kind_suffix(w.kind)
                    )
                })
                .unwrap_or_default();
            println!(
                "  {:>7} score {:.2}{} {}  {how}",
                crate::output::offset(r.onset.as_millis() - det),
                r.score,
                if r.significant { "*" } else { " " },
                r.selector
            );
        }
    }
    Ok(())
}
