//! docker's `--filter` / `filters=`: key=value pairs, values of one key
//! ORed and keys ANDed, and the listings they select. The CLI parses
//! `--filter k=v` flags, the API the JSON map (in both of docker's
//! encodings); the selection is the engine's, so both list the same.

use std::collections::{BTreeMap, HashMap};

use berth_image::Reference;
use chrono::{DateTime, Utc};

use crate::images::ImageSummary;
use crate::model::Container;
use crate::networks::Network;
use crate::volumes::Volume;
use crate::{time, Engine, EngineError};

/// The keys each listing takes.
pub const CONTAINER_KEYS: &[&str] = &[
    "status", "name", "label", "ancestor", "exited", "id", "health", "network", "volume", "before",
    "since", "is-task",
];
pub const IMAGE_KEYS: &[&str] = &["dangling", "reference", "label", "before", "since"];
pub const VOLUME_KEYS: &[&str] = &["dangling", "label", "name", "driver"];
pub const NETWORK_KEYS: &[&str] = &["driver", "id", "label", "name", "type", "scope", "dangling"];
pub const PRUNE_KEYS: &[&str] = &["until", "label", "label!"];

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filters(pub Vec<(String, String)>);

impl Filters {
    /// `--filter key=value` flags, each key one of `known`.
    pub fn parse(args: &[String], known: &[&str]) -> Result<Filters, EngineError> {
        let mut out = Vec::new();
        for f in args {
            let (k, v) = f.split_once('=').ok_or_else(|| {
                EngineError::invalid(format!("bad format of filter (expected name=value): {f}"))
            })?;
            out.push((k.to_string(), v.to_string()));
        }
        Filters(out).known(known)
    }

    /// The API's `filters` query: `{"key": ["v1", "v2"]}`, or the older
    /// `{"key": {"v1": true}}`; empty means none.
    pub fn from_json(text: &str, known: &[&str]) -> Result<Filters, EngineError> {
        if text.trim().is_empty() {
            return Ok(Filters::default());
        }
        let bad = |e: String| EngineError::invalid(format!("invalid filter: {e}"));
        let map: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let mut out = Vec::new();
        for (k, v) in map {
            match v {
                serde_json::Value::Array(list) => {
                    for item in list {
                        let s = item
                            .as_str()
                            .ok_or_else(|| bad(format!("{k}: values must be strings")))?;
                        out.push((k.clone(), s.to_string()));
                    }
                }
                serde_json::Value::Object(set) => {
                    for (item, on) in set {
                        if on.as_bool() != Some(false) {
                            out.push((k.clone(), item));
                        }
                    }
                }
                _ => return Err(bad(format!("{k}: a list of values"))),
            }
        }
        Filters(out).known(known)
    }

    fn known(self, known: &[&str]) -> Result<Filters, EngineError> {
        if let Some((k, _)) = self.0.iter().find(|(k, _)| !known.contains(&k.as_str())) {
            return Err(EngineError::invalid(format!("invalid filter '{k}'")));
        }
        Ok(self)
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    pub fn values<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Each key must match one of its values (values of one key are ORed),
    /// but every `label=` must match, as docker has it.
    pub fn matches(&self, test: impl Fn(&str, &str) -> bool) -> bool {
        let mut keys: Vec<&str> = self.0.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort();
        keys.dedup();
        keys.iter().all(|key| match *key {
            "label" | "label!" => self.values(key).all(|v| test(key, v)),
            _ => self.values(key).any(|v| test(key, v)),
        })
    }

    /// `dangling=` takes true, false, 1 or 0.
    fn check_boolean(&self, key: &str) -> Result<(), EngineError> {
        match self
            .values(key)
            .find(|v| !matches!(*v, "true" | "false" | "1" | "0"))
        {
            Some(v) => Err(EngineError::invalid(format!("invalid filter '{key}={v}'"))),
            None => Ok(()),
        }
    }
}

/// `label=KEY` or `label=KEY=VALUE`.
pub fn labels_match(labels: &BTreeMap<String, String>, filter: &str) -> bool {
    match filter.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(filter),
    }
}

/// docker's `name=` filter: a regular expression (`^web$`), else no match;
/// a leading `/` of docker's stored names is allowed either way.
pub fn matches_name(pattern: &str, name: &str) -> bool {
    regex_lite::Regex::new(pattern)
        .is_ok_and(|re| re.is_match(name) || re.is_match(&format!("/{name}")))
}

/// Go's `path.Match` for the reference filter: shell patterns that never
/// cross a `/` (so each segment is matched on its own).
pub fn glob(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), name.split('/').collect());
    p.len() == n.len()
        && p.iter()
            .zip(&n)
            .all(|(p, n)| berth_dockerfile::shell::pattern_matches(p, n))
}

/// The filters the prune commands take: `until=` (a time or a duration back
/// from now) and `label=K`, `label=K=V`, `label!=K`, `label!=K=V`.
#[derive(Clone, Debug, Default)]
pub struct PruneFilters {
    pub until: Option<DateTime<Utc>>,
    labels: Vec<(String, bool)>,
}

impl PruneFilters {
    pub fn new(f: &Filters) -> Result<PruneFilters, EngineError> {
        let mut out = PruneFilters::default();
        for (k, v) in &f.0 {
            match k.as_str() {
                "until" => {
                    out.until = Some(crate::logs::parse_time(v).ok_or_else(|| {
                        EngineError::invalid(format!(
                            "invalid filter until={v}: a duration like 24h or a time"
                        ))
                    })?)
                }
                "label" => out.labels.push((v.clone(), true)),
                "label!" => out.labels.push((v.clone(), false)),
                _ => {
                    return Err(EngineError::invalid(format!(
                        "invalid filter '{k}': prune takes until=, label= and label!="
                    )))
                }
            }
        }
        Ok(out)
    }

    /// For what has no labels (the build cache): `until=` only.
    pub fn until_only(self, what: &str) -> Result<Option<DateTime<Utc>>, EngineError> {
        if self.labels.is_empty() {
            Ok(self.until)
        } else {
            Err(EngineError::invalid(format!(
                "invalid filter: {what} takes until= only"
            )))
        }
    }

    /// Whether something created at `created` with `labels` is selected.
    pub fn selects(&self, created: &str, labels: &BTreeMap<String, String>) -> bool {
        let old_enough = self
            .until
            .is_none_or(|u| time::parse(created).is_some_and(|c| c < u));
        old_enough
            && self
                .labels
                .iter()
                .all(|(f, want)| labels_match(labels, f) == *want)
    }
}

impl Engine {
    /// `ps` / `GET /containers/json`: running containers (all with `all`,
    /// or when a status filter asks), newest first, the `last` newest
    /// when it is above 0, those `f` selects.
    pub fn select_containers(
        &self,
        f: &Filters,
        all: bool,
        last: usize,
    ) -> Result<Vec<Container>, EngineError> {
        let mut list = self.list_container_listings()?;
        // before=/since= name containers; they bound the listing by creation.
        let created_of = |key: &str| -> Result<Option<DateTime<Utc>>, EngineError> {
            Ok(time::parse(&self.container(key)?.created))
        };
        let before: Vec<_> = f
            .values("before")
            .map(created_of)
            .collect::<Result<_, _>>()?;
        let since: Vec<_> = f
            .values("since")
            .map(created_of)
            .collect::<Result<_, _>>()?;
        if last > 0 {
            list.truncate(last);
        } else if !all && !f.has("status") && !f.has("exited") {
            list.retain(|c| c.state.running);
        }
        if let Some(v) = f.values("exited").find(|v| v.parse::<i32>().is_err()) {
            return Err(EngineError::invalid(format!("invalid filter 'exited={v}'")));
        }
        let statuses = [
            "created",
            "restarting",
            "running",
            "removing",
            "paused",
            "exited",
            "dead",
        ];
        if let Some(v) = f.values("status").find(|v| !statuses.contains(v)) {
            return Err(EngineError::invalid(format!(
                "invalid filter 'status={v}': use one of {}",
                statuses.join(", ")
            )));
        }
        let mut ancestors = Vec::new();
        for v in f.values("ancestor") {
            if let Ok(i) = self.resolve_image(v) {
                ancestors.push(i.id.to_string());
            }
        }
        list.retain(|c| {
            let created = time::parse(&c.created);
            f.matches(|k, v| match k {
                "status" => c.state.status == v,
                "health" => {
                    c.state
                        .health
                        .as_ref()
                        .map_or("none", |h| h.status.as_str())
                        == v
                }
                "name" => matches_name(v, c.short_name()),
                "label" => labels_match(&c.config.labels, v),
                "exited" => c.state.status == "exited" && v.parse() == Ok(c.state.exit_code),
                "id" => c.id.starts_with(v),
                "network" => crate::networks::endpoints(c)
                    .iter()
                    .any(|(name, e)| name == v || e.network_id.starts_with(v)),
                "volume" => c
                    .mounts
                    .iter()
                    .any(|m| m.name.as_deref() == Some(v) || m.destination == v),
                "ancestor" => c.config.image == v || ancestors.contains(&c.image),
                "is-task" => v == "false",
                _ => true,
            }) && before.iter().all(|b| created < *b)
                && since.iter().all(|s| created > *s)
        });
        Ok(list)
    }

    /// `images` / `GET /images/json`: each image `f` selects, with its tags
    /// the reference filter matched (all of them when it has none).
    pub fn select_images(
        &self,
        f: &Filters,
    ) -> Result<Vec<(ImageSummary, Vec<Reference>)>, EngineError> {
        f.check_boolean("dangling")?;
        // before=/since= name images: look each up once, compare times (not
        // strings, which Go and berth may spell with different numbers of digits).
        let mut created_of = HashMap::new();
        for v in f.values("before").chain(f.values("since")) {
            created_of.insert(v.to_string(), time::parse(&self.resolve_image(v)?.created));
        }
        let mut out = Vec::new();
        for img in self.list_images()? {
            let created = time::parse(&img.record.created);
            let tags: Vec<Reference> = img
                .tags
                .iter()
                .filter(|t| {
                    !f.has("reference")
                        || f.values("reference").any(|v| {
                            let name = t.familiar_name();
                            glob(v, &name)
                                || glob(v, &format!("{}:{}", name, t.tag.as_deref().unwrap_or("")))
                                || glob(v, &t.familiar())
                        })
                })
                .cloned()
                .collect();
            if f.has("reference") && tags.is_empty() {
                continue;
            }
            let keep = f.matches(|k, v| match k {
                "dangling" => img.tags.is_empty() == matches!(v, "true" | "1"),
                "label" => labels_match(&img.labels, v),
                "before" => created < created_of[v],
                "since" => created > created_of[v],
                _ => true,
            });
            if keep {
                out.push((img, tags));
            }
        }
        Ok(out)
    }

    /// `volume ls` / `GET /volumes`.
    pub fn select_volumes(&self, f: &Filters) -> Result<Vec<Volume>, EngineError> {
        f.check_boolean("dangling")?;
        let mut out = Vec::new();
        for v in self.list_volumes()? {
            let unused = if f.has("dangling") {
                self.volume_users(&v.name)?.is_empty()
            } else {
                false
            };
            let keep = f.matches(|k, val| match k {
                "dangling" => unused == matches!(val, "true" | "1"),
                "label" => labels_match(&v.labels, val),
                "name" => v.name.contains(val),
                "driver" => val == "local",
                _ => true,
            });
            if keep {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// `network ls` / `GET /networks`.
    pub fn select_networks(&self, f: &Filters) -> Result<Vec<Network>, EngineError> {
        f.check_boolean("dangling")?;
        let used: Vec<String> = if f.has("dangling") {
            self.list_containers()?
                .iter()
                .flat_map(|c| crate::networks::endpoints(c).into_values())
                .map(|e| e.network_id)
                .collect()
        } else {
            Vec::new()
        };
        Ok(self
            .list_networks()?
            .into_iter()
            .filter(|n| {
                f.matches(|k, v| match k {
                    "driver" => n.driver == v,
                    "id" => n.id.starts_with(v),
                    "label" => labels_match(&n.labels, v),
                    "name" => matches_name(v, &n.name),
                    "scope" => v == "local",
                    "dangling" => {
                        (!n.predefined() && !used.contains(&n.id)) == matches!(v, "true" | "1")
                    }
                    _ => (v == "builtin") == n.predefined(),
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_json_encodings_and_flags_agree() {
        let flags = Filters::parse(
            &["status=running".into(), "label=a=b".into()],
            CONTAINER_KEYS,
        )
        .unwrap();
        let new = Filters::from_json(r#"{"label":["a=b"],"status":["running"]}"#, CONTAINER_KEYS)
            .unwrap();
        let old = Filters::from_json(
            r#"{"label":{"a=b":true},"status":{"running":true}}"#,
            CONTAINER_KEYS,
        )
        .unwrap();
        let mut sorted = flags.0.clone();
        sorted.sort();
        assert_eq!(new.0, sorted);
        assert_eq!(old.0, sorted);
        assert!(Filters::from_json(r#"{"bogus":["x"]}"#, CONTAINER_KEYS)
            .unwrap_err()
            .to_string()
            .contains("invalid filter 'bogus'"));
        assert!(Filters::from_json("{not json", CONTAINER_KEYS).is_err());
        assert!(Filters::parse(&["nokey".into()], CONTAINER_KEYS).is_err());
    }

    #[test]
    fn keys_and_their_values_combine() {
        let f = Filters(vec![
            ("a".into(), "1".into()),
            ("a".into(), "2".into()),
            ("b".into(), "x".into()),
        ]);
        assert!(f.matches(|k, v| (k == "a" && v == "2") || (k == "b" && v == "x")));
        assert!(!f.matches(|k, v| k == "a" && v == "2"));
        let labels = Filters(vec![
            ("label".into(), "a".into()),
            ("label".into(), "b".into()),
        ]);
        assert!(!labels.matches(|_, v| v == "a"));
        assert!(labels.matches(|_, v| v == "a" || v == "b"));
    }

    #[test]
    fn names_match_as_regular_expressions() {
        assert!(matches_name("web", "my-web-1"));
        assert!(matches_name("^web$", "web"));
        assert!(!matches_name("^web$", "web-1"));
        assert!(matches_name("^/web", "web"));
        assert!(!matches_name("[unclosed", "web"));
    }

    #[test]
    fn glob_like_go_path_match() {
        assert!(glob("busy*", "busybox"));
        assert!(glob("busybox:*", "busybox:latest"));
        assert!(!glob("*", "user/app"));
        assert!(glob("*/app", "user/app"));
        assert!(glob("b?sy[a-z]ox", "busybox"));
        assert!(!glob("b[!u]sybox", "busybox"));
    }
}
