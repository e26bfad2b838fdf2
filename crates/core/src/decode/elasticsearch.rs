//! `elasticsearch_hits`: an Elasticsearch / OpenSearch `_search` response body.

use serde::Deserialize;

use super::{DecodeReport, jsonl::record_from_json, parse_json};
use crate::bundle::SourceOptions;
use crate::error::{Error, Location, Result};
use crate::log::LogRecord;

#[derive(Deserialize)]
struct Response {
    hits: Hits,
    #[serde(default)]
    timed_out: bool,
}

#[derive(Deserialize)]
struct Hits {
    hits: Vec<Hit>,
}

#[derive(Deserialize)]
struct Hit {
    #[serde(default, rename = "_source")]
    source: Option<serde_json::Value>,
    #[serde(default, rename = "_id")]
    id: Option<String>,
}

/// Decodes hits; options `timestamp_field` (default `@timestamp`) and `message_field`
/// (default `message`) name the fields, dotted paths allowed. `line` is the 1-based hit index.
///
/// # Errors
/// [`Error::Decode`] for a body without `hits.hits` or a hit whose `_source` is not an object.
pub fn decode(
    source: &str,
    bytes: &[u8],
    options: &SourceOptions,
    report: &mut DecodeReport,
) -> Result<Vec<LogRecord>> {
    let r: Response = parse_json(source, bytes, "an Elasticsearch _search response with hits.hits")?;
    if r.timed_out {
        report.warn(&Location::JsonPath { path: "timed_out".into() }, "the search timed out: results may be partial");
    }
    let mut out = Vec::with_capacity(r.hits.hits.len());
    let src: std::sync::Arc<str> = source.into();
    for (i, hit) in r.hits.hits.into_iter().enumerate() {
        let Some(src_doc @ serde_json::Value::Object(_)) = hit.source else {
            return Err(Error::decode(
                source,
                Location::JsonPath { path: format!("hits.hits[{i}]._source") },
                "an object",
                "a missing or non-object _source",
            ));
        };
        let mut rec = record_from_json(&src_doc, &src, i as u64 + 1, options);
        if let Some(id) = hit.id {
            std::sync::Arc::make_mut(&mut rec.labels).insert("_id", id);
        }
        out.push(rec);
    }
    report.records += out.len() as u64;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::bundle::SourceFormat;
    use crate::decode::{Records, decode_fixture};

    #[test]
    fn decodes_search_response() {
        let j = r#"{"took":5,"timed_out":false,"_shards":{"total":1},"hits":{"total":{"value":1,"relation":"eq"},"max_score":1.0,
          "hits":[{"_index":"logs-2026","_id":"a1","_score":1.0,"_source":{"@timestamp":"2026-11-02T14:00:00.123Z","message":"GET /cart 500","service":{"name":"cart"},"log":{"level":"error"}}}]}}"#;
        let d = decode_fixture(SourceFormat::ElasticsearchHits, j.as_bytes()).unwrap();
        let Records::Logs(l) = d.records else { panic!() };
        assert_eq!(l[0].message, "GET /cart 500");
        assert_eq!(l[0].service.as_deref(), Some("cart"));
        assert!(l[0].level.unwrap().is_error());
        assert_eq!(l[0].timestamp.unwrap().to_string(), "2026-11-02T14:00:00.123Z");
        let e = decode_fixture(SourceFormat::ElasticsearchHits, br#"{"hits":{}}"#).unwrap_err().to_string();
        assert!(e.contains("hits"), "{e}");
    }
}
