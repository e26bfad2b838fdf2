//! Gatekeeper: ConstraintTemplates, Constraints and `gator verify` suites.
//!
//! A [`Template`] holds a ConstraintTemplate's Rego (its `spec.targets[].rego` and `libs`),
//! compiled once as Rego v0. A [`Constraint`] names the template by kind, selects objects with
//! `spec.match` and passes `spec.parameters`. Reviewing an object builds Gatekeeper's input
//! document, `{"review": {"kind", "name", "namespace", "operation", "object", ...},
//! "parameters"}`, with the inventory under `data.inventory`, and collects the set
//! `data.<package>.violation`.
//!
//! [`verify_suite`] runs a `gator verify` suite (`kind: Suite`): every case's object is reviewed
//! against its test's constraint and each assertion (`violations: yes|no|N`, with an optional
//! `message` substring) is checked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Document, Evaluator, PolicyError, Prepared, Rego, RegoVersion, files_under, read_documents};

/// A compiled ConstraintTemplate.
#[derive(Debug, Clone)]
pub struct Template {
    /// `metadata.name`.
    pub name: String,
    /// The constraint kind it defines (`spec.crd.spec.names.kind`).
    pub kind: String,
    /// The Rego package of its main module, as `data.<package>`.
    pub package: String,
    /// The file it came from.
    pub path: PathBuf,
    rego: Rego,
}

impl Template {
    /// Reads and compiles the ConstraintTemplate in `path`.
    ///
    /// # Errors
    /// A [`PolicyError`] naming the file and field when it is not a ConstraintTemplate, and
    /// naming the module when its Rego does not compile.
    pub fn read(path: &Path) -> Result<Self, PolicyError> {
        let docs = read_documents(path)?;
        let doc = docs
            .into_iter()
            .find(|d| d.value.get("kind").and_then(Value::as_str) == Some("ConstraintTemplate"))
            .ok_or_else(|| field_err(path, "kind", "no ConstraintTemplate in the file"))?;
        Self::from_document(&doc)
    }

    /// Compiles a ConstraintTemplate document.
    ///
    /// # Errors
    /// As for [`Template::read`].
    pub fn from_document(doc: &Document) -> Result<Self, PolicyError> {
        let path = &doc.path;
        let v = &doc.value;
        let name = str_at(v, &["metadata", "name"]).ok_or_else(|| field_err(path, "metadata.name", "missing"))?;
        let kind = str_at(v, &["spec", "crd", "spec", "names", "kind"])
            .ok_or_else(|| field_err(path, "spec.crd.spec.names.kind", "missing"))?;
        let targets = v
            .pointer("/spec/targets")
            .and_then(Value::as_array)
            .ok_or_else(|| field_err(path, "spec.targets", "missing"))?;
        // Two layouts: `targets[].rego` and `libs`, and (Gatekeeper 3.15+, next to CEL)
        // `targets[].code[]` with `engine: Rego` and `source.rego` / `source.libs`.
        let mut found = None;
        for (i, t) in targets.iter().enumerate() {
            if t.get("rego").is_some() {
                found = Some((t, format!("spec.targets[{i}]")));
                break;
            }
            let code = t.get("code").and_then(Value::as_array).into_iter().flatten().enumerate();
            if let Some((j, c)) =
                code.into_iter().find(|(_, c)| c.get("engine").and_then(Value::as_str) == Some("Rego"))
            {
                let source = c
                    .get("source")
                    .ok_or_else(|| field_err(path, &format!("spec.targets[{i}].code[{j}].source"), "missing"))?;
                found = Some((source, format!("spec.targets[{i}].code[{j}].source")));
                break;
            }
        }
        let (source, at) = found.ok_or_else(|| {
            field_err(path, "spec.targets[].rego", "no Rego in any target (a CEL-only template is not supported)")
        })?;
        let rego = source
            .get("rego")
            .and_then(Value::as_str)
            .ok_or_else(|| field_err(path, &format!("{at}.rego"), "missing or not a string"))?;
        let mut modules = vec![(path.join("rego"), rego.to_owned())];
        if let Some(libs) = source.get("libs").and_then(Value::as_array) {
            for (j, lib) in libs.iter().enumerate() {
                let src = lib.as_str().ok_or_else(|| field_err(path, &format!("{at}.libs[{j}]"), "not a string"))?;
                modules.push((path.join(format!("libs[{j}]")), src.to_owned()));
            }
        }
        let rego = Rego::compile(&modules, RegoVersion::V0)?;
        // The package of the main module, as regorus parsed it (`data.<name>`).
        let package = rego
            .modules()
            .first()
            .map(|(_, pkg)| pkg.clone())
            .ok_or_else(|| field_err(path, &format!("{at}.rego"), "no module"))?;
        Ok(Self { name: name.to_owned(), kind: kind.to_owned(), package, path: path.clone(), rego })
    }

    /// Reviews `review` (see [`Review`]) under `constraint`, with `inventory` as
    /// `data.inventory`. Objects the constraint does not match have no violations.
    ///
    /// # Errors
    /// [`PolicyError::Eval`] when the Rego fails, or when the constraint's match needs what is
    /// not known (a `namespaceSelector` without the Namespace in the inventory).
    pub fn review(
        &self,
        constraint: &Constraint,
        review: &Review,
        inventory: &Inventory,
    ) -> Result<Vec<Violation>, PolicyError> {
        if !constraint.matches(review, inventory)? {
            return Ok(Vec::new());
        }
        self.violations(constraint, review, inventory)
    }

    /// As [`Template::review`], without the match (the constraint is taken to apply).
    ///
    /// # Errors
    /// [`PolicyError::Eval`] when the Rego fails.
    pub fn violations(
        &self,
        constraint: &Constraint,
        review: &Review,
        inventory: &Inventory,
    ) -> Result<Vec<Violation>, PolicyError> {
        let mut ev = self.evaluator(inventory)?;
        let (review, parameters) = (Prepared::new(&review.to_value()), Prepared::new(&constraint.parameters));
        self.violations_prepared(&mut ev, constraint, &review, &parameters)
    }

    /// An evaluator of the template's Rego with `inventory` as `data.inventory`, for
    /// [`Template::violations_prepared`] over many objects and constraints.
    ///
    /// # Errors
    /// [`PolicyError::Eval`] when the inventory cannot be added.
    pub fn evaluator(&self, inventory: &Inventory) -> Result<Evaluator, PolicyError> {
        let mut ev = self.rego.evaluator();
        if !inventory.is_empty() {
            ev.add_data(&json!({"inventory": inventory.to_value()}))?;
        }
        Ok(ev)
    }

    /// As [`Template::violations`], with an evaluator from [`Template::evaluator`] and the
    /// review document (from [`Review::to_value`]) and the constraint's parameters already
    /// prepared: a batch over many objects and constraints converts each once.
    ///
    /// # Errors
    /// [`PolicyError::Eval`] when the Rego fails.
    pub fn violations_prepared(
        &self,
        ev: &mut Evaluator,
        constraint: &Constraint,
        review: &Prepared,
        parameters: &Prepared,
    ) -> Result<Vec<Violation>, PolicyError> {
        ev.set_prepared_input(&Prepared::object(&[("review", review), ("parameters", parameters)]));
        let rule = format!("{}.violation", self.package);
        let found = ev.eval_rule(&rule)?;
        let mut out = Vec::new();
        for item in found.as_ref().and_then(Value::as_array).into_iter().flatten() {
            let msg =
                item.get("msg").map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_owned)).unwrap_or_default();
            out.push(Violation {
                constraint: constraint.name.clone(),
                constraint_kind: constraint.kind.clone(),
                template: self.name.clone(),
                msg,
                details: item.get("details").cloned().unwrap_or(Value::Null),
                enforcement_action: constraint.enforcement_action.clone(),
            });
        }
        if let Some(other) = found.filter(|f| !f.is_array()) {
            return Err(PolicyError::Eval { query: rule, message: format!("`violation` is not a set: {other}") });
        }
        Ok(out)
    }
}

/// One violation found by a constraint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// The constraint's name.
    pub constraint: String,
    /// The constraint's kind (the template's CRD kind).
    pub constraint_kind: String,
    /// The template's name.
    pub template: String,
    /// The violation's message.
    pub msg: String,
    /// Its `details`, if any.
    pub details: Value,
    /// The constraint's `enforcementAction` (`deny` by default, `dryrun`, `warn`).
    pub enforcement_action: String,
}

/// A Constraint: which template (by kind), which objects, which parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Constraint {
    /// Its kind, naming the template.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `spec.match`.
    pub matcher: Match,
    /// `spec.parameters` (null when absent).
    pub parameters: Value,
    /// `spec.enforcementAction`, `deny` by default.
    pub enforcement_action: String,
}

impl Constraint {
    /// Reads the first Constraint document of `path`.
    ///
    /// # Errors
    /// A [`PolicyError`] naming the file and field.
    pub fn read(path: &Path) -> Result<Self, PolicyError> {
        let docs = read_documents(path)?;
        let doc = docs.first().ok_or_else(|| field_err(path, "kind", "the file holds no document"))?;
        Self::from_document(doc)
    }

    /// A Constraint from its document.
    ///
    /// # Errors
    /// A [`PolicyError`] naming the file and field.
    pub fn from_document(doc: &Document) -> Result<Self, PolicyError> {
        let path = &doc.path;
        let v = &doc.value;
        let kind = str_at(v, &["kind"]).ok_or_else(|| field_err(path, "kind", "missing"))?;
        let name = str_at(v, &["metadata", "name"]).ok_or_else(|| field_err(path, "metadata.name", "missing"))?;
        let matcher = match v.pointer("/spec/match") {
            None | Some(Value::Null) => Match::default(),
            Some(m) => serde_json::from_value(m.clone()).map_err(|e| field_err(path, "spec.match", &e.to_string()))?,
        };
        Ok(Self {
            kind: kind.to_owned(),
            name: name.to_owned(),
            matcher,
            parameters: v.pointer("/spec/parameters").cloned().unwrap_or(Value::Null),
            enforcement_action: str_at(v, &["spec", "enforcementAction"]).unwrap_or("deny").to_owned(),
        })
    }

    /// Whether `spec.match` selects the reviewed object.
    ///
    /// # Errors
    /// [`PolicyError::Eval`] when a `namespaceSelector` needs a Namespace the inventory lacks.
    pub fn matches(&self, review: &Review, inventory: &Inventory) -> Result<bool, PolicyError> {
        self.matcher
            .matches(review, inventory)
            .map_err(|message| PolicyError::Eval { query: format!("{}/{} spec.match", self.kind, self.name), message })
    }
}

/// A Constraint's `spec.match`, with Gatekeeper's semantics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Match {
    /// Kinds selected; empty selects every kind.
    pub kinds: Vec<KindSelector>,
    /// `*` (default), `Cluster` or `Namespaced`.
    pub scope: Option<String>,
    /// Namespaces selected (a trailing or leading `*` is a glob); empty selects all.
    pub namespaces: Vec<String>,
    /// Namespaces never selected.
    pub excluded_namespaces: Vec<String>,
    /// Labels the object must carry.
    pub label_selector: Option<LabelSelector>,
    /// Labels the object's Namespace must carry.
    pub namespace_selector: Option<LabelSelector>,
    /// The object's name (a trailing or leading `*` is a glob).
    pub name: Option<String>,
}

/// One entry of `spec.match.kinds`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KindSelector {
    /// API groups (`""` is the core group, `*` any).
    pub api_groups: Vec<String>,
    /// Kinds (`*` any).
    pub kinds: Vec<String>,
}

/// A Kubernetes label selector.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LabelSelector {
    /// Labels that must equal the given values.
    pub match_labels: BTreeMap<String, String>,
    /// Set-based requirements.
    pub match_expressions: Vec<LabelRequirement>,
}

/// One `matchExpressions` requirement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LabelRequirement {
    /// The label.
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: String,
    /// Values for `In` and `NotIn`.
    pub values: Vec<String>,
}

impl LabelSelector {
    /// Whether `labels` satisfy the selector.
    ///
    /// # Errors
    /// The message for an unknown operator.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> Result<bool, String> {
        if self.match_labels.iter().any(|(k, v)| labels.get(k) != Some(v)) {
            return Ok(false);
        }
        for r in &self.match_expressions {
            let have = labels.get(&r.key);
            let ok = match r.operator.as_str() {
                "In" => have.is_some_and(|v| r.values.contains(v)),
                "NotIn" => have.is_none_or(|v| !r.values.contains(v)),
                "Exists" => have.is_some(),
                "DoesNotExist" => have.is_none(),
                other => return Err(format!("unknown label selector operator `{other}`")),
            };
            if !ok {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

fn glob_match(pattern: &str, s: &str) -> bool {
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        _ if pattern == "*" => true,
        (Some(suffix), _) => s.ends_with(suffix),
        (None, Some(prefix)) => s.starts_with(prefix),
        (None, None) => pattern == s,
    }
}

impl Match {
    /// Whether the reviewed object is selected.
    ///
    /// # Errors
    /// A message when a `namespaceSelector` needs a Namespace the inventory lacks, or a label
    /// selector has an unknown operator.
    pub fn matches(&self, review: &Review, inventory: &Inventory) -> Result<bool, String> {
        let (group, _version) = review.group_version();
        let kind = review.kind();
        if !self.kinds.is_empty()
            && !self.kinds.iter().any(|k| {
                (k.api_groups.is_empty() || k.api_groups.iter().any(|g| g == "*" || *g == group))
                    && (k.kinds.is_empty() || k.kinds.iter().any(|x| x == "*" || *x == kind))
            })
        {
            return Ok(false);
        }
        let namespace = review.namespace();
        let is_namespace = kind == "Namespace" && group.is_empty();
        // The namespace an object's namespace criteria look at: a Namespace's own name.
        let ns = if is_namespace { Some(review.name().to_owned()) } else { namespace.clone() };
        match self.scope.as_deref() {
            None | Some("*") => {}
            Some("Cluster") if namespace.is_some() => return Ok(false),
            Some("Namespaced") if namespace.is_none() => return Ok(false),
            Some("Cluster" | "Namespaced") => {}
            Some(other) => return Err(format!("unknown scope `{other}`")),
        }
        if let Some(ns) = &ns {
            if !self.namespaces.is_empty() && !self.namespaces.iter().any(|p| glob_match(p, ns)) {
                return Ok(false);
            }
            if self.excluded_namespaces.iter().any(|p| glob_match(p, ns)) {
                return Ok(false);
            }
        }
        if let Some(name) = &self.name
            && !glob_match(name, review.name())
        {
            return Ok(false);
        }
        if let Some(sel) = &self.label_selector
            && !sel.matches(&labels_of(&review.object))?
        {
            return Ok(false);
        }
        if let Some(sel) = &self.namespace_selector {
            let ns_labels = if is_namespace {
                labels_of(&review.object)
            } else if let Some(ns) = &ns {
                let obj = inventory
                    .get_cluster("v1", "Namespace", ns)
                    .ok_or_else(|| format!("namespaceSelector needs Namespace `{ns}`, which the inventory lacks"))?;
                labels_of(obj)
            } else {
                // Cluster-scoped objects are not filtered by namespace criteria.
                return Ok(true);
            };
            if !sel.matches(&ns_labels)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

fn labels_of(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect())
        .unwrap_or_default()
}

/// What Gatekeeper reviews: an object, the operation and, for an update, the old object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    /// `CREATE`, `UPDATE` or `DELETE`.
    pub operation: String,
    /// The object.
    pub object: Value,
    /// The object before an update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_object: Option<Value>,
    /// Who made the request (`userInfo`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_info: Option<Value>,
}

impl Review {
    /// A CREATE of `object`.
    #[must_use]
    pub fn create(object: Value) -> Self {
        Self { operation: "CREATE".to_owned(), object, old_object: None, user_info: None }
    }

    /// The review of a document: an `AdmissionReview` gives its request (operation, object,
    /// old object, user), anything else is a CREATE of the document.
    #[must_use]
    pub fn of_document(value: &Value) -> Self {
        if value.get("kind").and_then(Value::as_str) == Some("AdmissionReview")
            && let Some(req) = value.get("request")
        {
            return Self {
                operation: req.get("operation").and_then(Value::as_str).unwrap_or("CREATE").to_owned(),
                object: req.get("object").cloned().unwrap_or(Value::Null),
                old_object: req.get("oldObject").cloned(),
                user_info: req.get("userInfo").cloned(),
            };
        }
        Self::create(value.clone())
    }

    fn group_version(&self) -> (String, String) {
        let api = self.object.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        match api.split_once('/') {
            Some((g, v)) => (g.to_owned(), v.to_owned()),
            None => (String::new(), api.to_owned()),
        }
    }

    fn kind(&self) -> &str {
        self.object.get("kind").and_then(Value::as_str).unwrap_or("")
    }

    fn name(&self) -> &str {
        self.object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("")
    }

    fn namespace(&self) -> Option<String> {
        self.object.pointer("/metadata/namespace").and_then(Value::as_str).map(str::to_owned)
    }

    /// Gatekeeper's `input.review` document.
    #[must_use]
    pub fn to_value(&self) -> Value {
        let (group, version) = self.group_version();
        let mut review = json!({
            "kind": {"group": group, "version": version, "kind": self.kind()},
            "name": self.name(),
            "operation": self.operation,
            "object": self.object,
        });
        if let Some(map) = review.as_object_mut() {
            if let Some(ns) = self.namespace() {
                map.insert("namespace".to_owned(), Value::String(ns));
            }
            if let Some(old) = &self.old_object {
                map.insert("oldObject".to_owned(), old.clone());
            }
            if let Some(user) = &self.user_info {
                map.insert("userInfo".to_owned(), user.clone());
            }
        }
        review
    }
}

/// Objects known to the cluster, as Gatekeeper syncs them into `data.inventory`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    root: serde_json::Map<String, Value>,
}

impl Inventory {
    /// An empty inventory.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `object`: namespaced ones under `namespace[ns][groupVersion][kind][name]`,
    /// cluster-scoped ones under `cluster[groupVersion][kind][name]`.
    pub fn add(&mut self, object: &Value) {
        let gv = object.get("apiVersion").and_then(Value::as_str).unwrap_or("").to_owned();
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or("").to_owned();
        let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_owned();
        let path: Vec<String> = match object.pointer("/metadata/namespace").and_then(Value::as_str) {
            Some(ns) => vec!["namespace".to_owned(), ns.to_owned(), gv, kind, name],
            None => vec!["cluster".to_owned(), gv, kind, name],
        };
        let mut map = &mut self.root;
        let (last, parents) = match path.split_last() {
            Some(x) => x,
            None => return,
        };
        for key in parents {
            let entry = map.entry(key.clone()).or_insert_with(|| Value::Object(serde_json::Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(serde_json::Map::new());
            }
            map = match entry.as_object_mut() {
                Some(m) => m,
                None => return,
            };
        }
        map.insert(last.clone(), object.clone());
    }

    /// Whether nothing was added.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.root.is_empty()
    }

    /// The cluster-scoped object of that group/version, kind and name.
    #[must_use]
    pub fn get_cluster(&self, group_version: &str, kind: &str, name: &str) -> Option<&Value> {
        self.root.get("cluster")?.get(group_version)?.get(kind)?.get(name)
    }

    /// The `data.inventory` document.
    #[must_use]
    pub fn to_value(&self) -> Value {
        Value::Object(self.root.clone())
    }
}

/// Whether an assertion held, and why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseResult {
    /// The suite file.
    pub suite: PathBuf,
    /// The test's name.
    pub test: String,
    /// The case's name.
    pub case: String,
    /// Whether every assertion held.
    pub passed: bool,
    /// What failed: an assertion not met, a file that did not load, an evaluation error.
    pub failures: Vec<String>,
}

/// The results of one or more suites.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuiteReport {
    /// Every case, in suite order.
    pub cases: Vec<CaseResult>,
}

impl SuiteReport {
    /// Cases that passed.
    #[must_use]
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.passed).count()
    }

    /// Cases that failed.
    #[must_use]
    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed()
    }
}

#[derive(Debug, Deserialize)]
struct SuiteFile {
    kind: String,
    #[serde(default)]
    tests: Vec<SuiteTest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteTest {
    name: String,
    template: String,
    constraint: String,
    #[serde(default)]
    cases: Vec<SuiteCase>,
    #[serde(default)]
    skip: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteCase {
    name: String,
    object: String,
    #[serde(default)]
    inventory: Vec<String>,
    #[serde(default)]
    assertions: Vec<Assertion>,
    #[serde(default)]
    skip: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Assertion {
    violations: Option<Value>,
    message: Option<String>,
}

/// Runs every suite under `path` (a `suite.yaml` file, or a directory searched for files named
/// `suite.yaml`, the layout of the Gatekeeper library).
///
/// # Errors
/// [`PolicyError`] when `path` cannot be read or holds no suite. Problems inside a suite (a
/// template that does not compile, a missing object) fail its cases and are reported in them.
pub fn verify_path(path: &Path) -> Result<SuiteReport, PolicyError> {
    let suites: Vec<PathBuf> = if path.is_dir() {
        files_under(path, &["yaml", "yml"])?
            .into_iter()
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("suite.")))
            .collect()
    } else {
        vec![path.to_path_buf()]
    };
    if suites.is_empty() {
        return Err(field_err(path, "kind", "no suite.yaml found"));
    }
    let mut report = SuiteReport::default();
    for suite in suites {
        report.cases.extend(verify_suite(&suite)?.cases);
    }
    Ok(report)
}

/// Runs one `gator verify` suite file.
///
/// # Errors
/// [`PolicyError`] when the file is not a Suite. A test whose template or constraint does not
/// load fails each of its cases with the reason.
pub fn verify_suite(path: &Path) -> Result<SuiteReport, PolicyError> {
    let docs = read_documents(path)?;
    let doc = docs.first().ok_or_else(|| field_err(path, "kind", "empty file"))?;
    let suite: SuiteFile =
        serde_json::from_value(doc.value.clone()).map_err(|e| field_err(path, "tests", &e.to_string()))?;
    if suite.kind != "Suite" {
        return Err(field_err(path, "kind", &format!("expected `Suite`, found `{}`", suite.kind)));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut report = SuiteReport::default();
    for test in suite.tests.iter().filter(|t| !t.skip) {
        let loaded = Template::read(&dir.join(&test.template))
            .and_then(|t| Constraint::read(&dir.join(&test.constraint)).map(|c| (t, c)));
        for case in test.cases.iter().filter(|c| !c.skip) {
            let failures = match &loaded {
                Err(e) => vec![format!("loading the test: {e}")],
                Ok((template, constraint)) => run_case(dir, template, constraint, case),
            };
            report.cases.push(CaseResult {
                suite: path.to_path_buf(),
                test: test.name.clone(),
                case: case.name.clone(),
                passed: failures.is_empty(),
                failures,
            });
        }
    }
    Ok(report)
}

fn run_case(dir: &Path, template: &Template, constraint: &Constraint, case: &SuiteCase) -> Vec<String> {
    let mut failures = Vec::new();
    if template.kind != constraint.kind {
        failures.push(format!("the constraint's kind `{}` is not the template's `{}`", constraint.kind, template.kind));
        return failures;
    }
    let object = match read_documents(&dir.join(&case.object)) {
        Ok(docs) => match docs.into_iter().next() {
            Some(d) => d.value,
            None => return vec![format!("{}: no document", case.object)],
        },
        Err(e) => return vec![e.to_string()],
    };
    let mut inventory = Inventory::new();
    for inv in &case.inventory {
        match read_documents(&dir.join(inv)) {
            Ok(docs) => docs.iter().for_each(|d| inventory.add(&d.value)),
            Err(e) => return vec![e.to_string()],
        }
    }
    let violations = match template.review(constraint, &Review::of_document(&object), &inventory) {
        Ok(v) => v,
        Err(e) => return vec![e.to_string()],
    };
    for (i, a) in case.assertions.iter().enumerate() {
        let counted =
            violations.iter().filter(|v| a.message.as_ref().is_none_or(|m| v.msg.contains(m.as_str()))).count();
        let ok = match &a.violations {
            None => counted >= 1,
            Some(Value::Bool(b)) => (counted >= 1) == *b,
            Some(Value::String(s)) if s == "yes" => counted >= 1,
            Some(Value::String(s)) if s == "no" => counted == 0,
            Some(Value::Number(n)) => n.as_u64().is_some_and(|n| n as usize == counted),
            Some(other) => {
                failures.push(format!("assertion {i}: `violations: {other}` is not yes, no or a number"));
                continue;
            }
        };
        if !ok {
            let want = a
                .violations
                .as_ref()
                .map_or_else(|| "yes".to_owned(), |v| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
            let msgs: Vec<&str> = violations.iter().map(|v| v.msg.as_str()).collect();
            failures.push(format!(
                "assertion {i}: expected violations {want}{}, got {counted} (messages: {msgs:?})",
                a.message.as_ref().map(|m| format!(" with message containing {m:?}")).unwrap_or_default()
            ));
        }
    }
    failures
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

fn field_err(path: &Path, field: &str, message: &str) -> PolicyError {
    PolicyError::Field { path: path.to_path_buf(), field: field.to_owned(), message: message.to_owned() }
}
