//! Policy evaluation: Rego through regorus, with Gatekeeper and conftest conventions.
//!
//! - [`Rego`]: a set of Rego modules parsed and prepared once, cloned for each evaluation.
//! - [`gatekeeper`]: ConstraintTemplates and Constraints with Gatekeeper's semantics (the
//!   review document, `spec.match`, `data.inventory`), and `gator verify` suites.
//! - [`conftest`]: conftest's conventions (`package main`, `deny`/`violation`/`warn` rules and
//!   their `_suffix` forms, exceptions, namespaces) over manifests, Terraform plans and our plans.
//! - [`compat`]: source rewrites for where regorus differs from OPA.
//!
//! Everything here fails closed: a file that does not parse, a policy that does not compile or
//! an evaluation error is a [`PolicyError`], which the preflight gate turns into a block.

pub mod compat;
pub mod conftest;
pub mod gatekeeper;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why a policy or one of its inputs could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A YAML or JSON document did not parse.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The line, when known.
        line: Option<usize>,
        /// What was wrong.
        message: String,
    },
    /// A document parsed but a field is missing or wrong.
    #[error("{}: field `{field}`: {message}", path.display())]
    Field {
        /// The file.
        path: PathBuf,
        /// The field's path (`spec.targets[0].rego`).
        field: String,
        /// What was wrong.
        message: String,
    },
    /// A Rego module did not compile.
    #[error("{}: {message}", path.display())]
    Compile {
        /// The module (or the template holding it).
        path: PathBuf,
        /// regorus's message.
        message: String,
    },
    /// Evaluating a rule failed.
    #[error("evaluating `{query}`: {message}")]
    Eval {
        /// The rule or query.
        query: String,
        /// regorus's message.
        message: String,
    },
}

/// Which Rego syntax a module is written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum RegoVersion {
    /// Rego v1 when the module parses as v1, else v0 (conftest's modules come in both).
    #[default]
    Auto,
    /// Rego v0 (Gatekeeper's templates).
    V0,
    /// Rego v1 (OPA 1.0 and later).
    V1,
}

/// One YAML or JSON document of a file, with where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// The file.
    pub path: PathBuf,
    /// Index of the document in the file (0 for the first).
    pub index: usize,
    /// The document's first line in the file (1-based).
    pub line: usize,
    /// The document.
    pub value: Value,
}

impl Document {
    /// `path`, or `path#index` for a later document of a multi-document file, as reasons cite it.
    #[must_use]
    pub fn origin(&self) -> String {
        if self.index == 0 {
            self.path.display().to_string()
        } else {
            format!("{}#{}", self.path.display(), self.index)
        }
    }
}

/// Reads a file of YAML documents (separated by `---`) or one JSON document. Empty documents
/// (a leading `---`, a trailing separator, comments only) are skipped.
///
/// # Errors
/// [`PolicyError::Io`] when the file cannot be read, [`PolicyError::Parse`] naming the line of
/// the first document that does not parse.
pub fn read_documents(path: &Path) -> Result<Vec<Document>, PolicyError> {
    let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io { path: path.to_path_buf(), source })?;
    parse_documents(path, &text)
}

/// Parses `text` as [`read_documents`] does, `path` naming it in errors.
///
/// # Errors
/// [`PolicyError::Parse`] naming the line of the first document that does not parse.
pub fn parse_documents(path: &Path, text: &str) -> Result<Vec<Document>, PolicyError> {
    let parse_err =
        |line: Option<usize>, message: String| PolicyError::Parse { path: path.to_path_buf(), line, message };
    if text.trim_start().starts_with(['{', '[']) {
        let value: Value = serde_json::from_str(text).map_err(|e| parse_err(Some(e.line()), e.to_string()))?;
        return Ok(vec![Document { path: path.to_path_buf(), index: 0, line: 1, value }]);
    }
    let mut docs = Vec::new();
    let starts = document_lines(text);
    for (i, de) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let value: Value =
            Value::deserialize(de).map_err(|e| parse_err(e.location().map(|l| l.line()), e.to_string()))?;
        if value.is_null() {
            continue;
        }
        let line = starts.get(i).copied().unwrap_or(1);
        docs.push(Document { path: path.to_path_buf(), index: docs.len(), line, value });
    }
    Ok(docs)
}

/// The first line of each YAML document in `text` (1-based), counting `---` separators.
fn document_lines(text: &str) -> Vec<usize> {
    let mut starts = vec![1];
    let mut first_content = true;
    for (n, line) in text.lines().enumerate() {
        if line.starts_with("---") {
            if first_content {
                // A leading separator opens the first document rather than ending one.
                if let Some(s) = starts.last_mut() {
                    *s = n + 2;
                }
            } else {
                starts.push(n + 2);
            }
            first_content = false;
        } else if !line.trim().is_empty() && !line.trim_start().starts_with('#') {
            first_content = false;
        }
    }
    starts
}

/// Lists the files under `path` (itself, when it is a file) whose extension is one of `exts`,
/// sorted, so evaluation order never depends on the file system.
///
/// # Errors
/// [`PolicyError::Io`] when `path` or a directory under it cannot be read.
pub fn files_under(path: &Path, exts: &[&str]) -> Result<Vec<PathBuf>, PolicyError> {
    let io = |source| PolicyError::Io { path: path.to_path_buf(), source };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| PolicyError::Io { path: dir.clone(), source })?;
        for entry in entries {
            let entry = entry.map_err(|source| PolicyError::Io { path: dir.clone(), source })?;
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().and_then(|e| e.to_str()).is_some_and(|e| exts.contains(&e)) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Rego modules parsed and prepared once; each evaluation clones the prepared engine, so one
/// `Rego` serves any number of inputs (and threads, one clone each).
#[derive(Clone)]
pub struct Rego {
    engine: regorus::Engine,
    /// Each module's path and package (`data.<name>`), in the engine's module order.
    modules: Vec<(PathBuf, String)>,
}

impl fmt::Debug for Rego {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rego").field("modules", &self.modules).finish_non_exhaustive()
    }
}

impl Rego {
    /// Parses `modules` (each a path naming it and its source) and prepares them.
    ///
    /// # Errors
    /// [`PolicyError::Compile`] naming the first module that does not parse or compile.
    pub fn compile(modules: &[(PathBuf, String)], version: RegoVersion) -> Result<Self, PolicyError> {
        let mut engine = regorus::Engine::new();
        engine.set_strict_builtin_errors(false);
        add_extensions(&mut engine)
            .map_err(|message| PolicyError::Compile { path: PathBuf::from("<extensions>"), message })?;
        let mut packages = Vec::with_capacity(modules.len());
        for (path, src) in modules {
            let src = compat::split_multi_body_rules(src);
            let src = compat::guard_sprintf(&src);
            let compile_err =
                |e: &dyn fmt::Display| PolicyError::Compile { path: path.clone(), message: e.to_string() };
            let name = path.display().to_string();
            let added = match version {
                RegoVersion::V0 | RegoVersion::V1 => {
                    engine.set_rego_v0(version == RegoVersion::V0);
                    engine.add_policy(name, src.to_string()).map_err(|e| compile_err(&e))?
                }
                RegoVersion::Auto => {
                    engine.set_rego_v0(false);
                    match engine.add_policy(name.clone(), src.to_string()) {
                        Ok(p) => p,
                        Err(v1_err) => {
                            engine.set_rego_v0(true);
                            engine.add_policy(name, src.to_string()).map_err(|_| compile_err(&v1_err))?
                        }
                    }
                }
            };
            packages.push((path.clone(), added));
        }
        // Analyse and schedule the modules now, once, rather than in every clone.
        engine.eval_query("true".to_owned(), false).map_err(|e| PolicyError::Compile {
            path: modules.first().map(|(p, _)| p.clone()).unwrap_or_default(),
            message: e.to_string(),
        })?;
        Ok(Self { engine, modules: packages })
    }

    /// Each module's path and the package it declares (`data.<name>`, as regorus parsed it), in
    /// the order given to [`Rego::compile`].
    #[must_use]
    pub fn modules(&self) -> &[(PathBuf, String)] {
        &self.modules
    }

    /// Names of the rules of `package` (`data.x.y`), sorted.
    #[must_use]
    pub fn rule_names(&self, package: &str) -> Vec<String> {
        let mut engine = self.engine.clone();
        let mut names = Vec::new();
        for (module, (_, pkg)) in engine.get_modules().iter().zip(&self.modules) {
            if pkg != package {
                continue;
            }
            for rule in &module.policy {
                if let Some(n) = rule_name(rule.as_ref()) {
                    names.push(n);
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }

    /// Evaluates `rule` (a full path such as `data.k8srequiredlabels.violation`) against `input`,
    /// with `data` merged into the base data when given. `None` when the rule is undefined.
    /// For many evaluations, an [`Evaluator`] saves a clone of the engine each.
    ///
    /// # Errors
    /// [`PolicyError::Eval`] when evaluation fails (a builtin error, a conflict, a bad value).
    pub fn eval_rule(&self, rule: &str, input: &Value, data: Option<&Value>) -> Result<Option<Value>, PolicyError> {
        let mut ev = self.evaluator();
        if let Some(data) = data {
            ev.add_data(data)?;
        }
        ev.set_input(input);
        ev.eval_rule(rule)
    }

    /// A private copy of the prepared engine, for evaluating many rules and inputs in turn.
    #[must_use]
    pub fn evaluator(&self) -> Evaluator {
        Evaluator { engine: self.engine.clone() }
    }
}

/// A JSON value converted once into the engine's own form, to be set as input (or part of
/// one) many times without converting it again.
#[derive(Clone)]
pub struct Prepared(regorus::Value);

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Prepared").finish_non_exhaustive()
    }
}

impl Prepared {
    /// Converts `value`.
    #[must_use]
    pub fn new(value: &Value) -> Self {
        Self(regorus::Value::deserialize(value).unwrap_or_else(|_| regorus::Value::from(value.clone())))
    }

    /// An object of `fields`, sharing their converted values (no copy).
    #[must_use]
    pub fn object(fields: &[(&str, &Prepared)]) -> Self {
        let map: std::collections::BTreeMap<regorus::Value, regorus::Value> =
            fields.iter().map(|(k, v)| (regorus::Value::from(*k), v.0.clone())).collect();
        Self(regorus::Value::from(map))
    }
}

/// A prepared engine of its own: set an input once, evaluate any number of rules on it, set
/// the next input. Evaluations leave no state behind, so one evaluator serves a whole batch.
#[derive(Clone)]
pub struct Evaluator {
    engine: regorus::Engine,
}

impl fmt::Debug for Evaluator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Evaluator").finish_non_exhaustive()
    }
}

impl Evaluator {
    /// Sets `input` for the evaluations that follow.
    pub fn set_input(&mut self, input: &Value) {
        self.set_prepared_input(&Prepared::new(input));
    }

    /// Sets an input prepared with [`Prepared::new`] (no conversion).
    pub fn set_prepared_input(&mut self, input: &Prepared) {
        self.engine.set_input(input.0.clone());
    }

    /// Merges `data` (an object) into the base data; the modules are prepared again.
    ///
    /// # Errors
    /// [`PolicyError::Eval`] when `data` is not an object or conflicts with the base data.
    pub fn add_data(&mut self, data: &Value) -> Result<(), PolicyError> {
        self.engine
            .add_data(regorus::Value::from(data.clone()))
            .map_err(|e| PolicyError::Eval { query: "data".to_owned(), message: e.to_string() })
    }

    /// Evaluates `rule` on the current input; `None` when it is undefined.
    ///
    /// # Errors
    /// [`PolicyError::Eval`] when evaluation fails.
    pub fn eval_rule(&mut self, rule: &str) -> Result<Option<Value>, PolicyError> {
        let eval_err = |e: &dyn fmt::Display| PolicyError::Eval { query: rule.to_owned(), message: e.to_string() };
        let value = self.engine.eval_rule(rule.to_owned()).map_err(|e| eval_err(&e))?;
        if value == regorus::Value::Undefined {
            return Ok(None);
        }
        serde_json::to_value(&value).map(Some).map_err(|e| eval_err(&e))
    }
}

/// Registers the functions our rewrites call ([`compat`]).
fn add_extensions(engine: &mut regorus::Engine) -> Result<(), String> {
    engine
        .add_extension(
            compat::SPRINTF_FORMAT.to_owned(),
            2,
            Box::new(|args: Vec<regorus::Value>| {
                let (Some(regorus::Value::String(format)), Some(list)) = (args.first(), args.get(1)) else {
                    return Ok(regorus::Value::Undefined);
                };
                let n = match list {
                    regorus::Value::Array(a) => a.len(),
                    _ => usize::MAX,
                };
                Ok(regorus::Value::from(compat::sprintf_format(format, n)))
            }),
        )
        .map_err(|e| e.to_string())
}

/// The root name of a rule (`deny_latest` for `deny_latest[msg] { ... }` or
/// `deny_latest contains msg if { ... }`).
fn rule_name(rule: &regorus::unstable::Rule) -> Option<String> {
    use regorus::unstable::{Rule, RuleHead};
    let refr = match rule {
        Rule::Spec { head, .. } => match head {
            RuleHead::Compr { refr, .. } | RuleHead::Set { refr, .. } | RuleHead::Func { refr, .. } => refr,
        },
        Rule::Default { refr, .. } => refr,
    };
    let text = refr.span().text();
    let end = text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(text.len());
    text.get(..end).filter(|n| !n.is_empty()).map(str::to_owned)
}

/// Every policy found under some paths: conftest modules (`.rego`) and Gatekeeper templates
/// and constraints (YAML documents of kind `ConstraintTemplate`, and of the kinds they define).
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    /// The conftest policies, when any `.rego` file was found.
    pub conftest: Option<conftest::Conftest>,
    /// Gatekeeper templates.
    pub templates: Vec<gatekeeper::Template>,
    /// Gatekeeper constraints, each of a kind one of `templates` defines.
    pub constraints: Vec<gatekeeper::Constraint>,
}

impl PolicySet {
    /// Loads the policies under `paths` (files or directories).
    ///
    /// # Errors
    /// [`PolicyError`] when a file does not parse, a module does not compile, a constraint's
    /// kind has no template, or nothing at all is found. conftest namespaces are checked as in
    /// [`conftest::Conftest::load`].
    pub fn load(paths: &[PathBuf], config: &conftest::ConftestConfig) -> Result<Self, PolicyError> {
        let origin = paths.first().cloned().unwrap_or_default();
        let mut set = Self::default();
        let has_rego = paths
            .iter()
            .map(|p| files_under(p, &["rego"]))
            .collect::<Result<Vec<_>, _>>()?
            .iter()
            .any(|f| !f.is_empty());
        if has_rego {
            set.conftest = Some(conftest::Conftest::load(paths, config)?);
        }
        let mut others = Vec::new();
        for p in paths {
            for file in files_under(p, &["yaml", "yml"])? {
                for doc in read_documents(&file)? {
                    if doc.value.get("kind").and_then(Value::as_str) == Some("ConstraintTemplate") {
                        set.templates.push(gatekeeper::Template::from_document(&doc)?);
                    } else {
                        others.push(doc);
                    }
                }
            }
        }
        for doc in others {
            let kind = doc.value.get("kind").and_then(Value::as_str).unwrap_or_default();
            let is_constraint = doc
                .value
                .get("apiVersion")
                .and_then(Value::as_str)
                .is_some_and(|a| a.starts_with("constraints.gatekeeper.sh/"));
            if set.templates.iter().any(|t| t.kind == kind) {
                set.constraints.push(gatekeeper::Constraint::from_document(&doc)?);
            } else if is_constraint {
                return Err(PolicyError::Field {
                    path: doc.path.clone(),
                    field: "kind".to_owned(),
                    message: format!("constraint kind `{kind}` has no ConstraintTemplate among the policies"),
                });
            }
        }
        if set.conftest.is_none() && set.constraints.is_empty() {
            return Err(PolicyError::Field {
                path: origin,
                field: "policies".to_owned(),
                message: "no .rego policy and no Gatekeeper constraint found".to_owned(),
            });
        }
        Ok(set)
    }
}
