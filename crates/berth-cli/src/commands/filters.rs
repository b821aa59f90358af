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
