//! `openmetrics`: OpenMetrics or Prometheus text exposition, with timestamps.

use super::{DecodeReport, SeriesBuilder, parse_sample_value, text_lines};
use crate::bundle::SourceOptions;
use crate::error::{Error, Location, Result};
use crate::labels::Labels;
use crate::series::MetricSeries;
use crate::time::Timestamp;

/// Parses a series identifier `name{a="x",b="y"}` (or a bare name) into name and labels.
/// Label values may use the escapes `\\`, `\"` and `\n`.
///
/// Returns the name, the labels and the rest of the input after the identifier.
///
/// # Errors
/// A message saying what was expected.
pub fn parse_series_id(s: &str) -> std::result::Result<(String, Labels, &str), String> {
    let s = s.trim_start();
    let name_end = s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')).unwrap_or(s.len());
    let name = s.get(..name_end).unwrap_or_default().to_string();
    let mut rest = s.get(name_end..).unwrap_or_default();
    let mut labels = Labels::new();
    if let Some(body) = rest.strip_prefix('{') {
        let mut r = body;
        loop {
            r = r.trim_start_matches([' ', ',']);
            if let Some(after) = r.strip_prefix('}') {
                rest = after;
                break;
            }
            let key_end = r.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(r.len());
            let key = r.get(..key_end).unwrap_or_default();
            if key.is_empty() {
                return Err(format!("a label name or `}}` at `{}`", head(r)));
            }
            r = r.get(key_end..).unwrap_or_default().trim_start();
            r = r.strip_prefix('=').ok_or_else(|| format!("`=` after label `{key}`"))?.trim_start();
            r = r.strip_prefix('"').ok_or_else(|| format!("a quoted value for label `{key}`"))?;
            let mut value = String::new();
            let mut chars = r.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, e)) => value.push(e),
                        None => break,
                    },
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            let end = end.ok_or_else(|| format!("a closing quote for label `{key}`"))?;
            labels.insert(key, value);
            r = r.get(end..).unwrap_or_default();
        }
    }
    if name.is_empty() && labels.get("__name__").is_none() {
        return Err(format!("a metric name at `{}`", head(s)));
    }
    let name = labels.remove("__name__").unwrap_or(name);
    Ok((name, labels, rest))
}

fn head(s: &str) -> &str {
    s.get(..s.floor_char_boundary(32)).unwrap_or_default()
}

/// Decodes text exposition. Timestamps may be seconds (OpenMetrics) or milliseconds
/// (Prometheus text format); samples without a timestamp are skipped and counted, since they
/// cannot be placed in time.
///
/// # Errors
/// [`Error::Decode`] naming the line for a malformed sample, value or timestamp.
pub fn decode(
    source: &str,
    bytes: &[u8],
    _options: &SourceOptions,
    report: &mut DecodeReport,
) -> Result<Vec<MetricSeries>> {
    let mut out = SeriesBuilder::default();
    let mut skipped = Vec::new();
    let mut saw_eof = false;
    for (line, text) in text_lines(bytes, report) {
        let t = text.trim();
        if t.is_empty() {
            continue;
        }
        if t == "# EOF" {
            saw_eof = true;
            continue;
        }
        if t.starts_with('#') {
            continue;
        }
        if saw_eof {
            return Err(Error::decode(source, Location::Line { line }, "nothing after `# EOF`", head(t).to_string()));
        }
        let loc = || Location::Line { line };
        let (name, labels, rest) =
            parse_series_id(t).map_err(|exp| Error::decode(source, loc(), exp, head(t).to_string()))?;
        // strip an exemplar
        let rest = rest.split(" # ").next().unwrap_or_default();
        let mut parts = rest.split_whitespace();
        let value = parts.next().ok_or_else(|| Error::decode(source, loc(), "a sample value", "end of line"))?;
        let value = parse_sample_value(value).ok_or_else(|| {
            Error::decode(source, loc(), "a sample value (number, NaN, +Inf, -Inf)", format!("`{value}`"))
        })?;
        let Some(ts) = parts.next() else {
            skipped.push(line);
            continue;
        };
        let ts = ts
            .parse::<f64>()
            .ok()
            .and_then(|f| Timestamp::from_unix_auto(f).ok())
            .ok_or_else(|| Error::decode(source, loc(), "a Unix timestamp", format!("`{ts}`")))?;
        if let Some(s) = out.series_mut(&name, &labels) {
            s.push(ts, value);
        }
    }
    for line in skipped {
        report.skip(&Location::Line { line }, "sample without a timestamp");
    }
    Ok(out.finish(report))
}

#[cfg(test)]
mod tests {
    use crate::bundle::SourceFormat;
    use crate::decode::{Records, decode_fixture};

    #[test]
    fn decodes_openmetrics_and_prometheus_text() {
        let text = "# TYPE http_requests counter\n# HELP http_requests Requests.\n\
            http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363.000\n\
            http_requests_total{method=\"post\",code=\"200\"} 1030 1395066378000\n\
            http_requests_total{code=\"400\",method=\"post\"} 3 1395066363 # {trace_id=\"x\"} 1 1395066363\n\
            msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9 1395066363\n\
            no_ts 5\n# EOF\n";
        let d = decode_fixture(SourceFormat::Openmetrics, text.as_bytes()).unwrap();
        let Records::Metrics(s) = d.records else { panic!() };
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].values(), &[1027.0, 1030.0]);
        assert_eq!(s[0].timestamps_ms(), &[1_395_066_363_000, 1_395_066_378_000]);
        assert_eq!(s[2].labels().get("error"), Some("Cannot find file:\n\"FILE.TXT\""));
        assert_eq!(s[2].labels().get("path"), Some("C:\\DIR\\FILE.TXT"));
        assert_eq!(d.report.skipped, 1);
    }

    #[test]
    fn malformed_lines_name_the_line() {
        let e = decode_fixture(SourceFormat::Openmetrics, b"a 1 1\nb{x=\"1} 2 3\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        let e = decode_fixture(SourceFormat::Openmetrics, b"a one 1\n").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
    }
}
