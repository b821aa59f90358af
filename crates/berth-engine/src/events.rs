//! `events`: what happened to containers and images, recorded in the store
//! by whichever berth process did it (there is no daemon to hear it), and
//! read back, or followed as it grows.

use std::collections::BTreeMap;
use std::time::Duration;

use berth_store::db::EventRow;
use chrono::{DateTime, Utc};

use crate::filters::Filters;
use crate::model::Container;
use crate::{Engine, EngineError};

/// One event, in docker's terms.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub time_nano: i64,
    /// `container` or `image`.
    pub kind: String,
    pub action: String,
    /// A container id, or an image's name or id.
    pub id: String,
    pub attributes: BTreeMap<String, String>,
}

impl Event {
    fn from_row(r: &EventRow) -> Event {
        Event {
            time_nano: r.time_nano,
            kind: r.kind.clone(),
            action: r.action.clone(),
            id: r.actor.clone(),
            attributes: serde_json::from_str(&r.attributes).unwrap_or_default(),
        }
    }

    pub fn time(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_nanos(self.time_nano)
    }

    /// docker's line: `TIME TYPE ACTION ID (k=v, ...)`.
    pub fn line(&self) -> String {
        let attrs: Vec<String> = self
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!(
            "{} {} {} {} ({})",
            self.time().format("%Y-%m-%dT%H:%M:%S%.9fZ"),
            self.kind,
            self.action,
            self.id,
            attrs.join(", ")
        )
    }

    /// docker's JSON message (what `--format '{{json .}}'` prints).
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "status": self.action,
            "id": self.id,
            "from": self.attributes.get("image").cloned().unwrap_or_default(),
            "Type": self.kind,
            "Action": self.action,
            "Actor": {"ID": self.id, "Attributes": self.attributes},
            "scope": "local",
            "time": self.time_nano / 1_000_000_000,
            "timeNano": self.time_nano,
        })
    }

    /// docker's `--filter`: the same key ORs, different keys AND (every label).
    fn matches(&self, filters: &Filters) -> bool {
        filters.matches(|key, v| match key {
            "type" => self.kind == v,
            "event" => self.action == v || self.action.split(':').next() == Some(v),
            "container" => {
                self.kind == "container"
                    && (self.id.starts_with(v)
                        || self.attributes.get("name").map(String::as_str) == Some(v))
            }
            "image" => {
                self.attributes.get("image").map(String::as_str) == Some(v)
                    || (self.kind == "image"
                        && (self.id == v
                            || self.attributes.get("name").map(String::as_str) == Some(v)))
            }
            "network" | "volume" => {
                self.kind == key
                    && (self.id.starts_with(v)
                        || self.attributes.get("name").map(String::as_str) == Some(v))
            }
            "label" => crate::filters::labels_match(&self.attributes, v),
            _ => false,
        })
    }
}

/// The filter keys `events` takes.
pub const FILTER_KEYS: &[&str] = &[
    "type",
    "event",
    "container",
    "image",
    "label",
    "network",
    "volume",
];

#[derive(Clone, Debug, Default)]
pub struct EventOptions {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub filters: Vec<(String, String)>,
}

impl Engine {
    /// Records an event; a store that cannot take it does not fail the
    /// operation it reports.
    pub(crate) fn emit(
        &self,
        kind: &str,
        action: &str,
        id: &str,
        attributes: BTreeMap<String, String>,
    ) {
        let row = EventRow {
            seq: 0,
            time_nano: Utc::now().timestamp_nanos_opt().unwrap_or(0),
            kind: kind.into(),
            action: action.into(),
            actor: id.into(),
            attributes: serde_json::to_string(&attributes).expect("strings serialise"),
        };
        if let Err(e) = self.store.db.add_event(&row) {
            tracing::debug!(error = %e, "event not recorded");
        }
    }

    /// A container event, with docker's attributes (image, name, labels).
    pub(crate) fn emit_container(&self, c: &Container, action: &str, extra: &[(&str, String)]) {
        let mut attrs: BTreeMap<String, String> = c.config.labels.clone();
        attrs.insert("image".into(), c.config.image.clone());
        attrs.insert("name".into(), c.short_name().to_string());
        for (k, v) in extra {
            attrs.insert(k.to_string(), v.clone());
        }
        self.emit("container", action, &c.id, attrs);
    }

    /// An image event: `id` is what docker shows (an image id, or a name
    /// for pull/push/load/save), `name` the reference it is about.
    pub(crate) fn emit_image(&self, action: &str, id: &str, name: &str) {
        let attrs = BTreeMap::from([("name".to_string(), name.to_string())]);
        self.emit("image", action, id, attrs);
    }

    /// `events`: past events from `since`, then new ones as they happen
    /// until `until` (forever without it, unless only the past was asked).
    pub fn events(
        &self,
        o: &EventOptions,
        out: &mut dyn FnMut(&Event) -> std::io::Result<()>,
    ) -> Result<(), EngineError> {
        self.events_until(o, out, &|| false)
    }

    /// [`Engine::events`], following only until `gone()` (the reader left).
    pub fn events_until(
        &self,
        o: &EventOptions,
        out: &mut dyn FnMut(&Event) -> std::io::Result<()>,
        gone: &dyn Fn() -> bool,
    ) -> Result<(), EngineError> {
        let filters = Filters(o.filters.clone());
        if let Some((k, _)) = filters
            .0
            .iter()
            .find(|(k, _)| !FILTER_KEYS.contains(&k.as_str()))
        {
            return Err(EngineError::invalid(format!("invalid filter '{k}'")));
        }
        let mut last = match o.since {
            Some(_) => 0,
            None => self.store.db.last_event_seq()?,
        };
        loop {
            for row in self.store.db.events_after(last)? {
                last = row.seq;
                let e = Event::from_row(&row);
                let t = e.time();
                if o.since.is_some_and(|s| t < s) || !e.matches(&filters) {
                    continue;
                }
                if o.until.is_some_and(|u| t > u) {
                    return Ok(());
                }
                out(&e).map_err(|err| EngineError::io(std::path::Path::new("stdout"), err))?;
            }
            if o.until.is_some_and(|u| Utc::now() > u) || gone() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
