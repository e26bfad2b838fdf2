//! `faultlens logs parse`.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use faultlens::core::decode::line_text;
use faultlens::core::decode::raw::LineParser;
use faultlens::core::{Bundle, LoadOptions};
use faultlens::detect::logs::{SignalConfig, SignalKind, TemplateMiner, log_signals, signal_window};

use crate::output::json;
use crate::{Failure, Format};

#[derive(Debug, Subcommand)]
pub(crate) enum LogsAction {
    /// Mine templates from a log file; writes one row per input line, in order, with the columns
    /// `LineId,Content,EventId,EventTemplate` (loghub's structured layout).
    Parse {
        /// The log file (any line ends; invalid UTF-8 is replaced and counted).
        input: PathBuf,
        /// Header template in the loghub convention (`<Date> <Time> <Level> <Component>: <Content>`;
        /// only `<Content>` is mined), or `auto` to recognise syslog, log4j, klog, nginx/apache,
        /// logfmt and JSON lines.
        #[arg(long, default_value = "auto")]
        log_format: String,
        /// Output CSV.
        #[arg(long)]
        output: PathBuf,
    },
    /// Print the log anomaly signals of a bundle's incident window: templates never seen
    /// before it, templates whose rate jumped, error surges, each with its evidence.
    Patterns {
        /// The bundle directory.
        dir: PathBuf,
        /// How many signals to list.
        #[arg(long, default_value_t = 20)]
        top: usize,
        /// Minutes before the alert fired where the signal period starts; the bundle's window
        /// before that is the baseline.
        #[arg(long, default_value_t = 30)]
        lead: u32,
    },
}

fn fail(code: u8, message: String) -> Failure {
    Failure { reported: false, code, message }
}

pub(crate) fn run(action: LogsAction, format: Format) -> Result<(), Failure> {
    match action {
        LogsAction::Parse { input, log_format, output } => parse(&input, &log_format, &output, format),
        LogsAction::Patterns { dir, top, lead } => patterns(&dir, top, lead, format),
    }
}

fn patterns(dir: &Path, top: usize, lead: u32, format: Format) -> Result<(), Failure> {
    let data = Bundle::load_decoded(dir, LoadOptions::default())?.1;
    let window = signal_window(data.incident.window, data.incident.detected_at, lead)?;
    let out = log_signals(&data.logs, window, &SignalConfig::default());
    if format == Format::Json {
        return json(&serde_json::json!({
            "incident": data.incident.id, "window": window, "baseline": out.baseline, "untimed_lines": out.untimed,
            "signals": out.signals.iter().take(top).collect::<Vec<_>>(),
        }));
    }
    println!(
        "{}: {} log lines; signal period {window} (from {lead} min before the alert)",
        data.incident.id,
        data.logs.len()
    );
    match out.baseline {
        None => {
            println!("no log lines before the window: no baseline, so no claim about new or surging templates");
            return Ok(());
        }
        Some(b) => {
            println!("baseline {b}; {} signals ({} lines without a timestamp ignored)", out.signals.len(), out.untimed)
        }
    }
    for s in out.signals.iter().take(top) {
        let kind = kind_label(s.kind);
        println!(
            "  {kind:<6} {:<14} {:>6} -> {:<6} p=1e-{:<6.1} {}",
            s.service.as_deref().unwrap_or("-"),
            s.baseline_count,
            s.window_count,
            s.neg_log10_p,
            s.template
        );
        for e in &s.examples {
            println!("           {}:{}  {}", e.source, e.line, e.text);
        }
        println!(
            "           evidence: {} {} sha256:{}",
            e_source(&s.evidence.source),
            s.evidence.query,
            s.evidence.sha256
        );
    }
    Ok(())
}

/// The short word a signal kind is printed as.
pub(crate) fn kind_label(kind: SignalKind) -> &'static str {
    match kind {
        SignalKind::NewTemplate => "new",
        SignalKind::RateSurge => "surge",
        SignalKind::ErrorSurge => "errors",
    }
}

fn e_source(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

/// Streams the lines of a file: `(1-based number, text without its line end, whether invalid
/// UTF-8 was replaced)`, reading one line at a time.
fn for_each_line(path: &Path, mut f: impl FnMut(u64, &str, bool) -> Result<(), Failure>) -> Result<(), Failure> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|e| fail(3, format!("{}: {e}", path.display())))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut buf = Vec::new();
    let mut n = 0u64;
    loop {
        buf.clear();
        let read = reader.read_until(b'\n', &mut buf).map_err(|e| fail(3, format!("{}: {e}", path.display())))?;
        if read == 0 {
            return Ok(());
        }
        n += 1;
        let text = line_text(buf.strip_suffix(b"\n").unwrap_or(&buf));
        f(n, &text, matches!(text, std::borrow::Cow::Owned(_)))?;
    }
}

/// Two passes over the file, so memory follows the templates (plus four bytes a line), not the
/// file: the first mines every message, the second writes each line with its final template.
fn parse(input: &Path, log_format: &str, output: &Path, format: Format) -> Result<(), Failure> {
    let parser =
        LineParser::new(&input.display().to_string(), log_format).map_err(|e| fail(2, format!("--log-format: {e}")))?;
    let mut miner = TemplateMiner::default();
    let mut clusters = Vec::new();
    let (mut unfit, mut repaired) = (0u64, 0u64);
    for_each_line(input, |n, text, replaced| {
        let (record, fits) = parser.parse(n, text);
        unfit += u64::from(!fits && !text.trim().is_empty());
        repaired += u64::from(replaced);
        clusters.push(miner.add(&record.message));
        Ok(())
    })?;
    miner.finish();
    let mut w = csv::Writer::from_path(output).map_err(|e| fail(3, format!("{}: {e}", output.display())))?;
    let io = |e: csv::Error| fail(3, format!("{}: {e}", output.display()));
    w.write_record(["LineId", "Content", "EventId", "EventTemplate"]).map_err(io)?;
    let mut lines = 0usize;
    for_each_line(input, |n, text, _| {
        let (record, _) = parser.parse(n, text);
        let c = clusters.get(lines).copied();
        lines += 1;
        let (id, template) =
            c.and_then(|c| miner.template_of(c)).map_or(("", ""), |t| (t.id.0.as_str(), t.text.as_str()));
        w.write_record([n.to_string().as_str(), record.message.as_str(), id, template]).map_err(io)
    })?;
    if lines != clusters.len() {
        return Err(fail(
            3,
            format!("{} changed while it was read ({} then {lines} lines)", input.display(), clusters.len()),
        ));
    }
    w.flush().map_err(|e| fail(3, format!("{}: {e}", output.display())))?;
    let stats = miner.stats();
    let templates = miner.templates().len();
    if format == Format::Json {
        json(&serde_json::json!({
            "ok": true, "lines": lines, "templates": templates, "stats": stats,
            "lines_not_fitting_the_format": unfit, "lines_with_invalid_utf8": repaired,
        }))
    } else {
        eprintln!(
            "{}: {lines} lines, {templates} templates; {unfit} lines did not fit the format and were mined whole, \
             {repaired} had invalid UTF-8 replaced",
            output.display()
        );
        Ok(())
    }
}
