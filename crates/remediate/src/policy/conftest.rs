//! conftest's conventions over Rego policies.
//!
//! Policies are `.rego` files (files ending `_test.rego` are left out); the namespace queried is
//! `main` unless others are named. In each namespace the rules `deny`, `violation` and `warn`,
//! and those names followed by `_suffix` parts (`deny_latest_tag`), give findings: each value
//! of the set is a message string or an object with `msg` (its other fields are kept as
//! metadata); a complete rule that is `true` is one finding. `deny` and `violation` are
//! failures, `warn` warnings. `exception[rules]` rules turn the failures of the named rules
//! (the name without its `deny_`/`violation_`/`warn_` prefix) into exceptions for that input.
//!
//! A namespace that no policy declares, or that declares no such rule, is an error: a mistyped
//! package must not pass everything.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Document, Evaluator, PolicyError, Rego, RegoVersion, files_under};

/// How policies are found and queried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConftestConfig {
    /// Namespaces (packages) to query; `main` by default.
    pub namespaces: Vec<String>,
    /// Query every package that has deny, violation or warn rules instead.
    pub all_namespaces: bool,
    /// The Rego syntax of the modules.
    pub rego_version: RegoVersion,
    /// Test all documents together as one input (`[{"path", "contents"}]`), as `--combine`.
    pub combine: bool,
}

impl Default for ConftestConfig {
    fn default() -> Self {
        Self {
            namespaces: vec!["main".to_owned()],
            all_namespaces: false,
            rego_version: RegoVersion::Auto,
            combine: false,
        }
    }
}

impl ConftestConfig {
    /// Queries these namespaces.
    #[must_use]
    pub fn with_namespaces(mut self, namespaces: Vec<String>) -> Self {
        self.namespaces = namespaces;
        self
    }

    /// Queries every namespace with rules.
    #[must_use]
    pub fn with_all_namespaces(mut self, yes: bool) -> Self {
        self.all_namespaces = yes;
        self
    }

    /// Sets the Rego syntax.
    #[must_use]
    pub fn with_rego_version(mut self, version: RegoVersion) -> Self {
        self.rego_version = version;
        self
    }

    /// Tests all documents as one input.
    #[must_use]
    pub fn with_combine(mut self, yes: bool) -> Self {
        self.combine = yes;
        self
    }
}

/// Whether a finding fails the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// From `deny` or `violation` rules.
    Failure,
    /// From `warn` rules.
    Warning,
    /// A failure or warning that an `exception` rule lifts.
    Exception,
}

/// One message from one rule for one input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The input (`file` or `file#index`).
    pub input: String,
    /// The package, as `data.<name>`.
    pub namespace: String,
    /// The rule (`deny_latest_tag`).
    pub rule: String,
    /// The policy file declaring the namespace.
    pub policy: PathBuf,
    /// The message.
    pub msg: String,
    /// The rule's other fields, when it returned an object.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub metadata: Value,
    /// Failure, warning or exception.
    pub severity: Severity,
}

/// A namespace and the rules conftest reads in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    /// `data.<name>`.
    pub package: String,
    /// The first file declaring it.
    pub policy: PathBuf,
    /// Its deny, violation and warn rules.
    pub rules: Vec<String>,
    /// Whether it has `exception` rules.
    pub has_exceptions: bool,
}

/// Policies loaded and compiled once, ready to test any number of inputs.
#[derive(Debug, Clone)]
pub struct Conftest {
    rego: Rego,
    namespaces: Vec<Namespace>,
    combine: bool,
}

/// Whether a rule name is one conftest reads, and whether its findings are failures.
fn rule_severity(name: &str) -> Option<Severity> {
    let (prefix, rest) = ["deny", "violation", "warn"].iter().find_map(|p| name.strip_prefix(p).map(|r| (*p, r)))?;
    let suffix_ok = rest.is_empty()
        || rest.strip_prefix('_').is_some_and(|r| {
            r.split('_').all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()))
        });
    suffix_ok.then_some(if prefix == "warn" { Severity::Warning } else { Severity::Failure })
}

/// The name an exception uses for a rule (its name without the `deny_`-style prefix).
fn exception_name(rule: &str) -> &str {
    ["deny_", "violation_", "warn_"].iter().find_map(|p| rule.strip_prefix(p)).unwrap_or(rule)
}

impl Conftest {
    /// Loads every `.rego` file under `paths` (files or directories; `_test.rego` files are
    /// skipped) and resolves the namespaces to query.
    ///
    /// # Errors
    /// [`PolicyError::Compile`] when a module does not compile, [`PolicyError::Field`] when no
    /// policy is found, a named namespace is not declared, or has no deny, violation or warn
    /// rule.
    pub fn load(paths: &[PathBuf], config: &ConftestConfig) -> Result<Self, PolicyError> {
        let mut modules = Vec::new();
        for path in paths {
            for file in files_under(path, &["rego"])? {
                if file.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with("_test.rego")) {
                    continue;
                }
                let src =
                    std::fs::read_to_string(&file).map_err(|source| PolicyError::Io { path: file.clone(), source })?;
                modules.push((file, src));
            }
        }
        Self::from_modules(&modules, config, paths.first().map_or(Path::new("."), PathBuf::as_path))
    }

    /// As [`Conftest::load`], from modules in memory; `origin` names them in errors.
    ///
    /// # Errors
    /// As for [`Conftest::load`].
    pub fn from_modules(
        modules: &[(PathBuf, String)],
        config: &ConftestConfig,
        origin: &Path,
    ) -> Result<Self, PolicyError> {
        let missing =
            |message: String| PolicyError::Field { path: origin.to_path_buf(), field: "package".to_owned(), message };
        if modules.is_empty() {
            return Err(missing("no .rego policy found".to_owned()));
        }
        let rego = Rego::compile(modules, config.rego_version)?;
        // Each package with the first file (in path order) declaring it.
        let declared: Vec<(String, PathBuf)> = {
            let mut d: Vec<(String, PathBuf)> =
                rego.modules().iter().map(|(p, pkg)| (pkg.clone(), p.clone())).collect();
            d.sort();
            d.dedup_by(|a, b| a.0 == b.0);
            d
        };
        let namespace = |package: &str, policy: &Path| {
            let names = rego.rule_names(package);
            Namespace {
                package: package.to_owned(),
                policy: policy.to_path_buf(),
                has_exceptions: names.iter().any(|n| n == "exception"),
                rules: names.into_iter().filter(|n| rule_severity(n).is_some()).collect(),
            }
        };
        let mut namespaces = Vec::new();
        if config.all_namespaces {
            namespaces.extend(declared.iter().map(|(pkg, p)| namespace(pkg, p)).filter(|n| !n.rules.is_empty()));
            if namespaces.is_empty() {
                return Err(missing("no package has a deny, violation or warn rule".to_owned()));
            }
        } else {
            for ns in &config.namespaces {
                let pkg = format!("data.{ns}");
                let Some((_, policy)) = declared.iter().find(|(d, _)| *d == pkg) else {
                    let known: Vec<&str> = declared.iter().map(|(d, _)| d.trim_start_matches("data.")).collect();
                    return Err(missing(format!("no policy declares package `{ns}` (declared: {})", known.join(", "))));
                };
                let n = namespace(&pkg, policy);
                if n.rules.is_empty() {
                    return Err(missing(format!(
                        "package `{ns}` ({}) has no deny, violation or warn rule, so it could never fail an input",
                        policy.display()
                    )));
                }
                namespaces.push(n);
            }
        }
        Ok(Self { rego, namespaces, combine: config.combine })
    }

    /// The namespaces queried, with their rules.
    #[must_use]
    pub fn namespaces(&self) -> &[Namespace] {
        &self.namespaces
    }

    /// Tests documents (each alone, or all together when combining).
    ///
    /// # Errors
    /// [`PolicyError::Eval`] when a rule fails to evaluate.
    pub fn test(&self, docs: &[Document]) -> Result<Vec<Finding>, PolicyError> {
        let mut ev = self.rego.evaluator();
        if self.combine {
            let input = Value::Array(docs.iter().map(|d| json!({"path": d.origin(), "contents": d.value})).collect());
            return self.test_with(&mut ev, "combined", &input);
        }
        let mut out = Vec::new();
        for d in docs {
            out.extend(self.test_with(&mut ev, &d.origin(), &d.value)?);
        }
        Ok(out)
    }

    /// Tests one input value, `name` naming it in findings.
    ///
    /// # Errors
    /// [`PolicyError::Eval`] when a rule fails to evaluate.
    pub fn test_input(&self, name: &str, input: &Value) -> Result<Vec<Finding>, PolicyError> {
        self.test_with(&mut self.rego.evaluator(), name, input)
    }

    fn test_with(&self, ev: &mut Evaluator, name: &str, input: &Value) -> Result<Vec<Finding>, PolicyError> {
        ev.set_input(input);
        let mut out = Vec::new();
        for ns in &self.namespaces {
            let excepted: Vec<String> = if ns.has_exceptions {
                let v = ev.eval_rule(&format!("{}.exception", ns.package))?;
                v.as_ref()
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .flat_map(|rules| rules.as_array().cloned().unwrap_or_default())
                    .filter_map(|r| r.as_str().map(str::to_owned))
                    .collect()
            } else {
                Vec::new()
            };
            for rule in &ns.rules {
                let Some(severity) = rule_severity(rule) else { continue };
                let value = ev.eval_rule(&format!("{}.{rule}", ns.package))?;
                let lifted = excepted.iter().any(|e| e == exception_name(rule));
                let severity = if lifted { Severity::Exception } else { severity };
                let finding = |msg: String, metadata: Value| Finding {
                    input: name.to_owned(),
                    namespace: ns.package.clone(),
                    rule: rule.clone(),
                    policy: ns.policy.clone(),
                    msg,
                    metadata,
                    severity,
                };
                match value {
                    None | Some(Value::Bool(false)) | Some(Value::Null) => {}
                    Some(Value::Bool(true)) => out.push(finding(rule.clone(), Value::Null)),
                    Some(Value::String(s)) => out.push(finding(s, Value::Null)),
                    Some(Value::Array(items)) => {
                        for item in items {
                            out.push(message_of(item, &finding));
                        }
                    }
                    Some(other @ Value::Object(_)) => out.push(message_of(other, &finding)),
                    Some(other) => {
                        return Err(PolicyError::Eval {
                            query: format!("{}.{rule}", ns.package),
                            message: format!("expected a set of messages, found {other}"),
                        });
                    }
                }
            }
        }
        Ok(out)
    }
}

fn message_of(item: Value, finding: &dyn Fn(String, Value) -> Finding) -> Finding {
    match item {
        Value::String(s) => finding(s, Value::Null),
        Value::Object(mut map) => {
            let msg = match map.remove("msg") {
                Some(Value::String(s)) => s,
                Some(other) => other.to_string(),
                None => Value::Object(map.clone()).to_string(),
            };
            let metadata = if map.is_empty() { Value::Null } else { Value::Object(map) };
            finding(msg, metadata)
        }
        other => finding(other.to_string(), Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conftest(src: &str, config: &ConftestConfig) -> Result<Conftest, PolicyError> {
        Conftest::from_modules(&[(PathBuf::from("policy/k8s.rego"), src.to_owned())], config, Path::new("policy"))
    }

    const POLICY: &str = r#"package main
import rego.v1

deny contains msg if {
  input.kind == "Deployment"
  not input.spec.template.spec.securityContext.runAsNonRoot
  msg := "containers must not run as root"
}

deny_latest_tag contains {"msg": msg, "container": c.name} if {
  some c in input.spec.template.spec.containers
  endswith(c.image, ":latest")
  msg := sprintf("%s uses the latest tag", [c.name])
}

warn contains "no team label" if not input.metadata.labels.team

exception contains rules if {
  input.metadata.name == "legacy"
  rules := ["latest_tag"]
}

helper := 1
"#;

    fn deployment(name: &str, image: &str) -> Value {
        json!({"kind": "Deployment", "metadata": {"name": name},
               "spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}})
    }

    #[test]
    fn rules_prefixes_suffixes_and_exceptions() {
        let c = conftest(POLICY, &ConftestConfig::default()).unwrap();
        assert_eq!(c.namespaces()[0].rules, ["deny", "deny_latest_tag", "warn"]);
        let f = c.test_input("a.yaml", &deployment("web", "nginx:latest")).unwrap();
        let sev: Vec<(&str, Severity)> = f.iter().map(|f| (f.rule.as_str(), f.severity)).collect();
        assert_eq!(
            sev,
            [("deny", Severity::Failure), ("deny_latest_tag", Severity::Failure), ("warn", Severity::Warning)]
        );
        assert_eq!(f[1].msg, "app uses the latest tag");
        assert_eq!(f[1].metadata, json!({"container": "app"}));
        let legacy = c.test_input("b.yaml", &deployment("legacy", "nginx:latest")).unwrap();
        assert_eq!(legacy[1].severity, Severity::Exception);
        assert_eq!(legacy[0].severity, Severity::Failure);
    }

    #[test]
    fn rule_names_follow_conftest() {
        for ok in ["deny", "violation", "warn", "deny_x", "warn_a_b2"] {
            assert!(rule_severity(ok).is_some(), "{ok}");
        }
        for no in ["denyx", "deny_", "deny__x", "allow", "exception", "deny_a-b"] {
            assert!(rule_severity(no).is_none(), "{no}");
        }
        assert_eq!(exception_name("violation_root"), "root");
        assert_eq!(exception_name("deny"), "deny");
    }

    #[test]
    fn a_mistyped_or_empty_namespace_is_an_error() {
        let e = conftest(POLICY, &ConftestConfig::default().with_namespaces(vec!["mian".into()])).unwrap_err();
        assert!(e.to_string().contains("no policy declares package `mian` (declared: main)"), "{e}");
        let e = conftest("package main\nallow := true\n", &ConftestConfig::default()).unwrap_err();
        assert!(e.to_string().contains("could never fail"), "{e}");
        assert!(Conftest::from_modules(&[], &ConftestConfig::default(), Path::new("p")).is_err());
    }

    #[test]
    fn v0_policies_and_boolean_rules() {
        let c = conftest("package main\ndeny { input.replicas > 10 }\n", &ConftestConfig::default()).unwrap();
        assert_eq!(c.test_input("x", &json!({"replicas": 20})).unwrap().len(), 1);
        assert!(c.test_input("x", &json!({"replicas": 2})).unwrap().is_empty());
    }

    #[test]
    fn combine_tests_all_documents_as_one_input() {
        let src = "package main\nimport rego.v1\ndeny contains \"two deployments\" if count([d | some d in input; d.contents.kind == \"Deployment\"]) > 1\n";
        let c = conftest(src, &ConftestConfig::default().with_combine(true)).unwrap();
        let docs: Vec<Document> = (0..2)
            .map(|i| Document { path: "m.yaml".into(), index: i, line: 1, value: deployment("w", "x:1") })
            .collect();
        assert_eq!(c.test(&docs).unwrap()[0].input, "combined");
    }
}
