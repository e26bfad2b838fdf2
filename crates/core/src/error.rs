//! The one error type of `faultlens-core`.

use std::fmt;
use std::path::PathBuf;

/// Where in a source file a decoding problem was found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Location {
    /// The whole file.
    File,
    /// A 1-based line number.
    Line {
        /// 1-based line number.
        line: u64,
    },
    /// A 1-based line and a named field or column on it.
    Field {
        /// 1-based line number.
        line: u64,
        /// Field, column or label name.
        field: String,
    },
    /// A JSON path such as `data.result[3].values[7][1]`.
    JsonPath {
        /// The path, `.` for the document root.
        path: String,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File => f.write_str("file"),
            Self::Line { line } => write!(f, "line {line}"),
            Self::Field { line, field } => write!(f, "line {line}, field `{field}`"),
            Self::JsonPath { path } => write!(f, "json path `{path}`"),
        }
    }
}

/// A stable, copyable classification of [`Error`], for bindings to map onto
/// exception classes and error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file could not be read or written.
    Io,
    /// The bundle manifest is malformed or inconsistent.
    InvalidManifest,
    /// A source path is absent, escapes the bundle, or is too large.
    InvalidSource,
    /// A content hash does not match.
    IntegrityMismatch,
    /// A source file does not decode.
    Decode,
    /// An argument or value is out of its domain.
    InvalidInput,
}

impl ErrorKind {
    /// The snake_case code used by bindings (`invalid_manifest`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Io => "io",
            Self::InvalidManifest => "invalid_manifest",
            Self::InvalidSource => "invalid_source",
            Self::IntegrityMismatch => "integrity_mismatch",
            Self::Decode => "decode",
            Self::InvalidInput => "invalid_input",
        }
    }
}

/// Errors of `faultlens-core`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The bundle manifest is malformed.
    #[error("{}: {field}: {message}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// The offending field (`incident.detected_at`, `sources[2].format`, ...).
        field: String,
        /// What was wrong.
        message: String,
    },
    /// A source path is not a relative path inside the bundle.
    #[error("{}: source path `{source_path}` is outside the bundle", manifest.display())]
    PathEscapesBundle {
        /// The manifest file.
        manifest: PathBuf,
        /// The path as written in the manifest.
        source_path: String,
    },
    /// A source named by the manifest does not exist.
    #[error("{}: source file `{source_path}` does not exist", manifest.display())]
    MissingSource {
        /// The manifest file.
        manifest: PathBuf,
        /// The path as written in the manifest.
        source_path: String,
    },
    /// A source file is larger than the configured limit.
    #[error("{}: file is {size} bytes, over the limit of {limit} bytes (raise `LoadOptions::max_source_bytes`)", path.display())]
    SourceTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// A content hash did not match.
    #[error("{}: sha256 mismatch: manifest says {expected}, file has {actual}", path.display())]
    Sha256Mismatch {
        /// The file.
        path: PathBuf,
        /// Hash recorded in the manifest.
        expected: String,
        /// Hash of the file as it is.
        actual: String,
    },
    /// A source file does not decode.
    #[error("{}: {location}: expected {expected}, found {found}", path.display())]
    Decode {
        /// The file (or a pseudo-path such as `<memory>`).
        path: PathBuf,
        /// Where in the file.
        location: Location,
        /// What the decoder expected.
        expected: String,
        /// What it found.
        found: String,
    },
    /// A value is outside its domain.
    #[error("invalid {what}: {message}")]
    InvalidInput {
        /// What was being built (`time range`, `confidence`, ...).
        what: &'static str,
        /// What was wrong.
        message: String,
    },
}

impl Error {
    /// The kind of this error.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Io { .. } => ErrorKind::Io,
            Self::Manifest { .. } => ErrorKind::InvalidManifest,
            Self::PathEscapesBundle { .. } | Self::MissingSource { .. } | Self::SourceTooLarge { .. } => {
                ErrorKind::InvalidSource
            }
            Self::Sha256Mismatch { .. } => ErrorKind::IntegrityMismatch,
            Self::Decode { .. } => ErrorKind::Decode,
            Self::InvalidInput { .. } => ErrorKind::InvalidInput,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }

    pub(crate) fn decode(
        path: impl Into<PathBuf>,
        location: Location,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        Self::Decode { path: path.into(), location, expected: expected.into(), found: found.into() }
    }

    /// An [`Error::InvalidInput`] about `what`.
    pub fn invalid(what: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidInput { what, message: message.into() }
    }
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
