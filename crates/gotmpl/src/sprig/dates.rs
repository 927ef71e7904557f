//! Sprig's date functions (placeholder registration; filled in below).

use crate::funcs::FuncMap;

pub(crate) fn register(_m: &mut FuncMap) {}
