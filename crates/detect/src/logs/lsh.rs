//! Near-duplicate templates by MinHash LSH (gaoya): seeded hash functions propose candidate
//! pairs, exact Jaccard similarity confirms them, so the result is deterministic.

use gaoya::minhash::{MinHashIndex, MinHasher, MinHasher32};

/// The shingles MinHash compares: a template's words and word bigrams.
fn shingles(text: &str) -> Vec<String> {
    let toks: Vec<&str> = text.split(' ').collect();
    let mut out: Vec<String> = toks.iter().map(|t| (*t).to_string()).collect();
    out.extend(toks.windows(2).map(|w| w.join(" ")));
    out.sort();
    out.dedup();
    out
}

fn jaccard(a: &[String], b: &[String]) -> f64 {
    let (mut i, mut j, mut both) = (0, 0, 0usize);
    while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
        match x.cmp(y) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                both += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - both;
    if union == 0 { 1.0 } else { both as f64 / union as f64 }
}

/// Groups of near-duplicate templates: MinHash LSH proposes pairs, exact Jaccard similarity
/// of their word and bigram shingles (at least `threshold`) confirms them, and confirmed pairs
/// are joined transitively. Returns groups of two or more indexes into `texts`, each sorted,
/// in order of their first member.
#[must_use]
pub fn near_duplicates(texts: &[&str], threshold: f64) -> Vec<Vec<usize>> {
    let (bands, width) = (32, 4);
    let hasher = MinHasher32::new(bands * width);
    let mut index: MinHashIndex<u32, usize> = MinHashIndex::new(bands, width, threshold.clamp(0.0, 1.0));
    let sh: Vec<Vec<String>> = texts.iter().map(|t| shingles(t)).collect();
    let sigs: Vec<Vec<u32>> = sh.iter().map(|s| hasher.create_signature(s.iter())).collect();
    for (i, s) in sigs.iter().enumerate() {
        index.insert(i, s.clone());
    }
    let mut parent: Vec<usize> = (0..texts.len()).collect();
    fn root(p: &mut [usize], mut i: usize) -> usize {
        while let Some(&q) = p.get(i) {
            if q == i {
                break;
            }
            let up = p.get(q).copied().unwrap_or(q);
            if let Some(x) = p.get_mut(i) {
                *x = up;
            }
            i = q;
        }
        i
    }
    for (i, s) in sigs.iter().enumerate() {
        let mut cands: Vec<usize> = index.query_owned(s).into_iter().filter(|&j| j > i).collect();
        cands.sort_unstable();
        for j in cands {
            let (Some(a), Some(b)) = (sh.get(i), sh.get(j)) else { continue };
            if jaccard(a, b) >= threshold {
                let (ri, rj) = (root(&mut parent, i), root(&mut parent, j));
                if let Some(x) = parent.get_mut(ri.max(rj)) {
                    *x = ri.min(rj);
                }
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = std::collections::BTreeMap::new();
    for i in 0..texts.len() {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    groups.into_values().filter(|g| g.len() > 1).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_duplicates_are_grouped() {
        let texts = [
            "Failed password for <*> from <*> port <*> ssh2",
            "Failed password for invalid user <*> from <*> port <*> ssh2",
            "Accepted publickey for <*> from <*> port <*> ssh2",
            "disk <*> is full",
            "Failed password for <*> from <*> port <*> ssh2 [preauth]",
        ];
        let groups = near_duplicates(&texts, 0.8);
        assert_eq!(groups, vec![vec![0, 4]]);
        assert!(near_duplicates(&texts, 0.99).is_empty());
        assert_eq!(near_duplicates(&texts, 0.8), groups, "deterministic");
        assert_eq!(near_duplicates(&texts, 0.6), vec![vec![0, 1, 4]]);
    }
}
