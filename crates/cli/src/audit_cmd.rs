//! `faultlens audit keygen|append|verify`: the signed, hash-chained audit log.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Subcommand;
use faultlens::core::ContentHash;
use faultlens::remediate::audit::{AuditError, AuditKey, AuditLog, AuditRecord, public_key, verify_log};

use crate::{Failure, Format};

/// `faultlens audit` actions.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditAction {
    /// Make a signing key: the secret goes to a new file (mode 0600), the public key to
    /// standard output.
    Keygen {
        /// Where to write the secret key (refused when the file exists).
        #[arg(long)]
        out: PathBuf,
    },
    /// Append one signed entry (for actions taken outside faultlens).
    Append {
        /// The log (created when absent; refused when it does not verify).
        log: PathBuf,
        /// The secret key file.
        #[arg(long)]
        key_file: PathBuf,
        /// Who acted.
        #[arg(long)]
        actor: String,
        /// What was done.
        #[arg(long)]
        action: String,
        /// What it was done to.
        #[arg(long)]
        subject: String,
        /// Details, `name=value`, repeatable.
        #[arg(long = "detail", value_name = "NAME=VALUE")]
        details: Vec<String>,
        /// When (default: now).
        #[arg(long)]
        at: Option<String>,
    },
    /// Check a log: chain, hashes, signatures and trusted keys; names the first bad entry
    /// (exit 0 intact, 1 tampered).
    Verify {
        /// The log.
        log: PathBuf,
        /// Trusted public keys (64 hex digits), repeatable; without one only the chain is
        /// checked, which a forger with their own key can rebuild.
        #[arg(long = "key", value_name = "HEX")]
        keys: Vec<String>,
        /// The head (last entry's hash) kept from when the log was written, to detect entries
        /// cut from the end.
        #[arg(long)]
        head: Option<String>,
    },
}

impl From<AuditError> for Failure {
    fn from(e: AuditError) -> Self {
        let code = match e {
            AuditError::Broken { .. } => 1,
            AuditError::Key(_) => 2,
            _ => 3,
        };
        Self { reported: false, code, message: e.to_string() }
    }
}

pub(crate) fn key_file(path: &std::path::Path) -> Result<AuditKey, Failure> {
    let text = String::from_utf8_lossy(&crate::read_input(path)?).into_owned();
    AuditKey::from_secret_hex(&text).map_err(|e| Failure {
        reported: false,
        code: 2,
        message: format!("{}: {e}", path.display()),
    })
}

pub(crate) fn run(action: AuditAction, format: Format) -> Result<(), Failure> {
    match action {
        AuditAction::Keygen { out } => {
            let key = AuditKey::generate()?;
            let io = |e: std::io::Error| crate::file_error(&out, e);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&out).map_err(io)?;
            std::io::Write::write_all(&mut file, format!("{}\n", key.secret_hex()).as_bytes()).map_err(io)?;
            println!("{}", key.public_hex());
            Ok(())
        }
        AuditAction::Append { log, key_file: kf, actor, action, subject, details, at } => {
            let at = match at {
                Some(t) => crate::time_flag("at", &t)?,
                None => crate::now(),
            };
            let mut detail = BTreeMap::new();
            for d in details {
                let Some((k, v)) = d.split_once('=') else {
                    return Err(Failure {
                        reported: false,
                        code: 2,
                        message: format!("--detail `{d}`: expected NAME=VALUE"),
                    });
                };
                detail.insert(k.to_string(), v.to_string());
            }
            let mut l = AuditLog::open(&log, key_file(&kf)?)?;
            let entry = l.append(AuditRecord { at, actor, action, subject, detail })?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&entry).unwrap_or_default()),
                _ => println!("entry {} appended; head {}", entry.seq, entry.hash),
            }
            Ok(())
        }
        AuditAction::Verify { log, keys, head } => {
            let trusted = keys.iter().map(|k| public_key(k)).collect::<Result<Vec<_>, _>>()?;
            let head = head
                .map(|h| {
                    h.parse::<ContentHash>().map_err(|e| Failure {
                        reported: false,
                        code: 2,
                        message: format!("--head: {e}"),
                    })
                })
                .transpose()?;
            let v = verify_log(&crate::read_input(&log)?, &trusted, head);
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default()),
                _ => match &v.first_bad {
                    None => println!(
                        "{}: {} entries verified{}; head {}",
                        log.display(),
                        v.verified,
                        if trusted.is_empty() { " (chain only: no trusted key given)" } else { "" },
                        v.head
                    ),
                    Some(b) => println!("{}: {} entries verified, then {b}", log.display(), v.verified),
                },
            }
            match v.first_bad {
                None => Ok(()),
                Some(b) => Err(Failure::verdict(1, format!("{}: {b}", log.display()))),
            }
        }
    }
}
