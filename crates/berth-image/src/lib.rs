//! The image model and its formats.
//!
//! Pure data and file formats: references and digests, the OCI image config and
//! manifest types (in the JSON shapes docker and registries use), safe layer
//! application with overlay whiteouts, and docker-archive import/export.
//! Nothing here knows about the metadata DB or containers.

pub mod archive;
pub mod diff;
pub mod digest;
pub mod layer;
pub mod reference;
pub mod spec;

pub use digest::{Digest, DigestWriter};
pub use reference::Reference;
