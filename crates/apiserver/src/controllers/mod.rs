//! The built-in controllers: namespace lifecycle, CRD serving, garbage collection, and the
//! Service IP and NodePort allocator.

pub(crate) mod allocate;
pub(crate) mod crd;
pub(crate) mod follow;
pub(crate) mod gc;
pub(crate) mod namespaces;
