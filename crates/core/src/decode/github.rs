//! `github_deployments`: the array returned by `GET /repos/{owner}/{repo}/deployments`,
//! optionally with each deployment's `statuses` array embedded.

use serde::Deserialize;

use super::{DecodeReport, opt_str, parse_json};
use crate::bundle::SourceOptions;
use crate::change::{ChangeEvent, ChangeKind};
use crate::error::{Error, Location, Result};
use crate::time::Timestamp;

#[derive(Deserialize)]
struct Deployment {
    id: i64,
    #[serde(default)]
    sha: Option<String>,
    #[serde(default, rename = "ref")]
    git_ref: Option<String>,
    #[serde(default)]
    task: Option<String>,
    #[serde(default)]
    environment: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    creator: Option<User>,
    created_at: String,
    #[serde(default)]
    payload: Option<serde_json::Value>,
    #[serde(default)]
    repository_url: Option<String>,
    #[serde(default)]
    statuses: Vec<Status>,
}

#[derive(Deserialize)]
struct User {
    #[serde(default)]
    login: Option<String>,
}

#[derive(Deserialize)]
struct Status {
    state: String,
    created_at: String,
}

/// Decodes GitHub deployments. Ids are `github:<deployment id>`; the time is the first
/// `success` status when statuses are present, else `created_at`; deployments whose statuses
/// are all `failure`/`error` are kept, marked in the description. The service is option
/// `service`, else `payload.service`, else the repository name, else the environment.
/// `from` is the previous deployment's sha to the same environment.
///
/// # Errors
/// [`Error::Decode`] for JSON that is not an array of deployments, or unparseable times.
pub fn decode(
    source: &str,
    bytes: &[u8],
    options: &SourceOptions,
    report: &mut DecodeReport,
) -> Result<Vec<ChangeEvent>> {
    let mut deps: Vec<Deployment> = parse_json(source, bytes, "an array of GitHub deployments")?;
    let time = |s: &str, path: String| {
        Timestamp::parse_rfc3339(s)
            .map_err(|_| Error::decode(source, Location::JsonPath { path }, "an RFC 3339 time", format!("\"{s}\"")))
    };
    let mut rows = Vec::new();
    for (i, d) in deps.iter().enumerate() {
        let created = time(&d.created_at, format!("[{i}].created_at"))?;
        let mut ok_at = None;
        for (si, s) in d.statuses.iter().enumerate() {
            let t = time(&s.created_at, format!("[{i}].statuses[{si}].created_at"))?;
            if s.state == "success" {
                ok_at = Some(ok_at.map_or(t, |o: Timestamp| o.min(t)));
            }
        }
        rows.push((ok_at.unwrap_or(created), i));
    }
    rows.sort();
    let mut last_sha: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    let mut out = Vec::new();
    for (at, i) in rows {
        let Some(d) = deps.get_mut(i) else { continue };
        let env = d.environment.clone().unwrap_or_else(|| "production".into());
        let service = opt_str(options, "service")
            .map(str::to_string)
            .or_else(|| d.payload.as_ref().and_then(|p| p.get("service")).and_then(|s| s.as_str()).map(str::to_string))
            .or_else(|| d.repository_url.as_deref().and_then(|u| u.rsplit('/').next()).map(str::to_string))
            .unwrap_or_else(|| env.clone());
        let to = d.sha.clone().or_else(|| d.git_ref.clone());
        let failed =
            !d.statuses.is_empty() && d.statuses.iter().all(|s| matches!(s.state.as_str(), "failure" | "error"));
        let mut description = d.description.take().unwrap_or_default();
        if failed {
            description = format!("{description} (deployment failed)").trim().to_string();
        }
        let kind = if d.task.as_deref().is_some_and(|t| t.contains("rollback")) {
            ChangeKind::Rollback
        } else {
            ChangeKind::Deploy
        };
        let from = last_sha.get(&env).cloned();
        if let Some(t) = &to {
            last_sha.insert(env.clone(), t.clone());
        }
        out.push(ChangeEvent {
            id: format!("github:{}", d.id),
            at,
            service,
            kind,
            from,
            to,
            source: Some("github".into()),
            author: d.creator.as_ref().and_then(|c| c.login.clone()),
            description: (!description.is_empty()).then_some(description),
        });
    }
    report.records += out.len() as u64;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::bundle::SourceFormat;
    use crate::decode::{Records, decode_fixture};

    #[test]
    fn decodes_documented_shape() {
        let j = r#"[{"url":"https://api.github.com/repos/octo/cart/deployments/2","id":2,"node_id":"x","sha":"b2","ref":"main","task":"deploy",
           "payload":{},"original_environment":"production","environment":"production","description":"Deploy request from hubot",
           "creator":{"login":"octocat","id":1},"created_at":"2026-11-02T12:00:00Z","updated_at":"2026-11-02T12:00:00Z",
           "statuses_url":"https://api.github.com/repos/octo/cart/deployments/2/statuses","repository_url":"https://api.github.com/repos/octo/cart",
           "statuses":[{"state":"in_progress","created_at":"2026-11-02T12:00:10Z"},{"state":"success","created_at":"2026-11-02T12:01:00Z"}]},
          {"id":1,"sha":"a1","ref":"main","task":"deploy","environment":"production","created_at":"2026-11-01T12:00:00Z","repository_url":"https://api.github.com/repos/octo/cart"}]"#;
        let d = decode_fixture(SourceFormat::GithubDeployments, j.as_bytes()).unwrap();
        let Records::Changes(c) = d.records else { panic!() };
        assert_eq!(c[1].id, "github:2");
        assert_eq!(c[1].at.to_string(), "2026-11-02T12:01:00Z");
        assert_eq!((c[1].from.as_deref(), c[1].service.as_str()), (Some("a1"), "cart"));
        assert!(decode_fixture(SourceFormat::GithubDeployments, br#"[{"id":1,"created_at":"later"}]"#).is_err());
    }
}
