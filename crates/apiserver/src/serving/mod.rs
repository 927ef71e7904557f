//! HTTP serving: the listener and TLS (`server`), authentication and routing (`handler`,
//! `request`), bodies in and out (`body`, `response`, `table`), and discovery documents.

pub(crate) mod body;
pub mod discovery;
pub(crate) mod handler;
pub mod request;
pub(crate) mod response;
pub(crate) mod server;
pub(crate) mod table;
