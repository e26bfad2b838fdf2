//! `prometheus_query_range`: the JSON body of `/api/v1/query_range` (`resultType: matrix`),
//! or a JSON array of such bodies.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use super::{DecodeReport, SeriesBuilder, parse_json, parse_json_at, parse_sample_value};
use crate::bundle::SourceOptions;
use crate::error::{Error, Location, Result};
use crate::labels::Labels;
use crate::series::MetricSeries;
use crate::time::Timestamp;

/// A query_range body whose `data.result` is read as `R`: the series themselves, or
/// [`IgnoredAny`] to look at the envelope alone when the series do not parse.
#[derive(Deserialize)]
#[serde(bound(deserialize = "R: Deserialize<'de>"))]
struct Body<'a, R> {
    #[serde(borrow)]
    status: Cow<'a, str>,
    #[serde(borrow, default = "Option::default")]
    data: Option<Data<'a, R>>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "R: Deserialize<'de>"))]
struct Data<'a, R> {
    #[serde(rename = "resultType", borrow)]
    result_type: Cow<'a, str>,
    result: R,
}

impl<R> Body<'_, R> {
    /// The envelope's verdict: `success`, a data object, `resultType: matrix`.
    fn check(&self, source: &str, at: &dyn Fn(&str) -> Location) -> Result<()> {
        if self.status != "success" {
            let why = self.error.as_deref().unwrap_or("no error message");
            let ty = self.error_type.as_deref().unwrap_or("unknown");
            return Err(Error::decode(
                source,
                at("status"),
                "\"success\"",
                format!("\"{}\" ({ty}: {why})", self.status),
            ));
        }
        let Some(data) = &self.data else {
            return Err(Error::decode(source, at("data"), "a data object", "nothing"));
        };
        if data.result_type != "matrix" {
            return Err(Error::decode(
                source,
                at("data.resultType"),
                "\"matrix\" (a range query result)",
                format!("\"{}\"", data.result_type),
            ));
        }
        Ok(())
    }
}

/// The bodies of a file (one, or an array), read in one pass. When the series do not parse,
/// the envelope is read on its own so that a wrong status or result type is reported as such
/// rather than as a shape error deep inside `result`.
fn parse_bodies<'a>(source: &str, bytes: &'a [u8], array: bool) -> Result<Vec<Body<'a, Vec<MatrixSeries<'a>>>>> {
    let typed = if array {
        parse_json(source, bytes, "an array of Prometheus query_range bodies")
    } else {
        parse_json(source, bytes, "a Prometheus query_range body").map(|b| vec![b])
    };
    let Err(error) = typed else { return typed };
    let loose: Vec<Body<'_, IgnoredAny>> = if array {
        parse_json(source, bytes, "an array of Prometheus query_range bodies")?
    } else {
        vec![parse_json(source, bytes, "a Prometheus query_range body")?]
    };
    for (bi, body) in loose.iter().enumerate() {
        body.check(source, &|p| json_path(array, bi, p))?;
    }
    Err(error)
}

/// The path of `p` inside body `bi`.
fn json_path(array: bool, bi: usize, p: &str) -> Location {
    Location::JsonPath { path: if array { format!("[{bi}].{p}") } else { p.to_string() } }
}

#[derive(Deserialize)]
struct MatrixSeries<'a> {
    #[serde(borrow)]
    metric: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
    /// Kept raw: [`scan_values`] reads the usual shape directly, and anything else goes
    /// through [`Sample`] for a precise error.
    #[serde(borrow, default)]
    values: Option<&'a RawValue>,
}

/// One `[<unix seconds>, "<value>"]` pair, the slow path of [`scan_values`].
type Sample<'a> = (f64, Cow<'a, str>);

/// Reads a `values` array of the plain shape `[[1700000000.5,"1.25"],...]` (numbers for times,
/// strings without escapes for values) straight into `(seconds, value text)` pairs, about ten
/// times faster than generic deserialisation. `None` for any other shape, which the caller then
/// deserialises generically (same result, or an error with its path). The input has already
/// been checked as JSON by serde.
fn scan_values<'a>(raw: &'a str, out: &mut Vec<(f64, &'a str)>) -> Option<()> {
    let b = raw.as_bytes();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while b.get(*i).is_some_and(u8::is_ascii_whitespace) {
            *i += 1;
        }
    };
    let expect = |i: &mut usize, c: u8| -> Option<()> {
        skip_ws(i);
        (b.get(*i) == Some(&c)).then(|| *i += 1)
    };
    expect(&mut i, b'[')?;
    skip_ws(&mut i);
    if b.get(i) == Some(&b']') {
        return Some(());
    }
    loop {
        expect(&mut i, b'[')?;
        skip_ws(&mut i);
        let start = i;
        while b.get(i).is_some_and(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+' | b'e' | b'E')) {
            i += 1;
        }
        let t: f64 = raw.get(start..i)?.parse().ok()?;
        expect(&mut i, b',')?;
        expect(&mut i, b'"')?;
        let start = i;
        while let Some(&c) = b.get(i) {
            match c {
                b'"' => break,
                b'\\' => return None,
                _ => i += 1,
            }
        }
        out.push((t, raw.get(start..i)?));
        i += 1;
        expect(&mut i, b']')?;
        skip_ws(&mut i);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b']') => return Some(()),
            _ => return None,
        }
    }
}

/// Decodes a query_range body or an array of bodies.
///
/// # Errors
/// [`Error::Decode`] for truncated or malformed JSON, `status` other than `success`, a
/// `resultType` other than `matrix`, or a sample value that is not a number, `NaN` or `±Inf`.
pub fn decode(
    source: &str,
    bytes: &[u8],
    _options: &SourceOptions,
    report: &mut DecodeReport,
) -> Result<Vec<MetricSeries>> {
    let array = bytes.iter().copied().find(|b| !b.is_ascii_whitespace()) == Some(b'[');
    let bodies = parse_bodies(source, bytes, array)?;
    let mut out = SeriesBuilder::default();
    let mut samples: Vec<(f64, &str)> = Vec::new();
    for (bi, body) in bodies.into_iter().enumerate() {
        let at = |p: &str| json_path(array, bi, p);
        body.check(source, &at)?;
        let Some(data) = body.data else { continue };
        let prefix = if array { format!("[{bi}].data.result") } else { "data.result".to_string() };
        for (si, s) in data.result.into_iter().enumerate() {
            let mut name = String::new();
            let mut labels = Labels::new();
            for (k, v) in s.metric {
                if k == "__name__" {
                    name = v.into_owned();
                } else {
                    labels.insert(k.into_owned(), v.into_owned());
                }
            }
            let Some(target) = out.series_mut(&name, &labels) else {
                continue;
            };
            let Some(raw) = s.values else { continue };
            samples.clear();
            let slow: Vec<Sample<'_>>;
            let converted: Vec<(f64, &str)>;
            let pairs: &[(f64, &str)] = if scan_values(raw.get(), &mut samples).is_some() {
                &samples
            } else {
                let path = format!("{prefix}[{si}].values");
                slow = parse_json_at(source, raw.get().as_bytes(), "an array of [time, \"value\"] pairs", &path)?;
                converted = slow.iter().map(|(t, v)| (*t, v.as_ref())).collect();
                &converted
            };
            for (vi, &(t, v)) in pairs.iter().enumerate() {
                let loc = || at(&format!("data.result[{si}].values[{vi}]"));
                let ts = Timestamp::from_unix_secs_f64(t)
                    .map_err(|e| Error::decode(source, loc(), "a Unix time in seconds", e.to_string()))?;
                let val = parse_sample_value(v).ok_or_else(|| {
                    Error::decode(source, loc(), "a sample value (decimal, NaN, +Inf or -Inf)", format!("\"{v}\""))
                })?;
                target.push(ts, val);
            }
        }
    }
    Ok(out.finish(report))
}

#[cfg(test)]
mod tests {
    use crate::bundle::SourceFormat;
    use crate::decode::{Records, decode_fixture};
    use crate::error::Error;

    const OK: &str = r#"{"status":"success","data":{"resultType":"matrix","result":[
      {"metric":{"__name__":"up","job":"api","instance":"10.0.0.1:9090"},"values":[[1435781430.781,"1"],[1435781445.781,"NaN"],[1435781460.781,"+Inf"]]},
      {"metric":{"job":"api"},"values":[[1435781460,"-Inf"],[1435781430,"2"],[1435781430,"3"]]}]}}"#;

    #[test]
    fn decodes_documented_shape() {
        let d = decode_fixture(SourceFormat::PrometheusQueryRange, OK.as_bytes()).unwrap();
        let Records::Metrics(s) = d.records else { panic!() };
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name(), "up");
        assert_eq!(s[0].timestamps_ms()[0], 1_435_781_430_781);
        assert!(s[0].values()[1].is_nan());
        assert_eq!(s[0].values()[2], f64::INFINITY);
        // second series: sorted, duplicate folded (last wins)
        assert_eq!(s[1].values(), &[3.0, f64::NEG_INFINITY]);
        assert_eq!(d.report.normalized, 2);
    }

    #[test]
    fn array_of_bodies_merges_series() {
        let two = format!("[{OK},{OK}]");
        let d = decode_fixture(SourceFormat::PrometheusQueryRange, two.as_bytes()).unwrap();
        let Records::Metrics(s) = d.records else { panic!() };
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].len(), 3);
    }

    /// The fast scanner agrees with generic deserialisation on whatever it accepts (its times
    /// are correctly rounded, where serde_json's default parser can be one unit off), and gives
    /// up (rather than guessing) on escapes.
    #[test]
    fn scanner_matches_serde() {
        use proptest::prelude::*;
        let pair = (
            prop_oneof![any::<u32>().prop_map(f64::from), 0.0..2e9f64, -1e3..0.0f64],
            prop_oneof![
                any::<f64>().prop_map(|v| v.to_string()),
                Just("NaN".to_string()),
                Just("+Inf".to_string()),
                "[a-z0-9 .\\\\\"]{0,6}"
            ],
            "[ \n]{0,2}",
        );
        proptest!(|(pairs in proptest::collection::vec(pair, 0..20))| {
            let body: Vec<String> = pairs
                .iter()
                .map(|(t, v, ws)| format!("{ws}[{ws}{t}{ws},{ws}{}{ws}]", serde_json::to_string(v).unwrap()))
                .collect();
            let raw = format!("[{}]", body.join(","));
            let generic: Vec<(f64, String)> = serde_json::from_str(&raw).unwrap();
            let mut fast = Vec::new();
            match super::scan_values(&raw, &mut fast) {
                Some(()) => {
                    prop_assert_eq!(fast.len(), generic.len());
                    for (((a, x), (b, y)), (t, ..)) in fast.iter().zip(&generic).zip(&pairs) {
                        prop_assert_eq!(a.to_bits(), t.to_bits());
                        prop_assert!((a - b).abs() <= a.abs() * 1e-15);
                        prop_assert_eq!(*x, y.as_str());
                    }
                }
                None => prop_assert!(raw.contains('\\'), "gave up on {}", raw),
            }
        });
    }

    fn err(body: &str) -> String {
        match decode_fixture(SourceFormat::PrometheusQueryRange, body.as_bytes()) {
            Err(e @ Error::Decode { .. }) => e.to_string(),
            other => panic!("expected a decode error, got {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_place() {
        assert!(err(&OK[..OK.len() - 10]).contains("fixture"));
        let e = err(r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#);
        assert!(e.contains("data.resultType") && e.contains("vector"), "{e}");
        let e = err(r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#);
        assert!(e.contains("bad_data"), "{e}");
        let e =
            err(r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"x"]]}]}}"#);
        assert!(e.contains("data.result[0].values[0]"), "{e}");
        let e = err(r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,2]]}]}}"#);
        assert!(e.contains("data.result"), "{e}");
    }
}
