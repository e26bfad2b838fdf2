//! `faultlens_topology`: `{services: [...], edges: [{from, to}]}`.

use super::{DecodeReport, parse_json};
use crate::bundle::SourceOptions;
use crate::error::Result;
use crate::topology::{RawTopology, Topology};

/// Decodes a topology document.
///
/// # Errors
/// [`Error::Decode`](crate::Error::Decode) naming the JSON path of a malformed or unknown field.
pub fn decode(source: &str, bytes: &[u8], _options: &SourceOptions, report: &mut DecodeReport) -> Result<Topology> {
    let raw: RawTopology = parse_json(source, bytes, "a faultlens topology {services, edges}")?;
    let t = Topology::from(raw);
    report.records += t.len() as u64;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use crate::bundle::SourceFormat;
    use crate::decode::{Records, decode_fixture};

    #[test]
    fn decodes_and_rejects_unknown_fields() {
        let d =
            decode_fixture(SourceFormat::FaultlensTopology, br#"{"services":["a"],"edges":[{"from":"a","to":"b"}]}"#)
                .unwrap();
        let Records::Topology(t) = d.records else { panic!() };
        assert!(t.depends_on("a", "b"));
        let e = decode_fixture(SourceFormat::FaultlensTopology, br#"{"edges":[{"from":"a","too":"b"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("edges[0]"), "{e}");
    }
}
