//! Errors of parsing and executing templates, displayed the way Go's `text/template` prints them.

/// An error from parsing or executing a template.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    /// A syntax error: `template: NAME:LINE: MSG`.
    #[error("template: {name}:{line}: {msg}")]
    Parse {
        /// The name the source was parsed under.
        name: String,
        /// 1-based line of the offending token.
        line: usize,
        /// What went wrong.
        msg: String,
    },
    /// A run-time error: `template: LOCATION: executing "NAME" at <NODE>: MSG`.
    #[error("{}", exec_display(.name, .location, .context, .msg))]
    Exec {
        /// The template being executed.
        name: String,
        /// `PARSENAME:LINE:COL` of the node being evaluated, if any.
        location: Option<String>,
        /// The node, as Go prints it.
        context: Option<String>,
        /// What went wrong.
        msg: String,
    },
    /// `ExecuteTemplate` of a name that is not defined.
    #[error("template: no template {} associated with template {}", crate::gofmt::quote(.name), crate::gofmt::quote(.root))]
    NoTemplate {
        /// The missing template.
        name: String,
        /// The name of the set.
        root: String,
    },
    /// A resource limit (depth, time, output size) was exceeded; never wrapped by callers.
    #[error("{0}")]
    Limit(String),
}

fn exec_display(
    name: &str,
    location: &Option<String>,
    context: &Option<String>,
    msg: &str,
) -> String {
    match (location, context) {
        (Some(l), Some(c)) => format!(
            "template: {l}: executing {} at <{c}>: {msg}",
            crate::gofmt::quote(name)
        ),
        _ => format!("template: {name}: {msg}"),
    }
}

/// An error returned by a template function; execution reports it as `error calling NAME: ...`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FuncError {
    /// A plain message.
    #[error("{0}")]
    Msg(String),
    /// Wrong number of arguments (reported without "error calling", like Go's own check).
    #[error("{0}")]
    Arity(String),
    /// An error from executing a nested template (`include`, `tpl`).
    #[error("{0}")]
    Template(Box<TemplateError>),
}

impl FuncError {
    /// A plain message error.
    pub fn msg(m: impl Into<String>) -> FuncError {
        FuncError::Msg(m.into())
    }
}

impl From<TemplateError> for FuncError {
    fn from(e: TemplateError) -> Self {
        FuncError::Template(Box::new(e))
    }
}

impl From<String> for FuncError {
    fn from(e: String) -> Self {
        FuncError::Msg(e)
    }
}

impl From<&str> for FuncError {
    fn from(e: &str) -> Self {
        FuncError::Msg(e.to_string())
    }
}
