//! `rego`: Rego policy files. Only the package is read here; the policy engine compiles them.

use super::{DecodeReport, text_lines};
use crate::bundle::SourceOptions;
use crate::error::{Error, Location, Result};
use crate::hash::ContentHash;
use crate::knowledge::PolicyFile;

/// Reads one Rego file and its `package` declaration.
///
/// # Errors
/// [`Error::Decode`] when the file is not UTF-8 or declares no package.
pub fn decode(
    source: &str,
    bytes: &[u8],
    _options: &SourceOptions,
    report: &mut DecodeReport,
) -> Result<Vec<PolicyFile>> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| Error::decode(source, Location::File, "UTF-8 Rego source", e.to_string()))?;
    let mut package = None;
    let mut scratch = DecodeReport::default();
    for (_, line) in text_lines(bytes, &mut scratch) {
        let l = line.trim();
        if l.starts_with('#') || l.is_empty() {
            continue;
        }
        if let Some(rest) = l.strip_prefix("package") {
            let name = rest.trim();
            if !name.is_empty() && rest.starts_with([' ', '\t']) {
                package = Some(name.to_string());
            }
        }
        break;
    }
    let package = package
        .ok_or_else(|| Error::decode(source, Location::File, "a `package` declaration before any rule", "none"))?;
    report.records += 1;
    Ok(vec![PolicyFile { path: source.to_string(), package, sha256: ContentHash::of(bytes), text: text.to_string() }])
}

#[cfg(test)]
mod tests {
    use crate::bundle::SourceFormat;
    use crate::decode::{Records, decode_fixture};

    #[test]
    fn reads_package() {
        let d =
            decode_fixture(SourceFormat::Rego, b"# header\n\npackage k8s.security\n\ndeny contains msg if { false }\n")
                .unwrap();
        let Records::Policies(p) = d.records else { panic!() };
        assert_eq!(p[0].package, "k8s.security");
        assert!(decode_fixture(SourceFormat::Rego, b"deny { true }\n").is_err());
        assert!(decode_fixture(SourceFormat::Rego, b"\xff").is_err());
    }
}
