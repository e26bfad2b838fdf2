//! `prometheus_query_range`: the JSON body of `/api/v1/query_range` (`resultType: matrix`),
//! or a JSON array of such bodies.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{DecodeReport, SeriesBuilder, parse_json, parse_json_at, parse_sample_value};
use crate::bundle::SourceOptions;
use crate::error::{Error, Location, Result};
use crate::labels::Labels;
use crate::series::MetricSeries;
use crate::time::Timestamp;

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow)]
    status: Cow<'a, str>,
    #[serde(borrow, default)]
    data: Option<Data<'a>>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(rename = "resultType", borrow)]
    result_type: Cow<'a, str>,
    #[serde(borrow)]
    result: &'a RawValue,
}

#[derive(Deserialize)]
struct MatrixSeries<'a> {
    #[serde(borrow)]
    metric: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
    #[serde(borrow, default)]
    values: Vec<(f64, Cow<'a, str>)>,
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
    let first = bytes.iter().copied().find(|b| !b.is_ascii_whitespace());
    let bodies: Vec<Body<'_>> = if first == Some(b'[') {
        parse_json(source, bytes, "an array of Prometheus query_range bodies")?
    } else {
        vec![parse_json(source, bytes, "a Prometheus query_range body")?]
    };
    let multi = bodies.len() > 1 || first == Some(b'[');
    let mut out = SeriesBuilder::default();
    for (bi, body) in bodies.into_iter().enumerate() {
        let at = |p: &str| {
            let path = if multi { format!("[{bi}].{p}") } else { p.to_string() };
            Location::JsonPath { path }
        };
        if body.status != "success" {
            let why = body.error.as_deref().unwrap_or("no error message");
            let ty = body.error_type.as_deref().unwrap_or("unknown");
            return Err(Error::decode(
                source,
                at("status"),
                "\"success\"",
                format!("\"{}\" ({ty}: {why})", body.status),
            ));
        }
        let Some(data) = body.data else {
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
        let prefix = if multi { format!("[{bi}].data.result") } else { "data.result".to_string() };
        let series: Vec<MatrixSeries<'_>> =
            parse_json_at(source, data.result.get().as_bytes(), "an array of {metric, values} series", &prefix)?;
        for (si, s) in series.into_iter().enumerate() {
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
            for (vi, (t, v)) in s.values.into_iter().enumerate() {
                let loc = || at(&format!("data.result[{si}].values[{vi}]"));
                let ts = Timestamp::from_unix_secs_f64(t)
                    .map_err(|e| Error::decode(source, loc(), "a Unix time in seconds", e.to_string()))?;
                let val = parse_sample_value(&v).ok_or_else(|| {
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
