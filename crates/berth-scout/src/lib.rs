//! Image scanning, offline and built in.
//!
//! - [`catalog`]: a layer's file tree in, its packages out (dpkg, apk, rpm,
//!   Python, npm, Go and Rust binaries, Java archives); the squash of an
//!   image's layers through their whiteouts.
//! - [`version`]: each ecosystem's version order.
//! - [`osv`]: OSV records and whether a package falls in their ranges.
//! - [`db`]: `scout.db`, the imported records and cached layer catalogues.
//! - [`severity`]: CVSS v3 and v4 base scores, and ratings.
//! - [`secrets`]: rules for credentials in files, configs and history.
//! - [`report`] and [`sbom`]: what the commands print.
//!
//! Nothing here knows of containers or the network: the engine hands in
//! directories and image configs.

pub mod catalog;
pub mod db;
pub mod osv;
pub mod package;
pub mod report;
pub mod sbom;
pub mod scan;
pub mod secrets;
pub mod severity;
mod tree;
pub mod version;

pub use package::{Kind, OsRelease, Package};
pub use tree::Whiteouts;

/// What is found in one layer, with room to say what could not be read.
pub trait LayerResult {
    fn warn(&mut self, warning: String);
}

impl LayerResult for catalog::LayerCatalogue {
    fn warn(&mut self, warning: String) {
        self.warnings.push(warning);
    }
}

impl LayerResult for secrets::LayerSecrets {
    fn warn(&mut self, warning: String) {
        self.warnings.push(warning);
    }
}
