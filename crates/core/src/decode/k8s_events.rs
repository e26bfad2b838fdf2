//! `k8s_events`: a Kubernetes `EventList` (rollout, scaling, Flux and Argo Rollouts events).

use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

use super::{DecodeReport, parse_json};
use crate::bundle::SourceOptions;
use crate::change::{ChangeEvent, ChangeKind};
use crate::error::{Location, Result};
use crate::time::Timestamp;

#[derive(Deserialize)]
struct EventList {
    items: Vec<Event>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    #[serde(default)]
    metadata: Meta,
    #[serde(default)]
    involved_object: Object,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    first_timestamp: Option<String>,
    #[serde(default)]
    last_timestamp: Option<String>,
    #[serde(default)]
    event_time: Option<String>,
    #[serde(default)]
    source: Option<EventSource>,
    #[serde(default)]
    reporting_component: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Meta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    creation_timestamp: Option<String>,
}

#[derive(Deserialize, Default)]
struct Object {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
}

#[derive(Deserialize)]
struct EventSource {
    #[serde(default)]
    component: Option<String>,
}

/// The change kind an event reason means, if it is a change at all.
#[must_use]
pub fn change_kind_of(reason: &str, message: &str) -> Option<ChangeKind> {
    Some(match reason {
        "ScalingReplicaSet" | "SuccessfulRescale" | "ScaledObjectReady" => ChangeKind::Scale,
        "UpgradeSucceeded" | "InstallSucceeded" | "RolloutUpdated" | "RolloutStarted" | "NewReplicaSetCreated" => {
            ChangeKind::Deploy
        }
        "RollbackSucceeded" | "RolloutAborted" | "DeploymentRollback" => ChangeKind::Rollback,
        "ReconciliationSucceeded" | "Progressing" | "info" if message.contains("evision") => ChangeKind::Deploy,
        "ConfigMapUpdated" | "ConfigChanged" => ChangeKind::Config,
        "NodeReady" | "NodeNotReady" | "RegisteredNode" | "RemovingNode" => ChangeKind::Infra,
        _ => return None,
    })
}

static REVISION: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?:[Rr]evision|to version|image)[:= ]+'?(?P<r>[\w./:@-]+)").ok());

/// Decodes events that are changes; other events (`Pulled`, `Started`, ...) are counted as
/// skipped. Ids are `k8s:<namespace>/<event name>`; the service is the involved object's name
/// (a Deployment, HelmRelease, Kustomization, Rollout).
///
/// # Errors
/// [`Error::Decode`](crate::Error::Decode) for JSON that is not an `EventList`.
pub fn decode(
    source: &str,
    bytes: &[u8],
    _options: &SourceOptions,
    report: &mut DecodeReport,
) -> Result<Vec<ChangeEvent>> {
    let list: EventList = parse_json(source, bytes, "a Kubernetes EventList")?;
    let mut out = Vec::new();
    for (i, e) in list.items.into_iter().enumerate() {
        let loc = Location::JsonPath { path: format!("items[{i}]") };
        let reason = e.reason.clone().unwrap_or_default();
        let message = e.message.clone().unwrap_or_default();
        let Some(kind) = change_kind_of(&reason, &message) else {
            report.skipped += 1;
            continue;
        };
        let at = [&e.event_time, &e.last_timestamp, &e.first_timestamp, &e.metadata.creation_timestamp]
            .into_iter()
            .flatten()
            .find_map(|t| Timestamp::parse_rfc3339(t).ok());
        let Some(at) = at else {
            report.skip(&loc, format_args!("{reason} event without a usable timestamp"));
            continue;
        };
        let Some(service) = e.involved_object.name.clone() else {
            report.skip(&loc, format_args!("{reason} event without involvedObject.name"));
            continue;
        };
        let ns = e.metadata.namespace.or(e.involved_object.namespace).unwrap_or_else(|| "default".into());
        let name = e.metadata.name.or(e.metadata.uid).unwrap_or_else(|| format!("{i}"));
        let to = REVISION
            .as_ref()
            .and_then(|r| r.captures(&message))
            .and_then(|c| c.name("r"))
            .map(|m| m.as_str().to_string());
        let component = e.source.and_then(|s| s.component).or(e.reporting_component);
        out.push(ChangeEvent {
            id: format!("k8s:{ns}/{name}"),
            at,
            service,
            kind,
            from: None,
            to,
            source: Some(component.unwrap_or_else(|| "kubernetes".into())),
            author: None,
            description: Some(format!(
                "{} {}: {reason}: {message}",
                e.involved_object.kind.as_deref().unwrap_or("object"),
                e.involved_object.name.as_deref().unwrap_or("?")
            )),
        });
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
    fn decodes_change_events_only() {
        let j = r#"{"apiVersion":"v1","kind":"EventList","metadata":{"resourceVersion":"1"},"items":[
          {"metadata":{"name":"cart.17a1","namespace":"shop"},"involvedObject":{"kind":"Deployment","name":"cart","namespace":"shop"},
           "reason":"ScalingReplicaSet","message":"Scaled up replica set cart-7d9f to 3","source":{"component":"deployment-controller"},
           "firstTimestamp":"2026-11-02T14:00:00Z","lastTimestamp":"2026-11-02T14:00:01Z","type":"Normal","count":1},
          {"metadata":{"name":"cart.17a2","namespace":"shop"},"involvedObject":{"kind":"Pod","name":"cart-1"},"reason":"Pulled","message":"pulled",
           "firstTimestamp":"2026-11-02T14:00:02Z"},
          {"metadata":{"name":"payments.1","namespace":"flux-system"},"involvedObject":{"kind":"HelmRelease","name":"payments"},"reason":"UpgradeSucceeded",
           "message":"Helm upgrade succeeded for release shop/payments.v7 with chart payments@1.4.2","eventTime":"2026-11-02T14:01:00.000000Z","reportingComponent":"helm-controller"},
          {"metadata":{"name":"apps.2","namespace":"flux-system"},"involvedObject":{"kind":"Kustomization","name":"apps"},"reason":"ReconciliationSucceeded",
           "message":"Reconciliation finished in 2s, next run in 10m0s revision main@sha1:0a1b2c","lastTimestamp":"2026-11-02T14:02:00Z"}]}"#;
        let d = decode_fixture(SourceFormat::K8sEvents, j.as_bytes()).unwrap();
        let Records::Changes(c) = d.records else { panic!() };
        assert_eq!(c.len(), 3);
        assert_eq!(d.report.skipped, 1);
        assert_eq!(c[0].kind, ChangeKind::Scale);
        assert_eq!(c[1].service, "payments");
        assert_eq!(c[2].to.as_deref(), Some("main@sha1:0a1b2c"));
        assert!(decode_fixture(SourceFormat::K8sEvents, b"{\"items\":3}").is_err());
    }
}
