//! `faultlens_changes`: our JSON Lines change schema
//! `{id, at, service, kind, from, to, source, author, description}`.

use super::{DecodeReport, text_lines};
use crate::bundle::SourceOptions;
use crate::change::ChangeEvent;
use crate::error::{Error, Location, Result};

/// Decodes change lines; blank lines are ignored. This is our own format, so it is strict:
/// any malformed line is an error naming the line and the field.
///
/// # Errors
/// [`Error::Decode`] naming the line and field.
pub fn decode(
    source: &str,
    bytes: &[u8],
    _options: &SourceOptions,
    report: &mut DecodeReport,
) -> Result<Vec<ChangeEvent>> {
    let mut out = Vec::new();
    let mut scratch = DecodeReport::default();
    for (line, text) in text_lines(bytes, &mut scratch) {
        if text.trim().is_empty() {
            continue;
        }
        let mut de = serde_json::Deserializer::from_str(&text);
        let c: ChangeEvent = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let field = e.path().to_string();
            Error::decode(
                source,
                Location::Field { line, field },
                "a faultlens change event",
                e.into_inner().to_string(),
            )
        })?;
        out.push(c);
    }
    out.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)));
    report.merge(scratch);
    report.records += out.len() as u64;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::bundle::SourceFormat;
    use crate::decode::{Records, decode_fixture};

    #[test]
    fn strict_lines() {
        let ok = br#"{"id":"c1","at":"2026-11-02T14:00:00Z","service":"cart","kind":"deploy","from":"v1","to":"v2","source":"ci","author":null,"description":null}"#;
        let d = decode_fixture(SourceFormat::FaultlensChanges, ok).unwrap();
        let Records::Changes(c) = d.records else { panic!() };
        assert_eq!(c[0].to.as_deref(), Some("v2"));
        let bad = br#"{"id":"c1","at":"2026-11-02T14:00:00Z","service":"cart","kind":"explode","from":null,"to":null,"source":null,"author":null,"description":null}"#;
        let e = decode_fixture(SourceFormat::FaultlensChanges, &[&b"\n"[..], bad].concat()).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("kind"), "{e}");
    }
}
