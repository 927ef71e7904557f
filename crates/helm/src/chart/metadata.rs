//! `Chart.yaml` as Helm's `chart.Metadata`.

use std::collections::BTreeMap;

use gotmpl::Value;

/// A chart maintainer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Maintainer {
    /// Name.
    pub name: String,
    /// E-mail.
    pub email: String,
    /// URL.
    pub url: String,
}

/// A `dependencies:` entry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dependency {
    /// Chart name.
    pub name: String,
    /// Version constraint.
    pub version: String,
    /// Repository URL.
    pub repository: String,
    /// Comma-separated values paths; the first boolean found decides.
    pub condition: String,
    /// Tags under `.Values.tags` that enable or disable it.
    pub tags: Vec<String>,
    /// Set by dependency processing.
    pub enabled: bool,
    /// `import-values` entries (strings or `{child, parent}` maps).
    pub import_values: Vec<Value>,
    /// Name the subchart is rendered under.
    pub alias: String,
}

/// `Chart.yaml`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metadata {
    /// Chart name.
    pub name: String,
    /// Home page.
    pub home: String,
    /// Source URLs.
    pub sources: Vec<String>,
    /// SemVer version.
    pub version: String,
    /// One-line description.
    pub description: String,
    /// Keywords.
    pub keywords: Vec<String>,
    /// Maintainers.
    pub maintainers: Vec<Maintainer>,
    /// Icon URL.
    pub icon: String,
    /// `v1` or `v2`.
    pub api_version: String,
    /// Condition (unused by Helm itself).
    pub condition: String,
    /// Tags (unused by Helm itself).
    pub tags: String,
    /// Application version.
    pub app_version: String,
    /// Whether the chart is deprecated.
    pub deprecated: bool,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// Kubernetes version constraint.
    pub kube_version: String,
    /// Dependencies.
    pub dependencies: Vec<Dependency>,
    /// `application` or `library`.
    pub chart_type: String,
}

fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.to_string(),
        Some(Value::Float(f)) => gofmt::format_float(*f, 'g', -1),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_list)
        .map(|l| l.iter().map(|x| text(Some(x))).collect())
        .unwrap_or_default()
}

/// Looks a field up the way `encoding/json` does: exact name first, then case-insensitively.
fn field<'a>(m: &'a BTreeMap<String, Value>, name: &str) -> Option<&'a Value> {
    m.get(name).or_else(|| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

impl Dependency {
    fn from_map(m: &BTreeMap<String, Value>) -> Dependency {
        Dependency {
            name: text(field(m, "name")),
            version: text(field(m, "version")),
            repository: text(field(m, "repository")),
            condition: text(field(m, "condition")),
            tags: strings(field(m, "tags")),
            enabled: matches!(field(m, "enabled"), Some(Value::Bool(true))),
            import_values: field(m, "import-values")
                .and_then(Value::as_list)
                .map(<[Value]>::to_vec)
                .unwrap_or_default(),
            alias: text(field(m, "alias")),
        }
    }

    /// The dependency as templates see it in `.Chart.Dependencies`.
    pub fn to_value(&self) -> Value {
        let mut m = BTreeMap::new();
        m.insert("Name".into(), Value::str(self.name.as_str()));
        m.insert("Version".into(), Value::str(self.version.as_str()));
        m.insert("Repository".into(), Value::str(self.repository.as_str()));
        m.insert("Condition".into(), Value::str(self.condition.as_str()));
        m.insert(
            "Tags".into(),
            Value::list(self.tags.iter().map(|t| Value::str(t.as_str())).collect()),
        );
        m.insert("Enabled".into(), Value::Bool(self.enabled));
        m.insert(
            "ImportValues".into(),
            Value::list(self.import_values.clone()),
        );
        m.insert("Alias".into(), Value::str(self.alias.as_str()));
        Value::map(m)
    }
}

impl Metadata {
    /// Reads `Chart.yaml` (or fills dependencies from `requirements.yaml` into `self`).
    pub fn merge_yaml(&mut self, yaml: &str) -> Result<(), crate::yaml::YamlError> {
        let m = crate::yaml::parse_map(yaml)?;
        let set = |dst: &mut String, key: &str| {
            if let Some(v) = field(&m, key) {
                *dst = text(Some(v));
            }
        };
        set(&mut self.name, "name");
        set(&mut self.home, "home");
        set(&mut self.version, "version");
        set(&mut self.description, "description");
        set(&mut self.icon, "icon");
        set(&mut self.api_version, "apiVersion");
        set(&mut self.condition, "condition");
        set(&mut self.tags, "tags");
        set(&mut self.app_version, "appVersion");
        set(&mut self.kube_version, "kubeVersion");
        set(&mut self.chart_type, "type");
        if let Some(v) = field(&m, "sources") {
            self.sources = strings(Some(v));
        }
        if let Some(v) = field(&m, "keywords") {
            self.keywords = strings(Some(v));
        }
        if let Some(Value::Bool(b)) = field(&m, "deprecated") {
            self.deprecated = *b;
        }
        if let Some(Value::Map(a)) = field(&m, "annotations") {
            self.annotations = a
                .snapshot()
                .iter()
                .map(|(k, v)| (k.clone(), text(Some(v))))
                .collect();
        }
        if let Some(Value::List(l)) = field(&m, "maintainers") {
            self.maintainers = l
                .iter()
                .filter_map(Value::as_map)
                .map(|mm| Maintainer {
                    name: text(field(&mm, "name")),
                    email: text(field(&mm, "email")),
                    url: text(field(&mm, "url")),
                })
                .collect();
        }
        if let Some(Value::List(l)) = field(&m, "dependencies") {
            self.dependencies = l
                .iter()
                .filter_map(Value::as_map)
                .map(|m| Dependency::from_map(&m))
                .collect();
        }
        Ok(())
    }

    /// The metadata as templates see `.Chart` (Helm v4 hands templates a map of the fields).
    pub fn to_value(&self, is_root: bool) -> Value {
        let s = |x: &str| Value::str(x);
        let list = |v: &[String]| Value::list(v.iter().map(|x| Value::str(x.as_str())).collect());
        let mut m = BTreeMap::new();
        m.insert("Name".into(), s(&self.name));
        m.insert("Home".into(), s(&self.home));
        m.insert("Sources".into(), list(&self.sources));
        m.insert("Version".into(), s(&self.version));
        m.insert("Description".into(), s(&self.description));
        m.insert("Keywords".into(), list(&self.keywords));
        m.insert(
            "Maintainers".into(),
            Value::list(
                self.maintainers
                    .iter()
                    .map(|mt| {
                        let mut mm = BTreeMap::new();
                        mm.insert("Name".into(), s(&mt.name));
                        mm.insert("Email".into(), s(&mt.email));
                        mm.insert("URL".into(), s(&mt.url));
                        Value::map(mm)
                    })
                    .collect(),
            ),
        );
        m.insert("Icon".into(), s(&self.icon));
        m.insert("APIVersion".into(), s(&self.api_version));
        m.insert("Condition".into(), s(&self.condition));
        m.insert("Tags".into(), s(&self.tags));
        m.insert("AppVersion".into(), s(&self.app_version));
        m.insert("Deprecated".into(), Value::Bool(self.deprecated));
        m.insert(
            "Annotations".into(),
            Value::map(
                self.annotations
                    .iter()
                    .map(|(k, v)| (k.clone(), s(v)))
                    .collect(),
            ),
        );
        m.insert("KubeVersion".into(), s(&self.kube_version));
        m.insert(
            "Dependencies".into(),
            Value::list(self.dependencies.iter().map(Dependency::to_value).collect()),
        );
        m.insert("Type".into(), s(&self.chart_type));
        m.insert("IsRoot".into(), Value::Bool(is_root));
        Value::map(m)
    }
}
