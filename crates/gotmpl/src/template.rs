//! A set of named templates sharing their `define`s, like Go's `*template.Template`.

use std::collections::HashMap;
use std::sync::Arc;

use crate::ast::{Tree, is_empty_tree};
use crate::error::TemplateError;
use crate::exec::{Limits, Shared, execute_tree};
use crate::funcs::FuncMap;
use crate::value::Value;

/// Named templates parsed with one function map. Parsing a source adds the source's own
/// template and every `define`/`block` in it; a later definition of a name replaces the earlier
/// one unless it is empty (Go's `AddParseTree`).
#[derive(Clone)]
pub struct TemplateSet {
    funcs: Arc<FuncMap>,
    templates: HashMap<Arc<str>, Arc<Tree>>,
    name: String,
}

/// A view of templates: the set's own, overlaid by those a `tpl` call defined.
pub(crate) struct Layer<'p> {
    pub templates: &'p HashMap<Arc<str>, Arc<Tree>>,
    pub parent: Option<&'p Layer<'p>>,
    pub funcs: &'p FuncMap,
    pub root_name: &'p str,
}

impl Layer<'_> {
    pub(crate) fn lookup(&self, name: &str) -> Option<&Arc<Tree>> {
        match self.templates.get(name) {
            Some(t) => Some(t),
            None => self.parent.and_then(|p| p.lookup(name)),
        }
    }
}

/// Adds parsed trees to a map with Go's `AddParseTree` rule.
pub(crate) fn associate(map: &mut HashMap<Arc<str>, Arc<Tree>>, trees: HashMap<Arc<str>, Tree>) {
    for (name, tree) in trees {
        if let Some(old) = map.get(&name)
            && is_empty_tree(&tree.root)
            && !is_empty_tree(&old.root)
        {
            continue;
        }
        map.insert(name, Arc::new(tree));
    }
}

impl TemplateSet {
    /// An empty set using `funcs`. Its own name, used in "no template" errors, is `gotpl` (Helm's).
    pub fn new(funcs: Arc<FuncMap>) -> TemplateSet {
        TemplateSet {
            funcs,
            templates: HashMap::new(),
            name: "gotpl".to_string(),
        }
    }

    /// Changes the set's own name.
    pub fn with_name(mut self, name: &str) -> TemplateSet {
        self.name = name.to_string();
        self
    }

    /// The functions templates of this set call.
    pub fn funcs(&self) -> &Arc<FuncMap> {
        &self.funcs
    }

    /// Parses `source` as template `name`, adding it and the templates it defines.
    pub fn parse(&mut self, name: &str, source: &str) -> Result<(), TemplateError> {
        let trees = crate::parse::parse(name, source, &self.funcs)?;
        associate(&mut self.templates, trees);
        Ok(())
    }

    /// Whether a template of that name exists.
    pub fn has(&self, name: &str) -> bool {
        self.templates.contains_key(name)
    }

    /// The names of all templates, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.templates.keys().map(|k| k.to_string()).collect();
        v.sort();
        v
    }

    /// The parse tree of a template (its `Display` is Go's `String()` of the tree).
    pub fn tree(&self, name: &str) -> Option<&Tree> {
        self.templates.get(name).map(|t| t.as_ref())
    }

    /// Executes template `name` with `data` as dot and `$`, appending to `out`.
    pub fn execute(
        &self,
        name: &str,
        data: &Value,
        out: &mut String,
        limits: &Limits,
    ) -> Result<(), TemplateError> {
        let layer = Layer {
            templates: &self.templates,
            parent: None,
            funcs: &self.funcs,
            root_name: &self.name,
        };
        let mut shared = Shared::new(limits);
        let Some(tree) = layer.lookup(name) else {
            return Err(TemplateError::NoTemplate {
                name: name.to_string(),
                root: self.name.clone(),
            });
        };
        let tree = tree.clone();
        execute_tree(&layer, &mut shared, &tree, data, out)
    }
}
