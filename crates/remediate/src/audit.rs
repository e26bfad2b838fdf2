//! The audit log: append-only JSON lines, hash-chained and signed.
//!
//! Each line is one [`AuditEntry`]. Its `hash` is the SHA-256 of a domain tag and the
//! canonical JSON of every other field but the signature, including `prev`, the previous
//! entry's hash (all zeros for the first), and `seq`, its position from 1. The signature is
//! ed25519 over that hash, by the key named in `key`. So an edited entry no longer matches its
//! hash, a re-hashed one no longer matches its signature (without the private key), and a
//! deleted, inserted or reordered one breaks the `seq` count and the `prev` chain;
//! [`verify_log`] names the first entry where any of this happens. A log truncated at the end
//! is still a valid chain: keep the last hash (the log's head, [`AuditLog::head`]) elsewhere and
//! pass it as `expect_head` to detect that too.
//!
//! Details are string maps (`BTreeMap`), so the canonical form is one fixed byte string
//! whatever serde features other crates enable.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use faultlens_core::{ContentHash, Timestamp};
use serde::{Deserialize, Serialize};

/// Domain separation for entry hashes.
const DOMAIN: &[u8] = b"faultlens-audit-v1\n";

/// What an entry records, before it is chained and signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When it happened.
    pub at: Timestamp,
    /// Who did it (a user, or `faultlens-runner`).
    pub actor: String,
    /// What was done (`plan.approved`, `run.step.applied`, ...).
    pub action: String,
    /// What it was done to: a plan hash, a step id.
    pub subject: String,
    /// Anything else, as strings (command, exit code, captured output).
    #[serde(default)]
    pub detail: BTreeMap<String, String>,
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position from 1.
    pub seq: u64,
    /// The record.
    #[serde(flatten)]
    pub record: AuditRecord,
    /// The previous entry's hash (zeros for the first).
    pub prev: ContentHash,
    /// The signer's public key, hex.
    pub key: String,
    /// SHA-256 of the domain tag and the canonical JSON of the fields above.
    pub hash: ContentHash,
    /// ed25519 signature of `hash`, hex.
    pub signature: String,
}

/// The fields an entry's hash covers, in their canonical order.
#[derive(Serialize)]
struct Unsigned<'a> {
    seq: u64,
    at: &'a Timestamp,
    actor: &'a str,
    action: &'a str,
    subject: &'a str,
    detail: &'a BTreeMap<String, String>,
    prev: &'a ContentHash,
    key: &'a str,
}

impl AuditEntry {
    /// The hash the entry's fields give (what `hash` must be).
    #[must_use]
    pub fn computed_hash(&self) -> ContentHash {
        let r = &self.record;
        let unsigned = Unsigned {
            seq: self.seq,
            at: &r.at,
            actor: &r.actor,
            action: &r.action,
            subject: &r.subject,
            detail: &r.detail,
            prev: &self.prev,
            key: &self.key,
        };
        let mut bytes = DOMAIN.to_vec();
        // serialising plain structs, strings and string maps cannot fail
        bytes.extend(serde_json::to_vec(&unsigned).unwrap_or_default());
        ContentHash::of(&bytes)
    }
}

/// Why the log could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The existing log does not verify, so nothing is appended to it.
    #[error("{path}: {problem}")]
    Broken {
        /// The file.
        path: PathBuf,
        /// Its first problem.
        problem: BadEntry,
    },
    /// A key is not 64 hex digits, or not a valid ed25519 key.
    #[error("{0}")]
    Key(String),
}

/// A key pair for signing the log.
#[derive(Clone)]
pub struct AuditKey(SigningKey);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditKey(public {})", self.public_hex())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex<const N: usize>(s: &str, what: &str) -> Result<[u8; N], AuditError> {
    let s = s.trim();
    let bad = || AuditError::Key(format!("{what}: expected {} hex digits", 2 * N));
    if s.len() != 2 * N || !s.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = s.get(2 * i..2 * i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()).ok_or_else(bad)?;
    }
    Ok(out)
}

impl AuditKey {
    /// A new random key from the operating system's generator.
    ///
    /// # Errors
    /// [`AuditError::Key`] when the system has no randomness to give.
    pub fn generate() -> Result<Self, AuditError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| AuditError::Key(format!("no system randomness: {e}")))?;
        Ok(Self(SigningKey::from_bytes(&seed)))
    }

    /// The key of a 32-byte seed given as 64 hex digits (the form [`Self::secret_hex`] writes).
    ///
    /// # Errors
    /// [`AuditError::Key`] for anything else.
    pub fn from_secret_hex(s: &str) -> Result<Self, AuditError> {
        Ok(Self(SigningKey::from_bytes(&unhex::<32>(s, "secret key")?)))
    }

    /// The seed, 64 hex digits: keep it secret.
    #[must_use]
    pub fn secret_hex(&self) -> String {
        hex(&self.0.to_bytes())
    }

    /// The ed25519 signature of `message`, hex: how every signed record of this crate (log
    /// entries, approvals) is signed.
    pub(crate) fn sign_hex(&self, message: &[u8]) -> String {
        hex(&self.0.sign(message).to_bytes())
    }

    /// The public key, 64 hex digits, as entries name it.
    #[must_use]
    pub fn public_hex(&self) -> String {
        hex(self.0.verifying_key().as_bytes())
    }
}

/// A public key, 64 hex digits, checked.
///
/// # Errors
/// [`AuditError::Key`] when it is not a valid ed25519 public key.
pub fn public_key(s: &str) -> Result<VerifyingKey, AuditError> {
    VerifyingKey::from_bytes(&unhex::<32>(s, "public key")?).map_err(|e| AuditError::Key(format!("public key: {e}")))
}

/// Whether `signature` (hex, as [`AuditKey::sign_hex`] writes it) is `key`'s signature of
/// `message` (strict ed25519 verification).
///
/// # Errors
/// [`AuditError::Key`] when the signature is not 128 hex digits.
pub(crate) fn verify_hex(key: &VerifyingKey, message: &[u8], signature: &str) -> Result<bool, AuditError> {
    let bytes = unhex::<64>(signature, "signature")?;
    Ok(key.verify_strict(message, &Signature::from_bytes(&bytes)).is_ok())
}

/// The first thing wrong with a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("line {line}{}: {kind}", seq.map(|s| format!(" (entry {s})")).unwrap_or_default())]
pub struct BadEntry {
    /// 1-based line of the file.
    pub line: u64,
    /// The entry's own sequence number, when it could be read.
    pub seq: Option<u64>,
    /// What is wrong.
    pub kind: Problem,
}

/// What is wrong with an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case", tag = "problem", content = "detail")]
#[non_exhaustive]
pub enum Problem {
    /// Not an entry at all.
    #[error("not an audit entry: {0}")]
    Malformed(String),
    /// Its fields do not give its hash: it was edited.
    #[error("edited: its fields no longer match its hash")]
    Edited,
    /// The signature does not verify with its key.
    #[error("the signature does not verify")]
    BadSignature,
    /// Signed by a key that is not trusted.
    #[error("signed by an untrusted key {0}")]
    UntrustedKey(String),
    /// Its sequence number is not the next one: an entry before it was deleted, or entries
    /// were reordered or inserted.
    #[error("expected entry {expected}: an entry was deleted, inserted or moved")]
    OutOfSequence {
        /// The number expected here.
        expected: u64,
    },
    /// It does not chain to the entry before it.
    #[error("does not chain to the entry before it: an entry was replaced or moved")]
    BrokenChain,
    /// The log ends before the expected head: entries were cut from the end.
    #[error("the log ends at {found}, not at the expected head {expected}: entries were removed from the end")]
    Truncated {
        /// The hash of the log's last entry.
        found: ContentHash,
        /// The head expected.
        expected: ContentHash,
    },
}

/// The result of checking a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// Entries that verified, from the start.
    pub verified: u64,
    /// The hash of the last verified entry (zeros for an empty log).
    pub head: ContentHash,
    /// The first problem, if any.
    pub first_bad: Option<BadEntry>,
}

impl Verification {
    /// Whether the whole log verified.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.first_bad.is_none()
    }
}

/// Checks a log's bytes: every line an entry, numbered from 1, chained, its hash matching its
/// fields, its signature valid and its key among `trusted` (any key when `trusted` is empty:
/// then only the chain is checked, and a forger with their own key can rewrite it). Stops at
/// the first problem. `expect_head` detects entries cut from the end. Blank lines are not
/// allowed: the log is written by [`AuditLog`] alone.
#[must_use]
pub fn verify_log(bytes: &[u8], trusted: &[VerifyingKey], expect_head: Option<ContentHash>) -> Verification {
    let mut head = ContentHash::from_bytes([0; 32]);
    let mut verified = 0u64;
    let bad = |line: usize, seq: Option<u64>, kind: Problem, verified: u64, head: ContentHash| Verification {
        verified,
        head,
        first_bad: Some(BadEntry { line: line as u64 + 1, seq, kind }),
    };
    let text = String::from_utf8_lossy(bytes);
    for (i, line) in text.lines().enumerate() {
        let entry: AuditEntry = match serde_json::from_str(line) {
            Ok(e) => e,
            Err(e) => return bad(i, None, Problem::Malformed(e.to_string()), verified, head),
        };
        let seq = Some(entry.seq);
        if entry.seq != verified + 1 {
            return bad(i, seq, Problem::OutOfSequence { expected: verified + 1 }, verified, head);
        }
        if entry.prev != head {
            return bad(i, seq, Problem::BrokenChain, verified, head);
        }
        if entry.computed_hash() != entry.hash {
            return bad(i, seq, Problem::Edited, verified, head);
        }
        let key = match public_key(&entry.key) {
            Ok(k) => k,
            Err(e) => return bad(i, seq, Problem::Malformed(e.to_string()), verified, head),
        };
        if !trusted.is_empty() && !trusted.contains(&key) {
            return bad(i, seq, Problem::UntrustedKey(entry.key.clone()), verified, head);
        }
        match verify_hex(&key, entry.hash.as_bytes(), &entry.signature) {
            Ok(true) => {}
            Ok(false) => return bad(i, seq, Problem::BadSignature, verified, head),
            Err(e) => return bad(i, seq, Problem::Malformed(e.to_string()), verified, head),
        }
        head = entry.hash;
        verified += 1;
    }
    if let Some(expected) = expect_head
        && expected != head
    {
        let lines = text.lines().count();
        return bad(lines.saturating_sub(1), None, Problem::Truncated { found: head, expected }, verified, head);
    }
    Verification { verified, head, first_bad: None }
}

/// A log file being appended to.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    key: AuditKey,
    seq: u64,
    head: ContentHash,
}

impl AuditLog {
    /// Opens (or creates) the log at `path` for appending with `key`. An existing log is
    /// verified first (any signer); a broken one is refused, so nothing is ever chained to a
    /// tampered history.
    ///
    /// # Errors
    /// [`AuditError::Io`] when the file cannot be read; [`AuditError::Broken`] naming the first
    /// bad entry.
    pub fn open(path: impl AsRef<Path>, key: AuditKey) -> Result<Self, AuditError> {
        let path = path.as_ref().to_path_buf();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(AuditError::Io { path, source }),
        };
        let v = verify_log(&bytes, &[], None);
        if let Some(problem) = v.first_bad {
            return Err(AuditError::Broken { path, problem });
        }
        Ok(Self { path, key, seq: v.verified, head: v.head })
    }

    /// The hash of the last entry (zeros for an empty log): keep it outside the log to detect
    /// truncation.
    #[must_use]
    pub fn head(&self) -> ContentHash {
        self.head
    }

    /// Entries in the log.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.seq
    }

    /// Whether the log has no entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.seq == 0
    }

    /// Appends a record: chained, hashed, signed, written as one line and synced to disk.
    ///
    /// # Errors
    /// [`AuditError::Io`] when the file cannot be written.
    pub fn append(&mut self, record: AuditRecord) -> Result<AuditEntry, AuditError> {
        let mut entry = AuditEntry {
            seq: self.seq + 1,
            record,
            prev: self.head,
            key: self.key.public_hex(),
            hash: ContentHash::from_bytes([0; 32]),
            signature: String::new(),
        };
        entry.hash = entry.computed_hash();
        entry.signature = self.key.sign_hex(entry.hash.as_bytes());
        let io = |source| AuditError::Io { path: self.path.clone(), source };
        let mut line = serde_json::to_vec(&entry).map_err(|e| io(std::io::Error::other(e)))?;
        line.push(b'\n');
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&self.path).map_err(io)?;
        file.write_all(&line).map_err(io)?;
        file.sync_data().map_err(io)?;
        self.seq = entry.seq;
        self.head = entry.hash;
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> AuditKey {
        AuditKey::from_secret_hex(&format!("{n:02x}").repeat(32)).unwrap()
    }

    fn record(i: u64) -> AuditRecord {
        AuditRecord {
            at: Timestamp::from_millis(1_790_000_000_000 + i as i64 * 1000),
            actor: "alice".into(),
            action: "plan.approved".into(),
            subject: format!("plan-{i}"),
            detail: BTreeMap::from([("note".to_string(), format!("step {i} \"quoted\"\nnewline"))]),
        }
    }

    /// A log of `n` entries written by `key(1)`, as lines.
    fn log(n: u64) -> (tempfile::TempDir, PathBuf, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut l = AuditLog::open(&path, key(1)).unwrap();
        for i in 0..n {
            l.append(record(i)).unwrap();
        }
        let lines = std::fs::read_to_string(&path).unwrap().lines().map(str::to_string).collect();
        (dir, path, lines)
    }

    fn check(lines: &[String]) -> Verification {
        let trusted = [public_key(&key(1).public_hex()).unwrap()];
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        verify_log(text.as_bytes(), &trusted, None)
    }

    #[test]
    fn a_written_log_verifies_and_reopens_at_its_head() {
        let (_d, path, lines) = log(5);
        let v = check(&lines);
        assert!(v.ok() && v.verified == 5, "{v:?}");
        let mut l = AuditLog::open(&path, key(1)).unwrap();
        assert_eq!((l.len(), l.head()), (5, v.head));
        l.append(record(5)).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let v2 = verify_log(&bytes, &[], Some(l.head()));
        assert!(v2.ok() && v2.verified == 6);
        assert!(check(&[]).ok());
    }

    #[test]
    fn every_kind_of_tampering_names_the_first_bad_entry() {
        let (_d, _p, lines) = log(5);
        let first = |v: Verification| v.first_bad.map(|b| (b.line, b.kind));
        // an edit
        let mut edited = lines.clone();
        edited[2] = edited[2].replace("alice", "mallory");
        assert_eq!(first(check(&edited)), Some((3, Problem::Edited)));
        // an edit, re-hashed without the private key
        let mut rehashed = lines.clone();
        let mut e: AuditEntry = serde_json::from_str(&rehashed[2]).unwrap();
        e.record.actor = "mallory".into();
        e.hash = e.computed_hash();
        rehashed[2] = serde_json::to_string(&e).unwrap();
        assert_eq!(first(check(&rehashed)), Some((3, Problem::BadSignature)));
        // a deletion
        let mut deleted = lines.clone();
        deleted.remove(1);
        assert_eq!(first(check(&deleted)), Some((2, Problem::OutOfSequence { expected: 2 })));
        // a reordering
        let mut swapped = lines.clone();
        swapped.swap(3, 4);
        assert_eq!(first(check(&swapped)), Some((4, Problem::OutOfSequence { expected: 4 })));
        // a forged rewrite from entry 3 on with another key: chain intact, key untrusted
        let mut forged = lines[..2].to_vec();
        let mut tail = AuditLog { path: _p.with_extension("forged"), key: key(2), seq: 2, head: check(&forged).head };
        forged.push(serde_json::to_string(&tail.append(record(9)).unwrap()).unwrap());
        assert!(matches!(first(check(&forged)), Some((3, Problem::UntrustedKey(_)))));
        // the same forgery passes the chain check alone: trust must be pinned
        assert!(verify_log((forged.join("\n") + "\n").as_bytes(), &[], None).ok());
        // garbage
        let mut garbage = lines.clone();
        garbage.insert(2, "{not json".into());
        assert!(matches!(first(check(&garbage)), Some((3, Problem::Malformed(_)))));
        // truncation, seen only against a kept head
        let full = check(&lines);
        let cut = verify_log((lines[..4].join("\n") + "\n").as_bytes(), &[], Some(full.head));
        assert!(matches!(cut.first_bad.map(|b| b.kind), Some(Problem::Truncated { .. })));
    }

    #[test]
    fn a_broken_log_is_not_appended_to() {
        let (_d, path, mut lines) = log(3);
        lines[1] = lines[1].replace("plan-1", "plan-X");
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let e = AuditLog::open(&path, key(1)).unwrap_err().to_string();
        assert!(e.contains("line 2 (entry 2)") && e.contains("edited"), "{e}");
    }

    #[test]
    fn keys_round_trip_and_bad_keys_are_errors() {
        let k = AuditKey::generate().unwrap();
        assert_eq!(AuditKey::from_secret_hex(&k.secret_hex()).unwrap().public_hex(), k.public_hex());
        assert!(AuditKey::from_secret_hex("abc").is_err());
        assert!(public_key(&"zz".repeat(32)).is_err());
        assert!(!format!("{k:?}").contains(&k.secret_hex()), "the secret never prints");
    }
}
