//! GitOps patches: set values in a YAML file of a git repository on a new branch, commit, and
//! build the pull-request payload for GitHub's REST API (`POST /repos/{owner}/{repo}/pulls`).
//!
//! git runs as a program with arguments (never through a shell). The file must hold the values
//! the plan expects (`expect`), or the patch is refused as stale: the repository moved since
//! the plan was made. The working copy is returned to the branch it was on.
//!
//! The file is rewritten from its parsed YAML, so comments and formatting in it are not kept.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Why a patch was not made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GitopsError {
    /// The file is outside the repository (absolute, or with `..`).
    #[error("{0}: the file must be a relative path inside the repository")]
    Path(String),
    /// Reading or writing failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not YAML, or a key cannot be set.
    #[error("{path}: {message}")]
    Yaml {
        /// The file.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// The file does not hold what the plan expects.
    #[error("{path}: `{key}` is {found}, the plan expects {expected}: the repository changed since the plan was made")]
    Stale {
        /// The file.
        path: String,
        /// The key.
        key: String,
        /// What the plan expects.
        expected: String,
        /// What the file holds.
        found: String,
    },
    /// A git command failed.
    #[error("git {args}: {stderr}")]
    Git {
        /// Its arguments.
        args: String,
        /// What it printed.
        stderr: String,
    },
}

/// A patch to make.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GitopsPatch {
    /// The repository (a local clone).
    pub repo: PathBuf,
    /// The file, relative to it.
    pub file: String,
    /// Values to set, by dotted path.
    pub set: BTreeMap<String, Value>,
    /// Values the file must hold now.
    pub expect: BTreeMap<String, Value>,
    /// Branch to create.
    pub branch: String,
    /// Branch the pull request targets.
    pub base: String,
    /// Commit message and pull-request title.
    pub message: String,
    /// `owner/name` on GitHub.
    pub github: Option<String>,
}

/// What a patch did (or, in a dry run, would do).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GitopsOutcome {
    /// The branch.
    pub branch: String,
    /// The commit made (none in a dry run).
    pub commit: Option<String>,
    /// The change, as `key: old -> new` lines.
    pub changes: Vec<String>,
    /// `git diff` of the commit (empty in a dry run).
    pub diff: String,
    /// The REST call that opens the pull request, e.g. `POST /repos/shop/deploy/pulls`.
    pub endpoint: Option<String>,
    /// Its JSON body.
    pub pull_request: Value,
}

fn git(repo: &Path, args: &[&str]) -> Result<String, GitopsError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .map_err(|source| GitopsError::Io { path: repo.to_path_buf(), source })?;
    if !out.status.success() {
        return Err(GitopsError::Git {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn text_of(v: &serde_yaml_ng::Value) -> String {
    match v {
        serde_yaml_ng::Value::String(s) => s.clone(),
        serde_yaml_ng::Value::Null => "null".to_owned(),
        other => serde_yaml_ng::to_string(other).map(|s| s.trim_end().to_owned()).unwrap_or_default(),
    }
}

fn json_text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

fn get<'a>(doc: &'a serde_yaml_ng::Value, key: &str) -> Option<&'a serde_yaml_ng::Value> {
    key.split('.').try_fold(doc, |v, k| v.get(k))
}

fn set(doc: &mut serde_yaml_ng::Value, key: &str, value: &Value, path: &str) -> Result<(), GitopsError> {
    let err = |message: String| GitopsError::Yaml { path: path.to_owned(), message };
    let parts: Vec<&str> = key.split('.').collect();
    let Some((last, parents)) = parts.split_last() else { return Err(err("empty key".to_owned())) };
    let mut node = doc;
    for p in parents {
        if node.is_null() {
            *node = serde_yaml_ng::Value::Mapping(serde_yaml_ng::Mapping::new());
        }
        let map = node
            .as_mapping_mut()
            .ok_or_else(|| err(format!("`{key}`: `{p}` is inside a value that is not a mapping")))?;
        node = map.entry((*p).into()).or_insert(serde_yaml_ng::Value::Null);
    }
    if node.is_null() {
        *node = serde_yaml_ng::Value::Mapping(serde_yaml_ng::Mapping::new());
    }
    let map = node.as_mapping_mut().ok_or_else(|| err(format!("`{key}`: the parent is not a mapping")))?;
    let v: serde_yaml_ng::Value = serde_yaml_ng::to_value(value).map_err(|e| err(e.to_string()))?;
    map.insert((*last).into(), v);
    Ok(())
}

/// Makes the patch: checks the expected values, creates the branch from `base`, writes the
/// file, commits, and returns to the branch the clone was on. With `dry_run`, only checks and
/// reports the change.
///
/// # Errors
/// [`GitopsError`] when the path leaves the repository, the file is not YAML, it does not hold
/// the expected values, or a git command fails (the branch exists, the base does not).
pub fn apply(patch: &GitopsPatch, dry_run: bool) -> Result<GitopsOutcome, GitopsError> {
    let rel = Path::new(&patch.file);
    if rel.is_absolute() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(GitopsError::Path(patch.file.clone()));
    }
    let path = patch.repo.join(rel);
    let text = if dry_run {
        std::fs::read_to_string(&path).map_err(|source| GitopsError::Io { path: path.clone(), source })?
    } else {
        git(&patch.repo, &["show", &format!("{}:{}", patch.base, patch.file)])?
    };
    let mut doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text)
        .map_err(|e| GitopsError::Yaml { path: patch.file.clone(), message: e.to_string() })?;
    for (key, expected) in &patch.expect {
        let found = get(&doc, key).map_or_else(|| "absent".to_owned(), text_of);
        if found != json_text(expected) {
            return Err(GitopsError::Stale {
                path: patch.file.clone(),
                key: key.clone(),
                expected: json_text(expected),
                found,
            });
        }
    }
    let mut changes = Vec::new();
    for (key, value) in &patch.set {
        let old = get(&doc, key).map_or_else(|| "absent".to_owned(), text_of);
        set(&mut doc, key, value, &patch.file)?;
        changes.push(format!("{key}: {old} -> {}", json_text(value)));
    }
    let body = format!(
        "Opened by faultlens.\n\n{}\n\nReview the plan and its evidence before merging.",
        changes.iter().map(|c| format!("- `{c}`")).collect::<Vec<_>>().join("\n")
    );
    let pull_request =
        json!({"title": patch.message, "head": patch.branch, "base": patch.base, "body": body, "draft": true});
    let endpoint = patch.github.as_ref().map(|g| format!("POST /repos/{g}/pulls"));
    if dry_run {
        return Ok(GitopsOutcome {
            branch: patch.branch.clone(),
            commit: None,
            changes,
            diff: String::new(),
            endpoint,
            pull_request,
        });
    }
    let new_text = serde_yaml_ng::to_string(&doc)
        .map_err(|e| GitopsError::Yaml { path: patch.file.clone(), message: e.to_string() })?;
    let original = git(&patch.repo, &["rev-parse", "--abbrev-ref", "HEAD"])?.trim().to_owned();
    git(&patch.repo, &["switch", "--create", &patch.branch, &patch.base])?;
    let result = (|| {
        std::fs::write(&path, &new_text).map_err(|source| GitopsError::Io { path: path.clone(), source })?;
        git(&patch.repo, &["add", "--", &patch.file])?;
        let identity = git(&patch.repo, &["config", "user.email"]).is_ok();
        let mut args: Vec<&str> = Vec::new();
        if !identity {
            args.extend(["-c", "user.name=faultlens", "-c", "user.email=faultlens@localhost"]);
        }
        args.extend(["commit", "--quiet", "--message", &patch.message]);
        git(&patch.repo, &args)?;
        let commit = git(&patch.repo, &["rev-parse", "HEAD"])?.trim().to_owned();
        let diff = git(&patch.repo, &["diff", &format!("{}..{}", patch.base, patch.branch)])?;
        Ok((commit, diff))
    })();
    git(&patch.repo, &["switch", &original])?;
    let (commit, diff) = result?;
    Ok(GitopsOutcome { branch: patch.branch.clone(), commit: Some(commit), changes, diff, endpoint, pull_request })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        git(r, &["init", "--quiet", "--initial-branch=main"]).unwrap();
        std::fs::create_dir_all(r.join("apps/billing")).unwrap();
        std::fs::write(
            r.join("apps/billing/values.yaml"),
            "image:\n  repository: shop/billing\n  tag: v1.5.0\nreplicas: 3\n",
        )
        .unwrap();
        git(r, &["add", "."]).unwrap();
        git(r, &["-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "init"]).unwrap();
        dir
    }

    fn patch(r: &Path, expect: &str) -> GitopsPatch {
        GitopsPatch {
            repo: r.to_path_buf(),
            file: "apps/billing/values.yaml".into(),
            set: BTreeMap::from([("image.tag".to_owned(), json!("v1.4.2"))]),
            expect: BTreeMap::from([("image.tag".to_owned(), json!(expect))]),
            branch: "faultlens/revert-1".into(),
            base: "main".into(),
            message: "Revert billing to v1.4.2".into(),
            github: Some("shop/deploy".into()),
        }
    }

    #[test]
    fn commits_on_a_new_branch_and_leaves_the_clone_where_it_was() {
        let dir = repo();
        let r = dir.path();
        let dry = apply(&patch(r, "v1.5.0"), true).unwrap();
        assert_eq!(dry.commit, None);
        assert_eq!(dry.changes, ["image.tag: v1.5.0 -> v1.4.2"]);
        assert!(git(r, &["branch", "--list", "faultlens/revert-1"]).unwrap().is_empty());
        let out = apply(&patch(r, "v1.5.0"), false).unwrap();
        assert_eq!(out.commit.as_deref().map(str::len), Some(40));
        assert!(out.diff.contains("-  tag: v1.5.0\n+  tag: v1.4.2"), "{}", out.diff);
        assert_eq!(out.endpoint.as_deref(), Some("POST /repos/shop/deploy/pulls"));
        assert_eq!(out.pull_request["head"], "faultlens/revert-1");
        assert_eq!(git(r, &["rev-parse", "--abbrev-ref", "HEAD"]).unwrap().trim(), "main");
        let on_branch = git(r, &["show", "faultlens/revert-1:apps/billing/values.yaml"]).unwrap();
        assert!(on_branch.contains("tag: v1.4.2") && on_branch.contains("replicas: 3"));
        // A second run finds the branch taken.
        assert!(matches!(apply(&patch(r, "v1.5.0"), false), Err(GitopsError::Git { .. })));
    }

    #[test]
    fn refuses_stale_plans_and_paths_outside_the_repository() {
        let dir = repo();
        let r = dir.path();
        assert!(matches!(apply(&patch(r, "v9"), true), Err(GitopsError::Stale { .. })));
        let mut p = patch(r, "v1.5.0");
        p.file = "../etc/passwd".into();
        assert!(matches!(apply(&p, true), Err(GitopsError::Path(_))));
    }
}
