//! `faultlens detect series|bundle`.

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use faultlens::core::Timestamp;
use faultlens::core::{Bundle, LoadOptions};
use faultlens::detect::metrics::{self, BatchConfig, DetectConfig, StreamConfig, score_batch, score_streaming};

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
        DetectAction::Series { input, output, mode, config } => {
            let config = match config {
                None => StreamConfig::default(),
                Some(p) => {
                    let text = std::fs::read_to_string(&p).map_err(|e| fail(3, format!("{}: {e}", p.display())))?;
                    serde_json::from_str(&text).map_err(|e| fail(2, format!("{}: {e}", p.display())))?
                }
            };
            series(&input, &output, mode, &config, format)
        }
        DetectAction::Bundle { dir, mode, top, by } => bundle(&dir, mode, top, by, format),
    }
}

fn series(input: &PathBuf, output: &PathBuf, mode: Mode, config: &StreamConfig, format: Format) -> Result<(), Failure> {
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
    let scores: Vec<f64> = match mode {
        Mode::Stream => score_streaming(&ts, &vs, config).into_iter().map(|p| p.score).collect(),
        Mode::Batch => score_batch(&ts, &vs, &BatchConfig::default()).scores,
    };
    let mut w = csv::Writer::from_path(output).map_err(|e| fail(3, format!("{}: {e}", output.display())))?;
    let io = |e: csv::Error| fail(3, format!("{}: {e}", output.display()));
    w.write_record(["timestamp", "value", "anomaly_score"]).map_err(io)?;
    for ((t, v), s) in raw.iter().zip(&scores) {
        w.write_record([t.as_str(), v.as_str(), &format!("{s:.6}")]).map_err(io)?;
    }
    w.flush().map_err(|e| fail(3, format!("{}: {e}", output.display())))?;
    if format == Format::Json {
        return json(&serde_json::json!({"ok": true, "rows": scores.len(), "output": output}));
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
                        "{:?} {:+.1} sigma, observed {} vs band {}..{}{}{}",
                        w.direction,
                        if w.direction == metrics::Direction::Up { w.magnitude_sigmas } else { -w.magnitude_sigmas },
                        crate::output::num(w.observed),
                        crate::output::num(w.band_low),
                        crate::output::num(w.band_high),
                        if w.kind.is_some() { "; test: " } else { "" },
                        w.kind.map_or("", metrics::AnomalyKind::describe)
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
