//! The `--filter` flags of the listing commands.

use super::CliError;

/// `--filter key=value` flags, each key one the command knows.
pub(crate) struct Filters(pub(crate) Vec<(String, String)>);

impl Filters {
    pub(crate) fn parse(args: &[String], known: &[&str]) -> Result<Filters, CliError> {
        let mut out = Vec::new();
        for f in args {
            let (k, v) = f.split_once('=').ok_or_else(|| {
                CliError::new(
                    1,
                    format!("bad format of filter (expected name=value): {f}"),
                )
            })?;
            if !known.contains(&k) {
                return Err(CliError::new(1, format!("invalid filter '{k}'")));
            }
            out.push((k.to_string(), v.to_string()));
        }
        Ok(Filters(out))
    }

    /// Each filter key must match one of its values (values of one key are ORed).
    pub(crate) fn matches(&self, test: impl Fn(&str, &str) -> bool) -> bool {
        let mut keys: Vec<&str> = self.0.iter().map(|(k, _)| k.as_str()).collect();
        keys.dedup();
        keys.iter().all(|key| {
            self.0
                .iter()
                .filter(|(k, _)| k == key)
                .any(|(k, v)| test(k, v))
        })
    }
}

/// `label=KEY` or `label=KEY=VALUE`.
pub(crate) fn labels_match(
    labels: &std::collections::BTreeMap<String, String>,
    filter: &str,
) -> bool {
    match filter.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(filter),
    }
}

/// The filters the prune commands take: `until=` (a time or a duration back
/// from now) and `label=K`, `label=K=V`, `label!=K`, `label!=K=V`.
pub struct PruneFilters {
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    labels: Vec<(String, bool)>,
}

impl PruneFilters {
    pub fn parse(filters: &[String]) -> Result<PruneFilters, super::CliError> {
        let mut out = PruneFilters {
            until: None,
            labels: Vec::new(),
        };
        for f in filters {
            match f.split_once('=') {
                Some(("until", v)) => {
                    out.until = Some(berth_engine::logs::parse_time(v).ok_or_else(|| {
                        super::CliError::new(
                            1,
                            format!("invalid filter until={v}: a duration like 24h or a time"),
                        )
                    })?)
                }
                Some(("label", v)) => out.labels.push((v.to_string(), true)),
                Some(("label!", v)) => out.labels.push((v.to_string(), false)),
                _ => {
                    return Err(super::CliError::new(
                        1,
                        format!("invalid filter {f:?}: prune takes until=, label= and label!="),
                    ))
                }
            }
        }
        Ok(out)
    }

    /// For what has no labels (the build cache): `until=` only.
    pub fn until_only(
        self,
        what: &str,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, super::CliError> {
        if self.labels.is_empty() {
            Ok(self.until)
        } else {
            Err(super::CliError::new(
                1,
                format!("invalid filter: {what} takes until= only"),
            ))
        }
    }

    /// Whether something created at `created` with `labels` is selected.
    pub fn selects(
        &self,
        created: &str,
        labels: &std::collections::BTreeMap<String, String>,
    ) -> bool {
        let old_enough = self
            .until
            .is_none_or(|u| berth_engine::time::parse(created).is_some_and(|c| c < u));
        old_enough
            && self
                .labels
                .iter()
                .all(|(f, want)| labels_match(labels, f) == *want)
    }
}
