//! `markdown`: runbooks, postmortems and ADRs split into sections by ATX headings.

use super::{DecodeReport, text_lines};
use crate::bundle::SourceOptions;
use crate::error::Result;
use crate::hash::ContentHash;
use crate::knowledge::{KnowledgeDoc, Section};

/// Splits one Markdown file into sections. Headings inside fenced code blocks and a leading
/// YAML front-matter block are not headings. Never fails: any text is valid Markdown.
///
/// # Errors
/// None in practice; `Result` for uniformity.
pub fn decode(
    source: &str,
    bytes: &[u8],
    _options: &SourceOptions,
    report: &mut DecodeReport,
) -> Result<Vec<KnowledgeDoc>> {
    let mut sections: Vec<Section> = Vec::new();
    let mut stack: Vec<(u8, String)> = Vec::new();
    let mut cur = Section { headings: Vec::new(), level: 0, line_start: 1, line_end: 0, text: String::new() };
    let mut fence: Option<String> = None;
    let mut front_matter = false;
    let mut title = None;
    for (n, line) in text_lines(bytes, report) {
        if n == 1 && line.trim_end() == "---" {
            front_matter = true;
        } else if front_matter {
            if matches!(line.trim_end(), "---" | "...") {
                front_matter = false;
            }
        } else if let Some(f) = &fence {
            if line.trim_start().starts_with(f.as_str()) {
                fence = None;
            }
        } else if let Some(f) = ["```", "~~~"].into_iter().find(|f| line.trim_start().starts_with(f)) {
            fence = Some(f.to_string());
        } else if let Some((level, heading)) = atx_heading(&line) {
            if !cur.text.trim().is_empty() || cur.level > 0 {
                sections.push(std::mem::replace(
                    &mut cur,
                    Section { headings: vec![], level: 0, line_start: n, line_end: n, text: String::new() },
                ));
            }
            stack.retain(|(l, _)| *l < level);
            stack.push((level, heading.clone()));
            if level == 1 && title.is_none() {
                title = Some(heading);
            }
            cur = Section {
                headings: stack.iter().map(|(_, h)| h.clone()).collect(),
                level,
                line_start: n,
                line_end: n,
                text: String::new(),
            };
        }
        cur.text.push_str(&line);
        cur.text.push('\n');
        cur.line_end = n;
    }
    if !cur.text.trim().is_empty() || cur.level > 0 {
        sections.push(cur);
    }
    let title =
        title.unwrap_or_else(|| source.rsplit('/').next().unwrap_or(source).trim_end_matches(".md").to_string());
    report.records += sections.len() as u64;
    Ok(vec![KnowledgeDoc { path: source.to_string(), title, sha256: ContentHash::of(bytes), sections }])
}

fn atx_heading(line: &str) -> Option<(u8, String)> {
    let t =
        line.strip_prefix("   ").or_else(|| line.strip_prefix("  ")).or_else(|| line.strip_prefix(' ')).unwrap_or(line);
    let hashes = t.bytes().take_while(|&b| b == b'#').count();
    if !(1..=6).contains(&hashes) {
        return None;
    }
    let rest = t.get(hashes..)?;
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return None;
    }
    let text = rest.trim().trim_end_matches('#').trim_end().to_string();
    Some((hashes as u8, text))
}

#[cfg(test)]
mod tests {
    use crate::bundle::SourceFormat;
    use crate::bundle::SourceOptions;
    use crate::decode::{Records, decode_bytes};

    #[test]
    fn sections_with_paths_and_lines() {
        let md = "---\ntitle: x\n# not a heading\n---\nintro\n# Checkout runbook\n\n## High latency\nstep 1\n```\n# comment in code\n```\n### Check DB\nrun it\n## Errors\nok\n#nospace\n";
        let d =
            decode_bytes(SourceFormat::Markdown, "runbooks/checkout.md", md.as_bytes(), &SourceOptions::new()).unwrap();
        let Records::Knowledge(k) = d.records else { panic!() };
        let doc = &k[0];
        assert_eq!(doc.title, "Checkout runbook");
        let heads: Vec<_> = doc.sections.iter().map(|s| (s.headings.join(" > "), s.line_start, s.line_end)).collect();
        assert_eq!(
            heads,
            [
                (String::new(), 1, 5),
                ("Checkout runbook".to_string(), 6, 7),
                ("Checkout runbook > High latency".to_string(), 8, 12),
                ("Checkout runbook > High latency > Check DB".to_string(), 13, 14),
                ("Checkout runbook > Errors".to_string(), 15, 17),
            ]
        );
    }
}
