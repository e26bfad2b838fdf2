//! `argocd_history`: Argo CD `Application` objects; each `status.history` entry is a deploy.

use serde::Deserialize;

use super::{DecodeReport, opt_str, parse_json};
use crate::bundle::SourceOptions;
use crate::change::{ChangeEvent, ChangeKind};
use crate::error::{Error, Location, Result};
use crate::labels::Labels;
use crate::time::Timestamp;

#[derive(Deserialize)]
#[serde(untagged)]
enum Doc {
    List { items: Vec<App> },
    Many(Vec<App>),
    One(Box<App>),
}

#[derive(Deserialize)]
struct App {
    metadata: Meta,
    #[serde(default)]
    status: Option<Status>,
}

#[derive(Deserialize)]
struct Meta {
    name: String,
    #[serde(default)]
    labels: std::collections::BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Status {
    #[serde(default)]
    history: Option<Vec<History>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct History {
    id: i64,
    #[serde(default)]
    revision: Option<String>,
    #[serde(default)]
    revisions: Option<Vec<String>>,
    #[serde(default)]
    deployed_at: Option<String>,
    #[serde(default)]
    deploy_started_at: Option<String>,
    #[serde(default)]
    initiated_by: Option<Initiator>,
    #[serde(default)]
    source: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Initiator {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    automated: Option<bool>,
}

/// Decodes Argo CD history. Ids are `argocd:<app>:<history id>`; `from` is the previous
/// entry's revision; an entry that returns to a revision deployed before the previous one is a
/// `rollback`. The service is the application's `service`/`app`/`app.kubernetes.io/name` label,
/// else its name.
///
/// # Errors
/// [`Error::Decode`] for JSON that is not an Application, a list of them or an
/// `ApplicationList`, or a history entry without a parseable `deployedAt`.
pub fn decode(
    source: &str,
    bytes: &[u8],
    options: &SourceOptions,
    report: &mut DecodeReport,
) -> Result<Vec<ChangeEvent>> {
    let doc: Doc = parse_json(source, bytes, "an Argo CD Application, a list of them, or an ApplicationList")?;
    let apps = match doc {
        Doc::List { items } | Doc::Many(items) => items,
        Doc::One(a) => vec![*a],
    };
    let service_label = opt_str(options, "service_label");
    let mut out = Vec::new();
    for (ai, app) in apps.into_iter().enumerate() {
        let labels: Labels =
            app.metadata.labels.iter().map(|(k, v)| (k.replace(['.', '/', '-'], "_"), v.clone())).collect();
        let service = labels.service(service_label).map_or_else(|| app.metadata.name.clone(), str::to_string);
        let mut history = app.status.and_then(|s| s.history).unwrap_or_default();
        history.sort_by_key(|h| h.id);
        let mut seen: Vec<String> = Vec::new();
        for (hi, h) in history.into_iter().enumerate() {
            let at_text = h.deployed_at.as_deref().or(h.deploy_started_at.as_deref()).unwrap_or_default();
            let at = Timestamp::parse_rfc3339(at_text).map_err(|_| {
                Error::decode(
                    source,
                    Location::JsonPath { path: format!("[{ai}].status.history[{hi}].deployedAt") },
                    "an RFC 3339 time",
                    format!("\"{at_text}\""),
                )
            })?;
            let rev = h.revision.clone().or_else(|| h.revisions.as_ref().map(|r| r.join(",")));
            let from = seen.last().cloned();
            let kind = match &rev {
                Some(r)
                    if seen.len() >= 2
                        && seen.get(..seen.len() - 1).is_some_and(|e| e.contains(r))
                        && from.as_ref() != Some(r) =>
                {
                    ChangeKind::Rollback
                }
                _ => ChangeKind::Deploy,
            };
            let author = h.initiated_by.as_ref().and_then(|i| {
                i.username.clone().or_else(|| i.automated.filter(|a| *a).map(|_| "argocd-automated".to_string()))
            });
            let description = h.source.as_ref().and_then(|s| s.get("repoURL")).and_then(|u| u.as_str()).map(|u| {
                let path = h.source.as_ref().and_then(|s| s.get("path")).and_then(|p| p.as_str()).unwrap_or("");
                format!("sync of {u} {path}").trim_end().to_string()
            });
            if let Some(r) = &rev {
                seen.push(r.clone());
            }
            out.push(ChangeEvent {
                id: format!("argocd:{}:{}", app.metadata.name, h.id),
                at,
                service: service.clone(),
                kind,
                from,
                to: rev,
                source: Some("argocd".into()),
                author,
                description,
            });
        }
    }
    out.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)));
    report.records += out.len() as u64;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::bundle::SourceFormat;
    use crate::change::ChangeKind;
    use crate::decode::{Records, decode_fixture};

    #[test]
    fn decodes_history_and_rollbacks() {
        let j = r#"{"apiVersion":"argoproj.io/v1alpha1","kind":"Application","metadata":{"name":"payments","namespace":"argocd"},
          "spec":{},"status":{"history":[
            {"id":0,"revision":"aaa","deployedAt":"2026-11-02T10:00:00Z","deployStartedAt":"2026-11-02T09:59:50Z","source":{"repoURL":"https://git.example/p.git","path":"k8s"}},
            {"id":1,"revision":"bbb","deployedAt":"2026-11-02T12:00:00Z","initiatedBy":{"username":"alice"}},
            {"id":2,"revision":"aaa","deployedAt":"2026-11-02T13:00:00Z","initiatedBy":{"automated":true}}]}}"#;
        let d = decode_fixture(SourceFormat::ArgocdHistory, j.as_bytes()).unwrap();
        let Records::Changes(c) = d.records else { panic!() };
        assert_eq!(c.len(), 3);
        assert_eq!(c[1].id, "argocd:payments:1");
        assert_eq!((c[1].from.as_deref(), c[1].to.as_deref()), (Some("aaa"), Some("bbb")));
        assert_eq!(c[1].author.as_deref(), Some("alice"));
        assert_eq!(c[2].kind, ChangeKind::Rollback);
        assert_eq!(c[0].description.as_deref(), Some("sync of https://git.example/p.git k8s"));
        let list = format!(r#"{{"kind":"ApplicationList","items":[{j}]}}"#);
        assert!(decode_fixture(SourceFormat::ArgocdHistory, list.as_bytes()).is_ok());
        assert!(decode_fixture(SourceFormat::ArgocdHistory, b"{\"metadata\":{}}").is_err());
    }
}
