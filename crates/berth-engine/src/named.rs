//! Records kept by (id, unique name): secrets and pods. One way to read
//! them and to find one by name, id or unique id prefix.

use berth_store::db::NamedRow;
use serde::de::DeserializeOwned;

use crate::EngineError;

pub(crate) trait Named: Clone + DeserializeOwned {
    /// What users call it in errors (`pod`, `secret`).
    const WHAT: &'static str;
    fn id(&self) -> &str;
    fn name(&self) -> &str;
}

/// The store's rows as records.
pub(crate) fn parse<T: Named>(rows: Vec<NamedRow>) -> Result<Vec<T>, EngineError> {
    rows.into_iter()
        .map(|r| {
            serde_json::from_str(&r.record)
                .map_err(|e| EngineError::BadContent(format!("{} {}: {e}", T::WHAT, r.name)))
        })
        .collect()
}

/// The record named `key`, or with that id or unique id prefix.
pub(crate) fn find<T: Named>(all: &[T], key: &str) -> Option<T> {
    if let Some(x) = all.iter().find(|x| x.name() == key || x.id() == key) {
        return Some(x.clone());
    }
    let by_prefix: Vec<&T> = all.iter().filter(|x| x.id().starts_with(key)).collect();
    match by_prefix.as_slice() {
        [one] if !key.is_empty() => Some((*one).clone()),
        _ => None,
    }
}
