//! `csv_wide`: CSV whose first column is a timestamp and whose other columns are series.
//!
//! A header such as `cpu{service="cart",pod="cart-1"}` carries labels; a bare header is the
//! metric name. Timestamps are RFC 3339 or Unix seconds/milliseconds. An empty cell is a
//! missing sample (counted, not an error).

use super::{DecodeReport, SeriesBuilder, parse_sample_value, parse_time_text};
use crate::bundle::SourceOptions;
use crate::error::{Error, Location, Result};
use crate::series::MetricSeries;
use crate::time::Timestamp;

/// Decodes wide CSV.
///
/// # Errors
/// [`Error::Decode`] naming the line and column for a bad header, timestamp or value, or a
/// row whose width differs from the header's.
pub fn decode(
    source: &str,
    bytes: &[u8],
    _options: &SourceOptions,
    report: &mut DecodeReport,
) -> Result<Vec<MetricSeries>> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    let mut records = rdr.byte_records();
    let header = match records.next() {
        None => {
            return Err(Error::decode(source, Location::Line { line: 1 }, "a header row", "an empty file"));
        }
        Some(r) => {
            r.map_err(|e| Error::decode(source, Location::Line { line: 1 }, "a CSV header row", e.to_string()))?
        }
    };
    let mut columns = Vec::new();
    for (i, raw) in header.iter().enumerate().skip(1) {
        let h = String::from_utf8_lossy(raw);
        let field = Location::Field { line: 1, field: h.to_string() };
        let (name, labels, rest) = super::openmetrics::parse_series_id(&h)
            .map_err(|exp| Error::decode(source, field.clone(), format!("column {}: {exp}", i + 1), h.to_string()))?;
        if !rest.trim().is_empty() {
            return Err(Error::decode(source, field, "a series header `name{label=\"value\"}`", h.to_string()));
        }
        columns.push((h.to_string(), name, labels));
    }
    let mut out = SeriesBuilder::default();
    let mut missing = 0u64;
    for rec in records {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            Error::decode(source, Location::Line { line }, "a CSV row", e.to_string())
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        if rec.len() == 1 && rec.get(0).is_some_and(<[u8]>::is_empty) {
            continue;
        }
        if rec.len() != columns.len() + 1 {
            return Err(Error::decode(
                source,
                Location::Line { line },
                format!("{} cells like the header", columns.len() + 1),
                format!("{} cells", rec.len()),
            ));
        }
        let ts_text = String::from_utf8_lossy(rec.get(0).unwrap_or_default());
        let ts: Timestamp = parse_time_text(&ts_text).ok_or_else(|| {
            Error::decode(
                source,
                Location::Field { line, field: "timestamp".into() },
                "an RFC 3339 or Unix timestamp",
                format!("`{ts_text}`"),
            )
        })?;
        for ((header, name, labels), cell) in columns.iter().zip(rec.iter().skip(1)) {
            let cell = String::from_utf8_lossy(cell);
            let cell = cell.trim();
            if cell.is_empty() {
                missing += 1;
                continue;
            }
            let v = parse_sample_value(cell).ok_or_else(|| {
                Error::decode(
                    source,
                    Location::Field { line, field: header.clone() },
                    "a number, NaN, +Inf or -Inf",
                    format!("`{cell}`"),
                )
            })?;
            if let Some(s) = out.series_mut(name, labels) {
                s.push(ts, v);
            }
        }
    }
    if missing > 0 {
        report.warn(&Location::File, format_args!("{missing} empty cells read as missing samples"));
    }
    Ok(out.finish(report))
}

#[cfg(test)]
mod tests {
    use crate::bundle::SourceFormat;
    use crate::decode::{Records, decode_fixture};

    #[test]
    fn decodes_labels_units_and_gaps() {
        let csv = "time,\"cpu{service=\"\"cart\"\",pod=\"\"cart-1\"\"}\",mem\n\
                   2026-01-01T00:00:00Z,0.5,10\n1767225615,,11\n1767225630000,0.7,NaN\n";
        let d = decode_fixture(SourceFormat::CsvWide, csv.as_bytes()).unwrap();
        let Records::Metrics(s) = d.records else { panic!() };
        assert_eq!(s[0].name(), "cpu");
        assert_eq!(s[0].labels().get("pod"), Some("cart-1"));
        assert_eq!(s[0].values(), &[0.5, 0.7]);
        assert_eq!(s[1].timestamps_ms(), &[1_767_225_600_000, 1_767_225_615_000, 1_767_225_630_000]);
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = decode_fixture(SourceFormat::CsvWide, b"t,a\n1,2\n2,x\n").unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("`a`"), "{e}");
        let e = decode_fixture(SourceFormat::CsvWide, b"t,a\nnope,2\n").unwrap_err().to_string();
        assert!(e.contains("timestamp"), "{e}");
        let e = decode_fixture(SourceFormat::CsvWide, b"t,a\n1,2,3\n").unwrap_err().to_string();
        assert!(e.contains("2 cells"), "{e}");
        assert!(decode_fixture(SourceFormat::CsvWide, b"").is_err());
    }
}
