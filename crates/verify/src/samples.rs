//! Reading canary samples from CSV.
//!
//! Two layouts are accepted:
//! - **long**: a header with `metric` and `value` columns (others, such as `timestamp`, are
//!   ignored), one sample per row;
//! - **wide**: every column other than `timestamp`/`time` is a metric, one row per interval.
//!
//! An empty cell, `NaN` or `nan` is a missing value (NaN, left to each metric's NaN strategy);
//! anything else that is not a number is an error naming the file, line and column.

use std::collections::BTreeMap;

use faultlens_core::Timestamp;

use crate::canary::{JudgeError, MetricSamples};

/// A line of an input file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {}field `{field}`: {message}", if *line > 0 { format!("line {line}, ") } else { String::new() })]
pub struct InputError {
    /// The file.
    pub file: String,
    /// 1-based line; 0 when the error is about a value as a whole (a check after parsing), which
    /// `field` then locates by its path.
    pub line: u64,
    /// The column, or the part of the row.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl InputError {
    /// An error at `line` and `field` of `file`.
    #[must_use]
    pub fn new(file: &str, line: u64, field: &str, message: impl Into<String>) -> Self {
        Self { file: file.to_string(), line, field: field.to_string(), message: message.into() }
    }
}

/// Metric name to values, from one CSV file.
///
/// # Errors
/// [`JudgeError::Input`] for malformed CSV, a missing header, or a value that is not a number.
pub fn read_csv(source: &str, bytes: &[u8]) -> Result<BTreeMap<String, Vec<f64>>, JudgeError> {
    let err =
        |line: u64, field: &str, message: String| JudgeError::Input(InputError::new(source, line, field, message));
    let mut reader = csv::ReaderBuilder::new().flexible(false).trim(csv::Trim::All).from_reader(bytes);
    let header: Vec<String> =
        reader.headers().map_err(|e| err(1, "header", e.to_string()))?.iter().map(str::to_string).collect();
    if header.is_empty() || header.iter().all(String::is_empty) {
        return Err(err(1, "header", "no header row".into()));
    }
    let col = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let parse = |cell: &str, line: u64, field: &str| -> Result<f64, JudgeError> {
        match cell {
            "" | "NaN" | "nan" | "NA" => Ok(f64::NAN),
            _ => cell.parse::<f64>().map_err(|_| err(line, field, format!("`{cell}` is not a number"))),
        }
    };
    let mut out: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let long = col("metric").zip(col("value"));
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let record = record.map_err(|e| err(line, "row", e.to_string()))?;
        if let Some((mc, vc)) = long {
            let name = record.get(mc).unwrap_or_default();
            if name.is_empty() {
                return Err(err(line, "metric", "empty metric name".into()));
            }
            let v = parse(record.get(vc).unwrap_or_default(), line, "value")?;
            out.entry(name.to_string()).or_default().push(v);
        } else {
            for (name, cell) in header.iter().zip(record.iter()) {
                if name.eq_ignore_ascii_case("timestamp") || name.eq_ignore_ascii_case("time") {
                    continue;
                }
                out.entry(name.clone()).or_default().push(parse(cell, line, name)?);
            }
        }
    }
    Ok(out)
}

/// Pairs baseline and canary values by metric name (a metric on one side only gets an empty
/// other side, which the judge classifies as no data).
#[must_use]
pub fn pair(
    baseline: BTreeMap<String, Vec<f64>>,
    canary: BTreeMap<String, Vec<f64>>,
) -> BTreeMap<String, MetricSamples> {
    let mut out: BTreeMap<String, MetricSamples> = BTreeMap::new();
    for (name, control) in baseline {
        out.entry(name).or_default().control = control;
    }
    for (name, experiment) in canary {
        out.entry(name).or_default().experiment = experiment;
    }
    out
}

/// One CSV row with its header, for field access with located errors.
pub(crate) struct Row<'a> {
    source: &'a str,
    line: u64,
    header: &'a [String],
    record: &'a csv::StringRecord,
}

impl Row<'_> {
    pub(crate) fn err(&self, field: &str, message: String) -> InputError {
        InputError::new(self.source, self.line, field, message)
    }

    pub(crate) fn opt(&self, name: &str) -> Option<&str> {
        let i = self.header.iter().position(|h| h.eq_ignore_ascii_case(name))?;
        self.record.get(i)
    }

    pub(crate) fn text(&self, name: &str) -> Result<&str, InputError> {
        self.opt(name).filter(|s| !s.is_empty()).ok_or_else(|| self.err(name, "empty".into()))
    }

    pub(crate) fn time(&self, name: &str) -> Result<Timestamp, InputError> {
        let s = self.text(name)?;
        Timestamp::parse_lenient(s).ok_or_else(|| self.err(name, format!("`{s}` is not a time")))
    }

    pub(crate) fn opt_time(&self, name: &str) -> Result<Option<Timestamp>, InputError> {
        match self.opt(name) {
            None | Some("") => Ok(None),
            Some(_) => self.time(name).map(Some),
        }
    }
}

/// Reads a CSV file row by row: checks the `required` columns, then `parse`s each row.
pub(crate) fn read_rows<T>(
    source: &str,
    bytes: &[u8],
    required: &[&str],
    mut parse: impl FnMut(&Row<'_>) -> Result<T, InputError>,
) -> Result<Vec<T>, InputError> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| InputError::new(source, 1, "header", e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    for r in required {
        if !header.iter().any(|h| h.eq_ignore_ascii_case(r)) {
            return Err(InputError::new(source, 1, r, "missing column"));
        }
    }
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let record = record.map_err(|e| InputError::new(source, line, "row", e.to_string()))?;
        out.push(parse(&Row { source, line, header: &header, record: &record })?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_and_wide_layouts() {
        let long = read_csv("b.csv", b"timestamp,metric,value\n1,latency,0.1\n2,latency,\n1,errors,3\n").unwrap();
        assert_eq!(long["latency"].len(), 2);
        assert!(long["latency"][1].is_nan());
        assert_eq!(long["errors"], vec![3.0]);
        let wide = read_csv("c.csv", b"timestamp,latency,errors\n1,0.1,0\n2,0.2,NaN\n").unwrap();
        assert_eq!(wide["latency"], vec![0.1, 0.2]);
        assert!(wide["errors"][1].is_nan());
        assert!(!wide.contains_key("timestamp"));
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let e = read_csv("c.csv", b"latency,errors\n0.1,0\n0.2,lots\n").unwrap_err().to_string();
        assert!(e.contains("c.csv") && e.contains("line 3") && e.contains("errors") && e.contains("lots"), "{e}");
        let e = read_csv("c.csv", b"latency,errors\n0.1\n").unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
        assert!(read_csv("e.csv", b"").is_err());
    }
}
