//! The `--filter` flags of the listing and prune commands, parsed into the
//! engine's filters (which select what is listed).

use berth_engine::filters::{Filters, PruneFilters, PRUNE_KEYS};

use super::{fail, CliError};

/// `--filter key=value` flags, each key one of `known`.
pub(crate) fn parse(args: &[String], known: &[&str]) -> Result<Filters, CliError> {
    Filters::parse(args, known).map_err(fail)
}

/// The prune commands' `until=`, `label=` and `label!=`.
pub(crate) fn prune(args: &[String]) -> Result<PruneFilters, CliError> {
    Filters::parse(args, PRUNE_KEYS)
        .and_then(|f| PruneFilters::new(&f))
        .map_err(fail)
}
