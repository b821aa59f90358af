//! `import --change`: the Dockerfile instructions that set image config
//! (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL).
//! A small reader for single instructions; full Dockerfiles belong to berth-dockerfile.

use berth_image::spec::ContainerConfig;

use crate::EngineError;

/// Applies one `--change` line to `config`.
pub fn apply(config: &mut ContainerConfig, change: &str) -> Result<(), EngineError> {
    let change = change.trim();
    let (word, rest) = change
        .split_once(char::is_whitespace)
        .unwrap_or((change, ""));
    let rest = rest.trim();
    let bad = |why: &str| EngineError::invalid(format!("invalid --change {change:?}: {why}"));
    match word.to_ascii_uppercase().as_str() {
        "CMD" => config.cmd = Some(command(rest)),
        "ENTRYPOINT" => config.entrypoint = Some(command(rest)),
        "ENV" => {
            let env = config.env.get_or_insert_with(Vec::new);
            for (k, v) in key_values(rest).ok_or_else(|| bad("ENV needs KEY=VALUE or KEY VALUE"))? {
                env.retain(|e| e.split('=').next() != Some(k.as_str()));
                env.push(format!("{k}={v}"));
            }
        }
        "LABEL" => {
            let labels = config.labels.get_or_insert_with(Default::default);
            for (k, v) in key_values(rest).ok_or_else(|| bad("LABEL needs KEY=VALUE"))? {
                labels.insert(k, v);
            }
        }
        "EXPOSE" => {
            let ports = config.exposed_ports.get_or_insert_with(Default::default);
            for p in rest.split_whitespace() {
                let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
                if num.parse::<u16>().is_err() || !matches!(proto, "tcp" | "udp" | "sctp") {
                    return Err(bad("EXPOSE needs PORT[/PROTOCOL]"));
                }
                ports.insert(format!("{num}/{proto}"), serde_json::json!({}));
            }
        }
        "USER" => config.user = rest.to_string(),
        "WORKDIR" => config.working_dir = rest.to_string(),
        "STOPSIGNAL" => config.stop_signal = Some(rest.to_string()),
        "ONBUILD" => config.on_build.get_or_insert_with(Vec::new).push(rest.to_string()),
        "VOLUME" => {
            let volumes = config.volumes.get_or_insert_with(Default::default);
            let paths = json_array(rest).unwrap_or_else(|| rest.split_whitespace().map(String::from).collect());
            for p in paths {
                volumes.insert(p, serde_json::json!({}));
            }
        }
        _ => {
            return Err(EngineError::invalid(format!(
                "{word} is not a valid change command (use CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME or WORKDIR)"
            )))
        }
    }
    if rest.is_empty() && !matches!(word.to_ascii_uppercase().as_str(), "USER" | "WORKDIR") {
        return Err(bad("missing arguments"));
    }
    Ok(())
}

fn json_array(s: &str) -> Option<Vec<String>> {
    s.starts_with('[')
        .then(|| serde_json::from_str(s).ok())
        .flatten()
}

/// Exec form (`["a","b"]`) as is; shell form runs under `/bin/sh -c`.
fn command(s: &str) -> Vec<String> {
    json_array(s).unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into(), s.into()])
}

/// `A=1 B="two words"` or the legacy `KEY value with spaces`.
fn key_values(s: &str) -> Option<Vec<(String, String)>> {
    let first = s.split_whitespace().next()?;
    if !first.contains('=') {
        let (k, v) = s.split_once(char::is_whitespace)?;
        return Some(vec![(k.to_string(), v.trim().to_string())]);
    }
    let mut out = Vec::new();
    for word in shell_words(s) {
        let (k, v) = word.split_once('=')?;
        if k.is_empty() {
            return None;
        }
        out.push((k.to_string(), v.to_string()));
    }
    Some(out)
}

/// Splits on unquoted white space, removing quotes and backslash escapes.
fn shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    let mut in_word = false;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (q, '\\') if q != Some('\'') => {
                cur.extend(chars.next());
                in_word = true;
            }
            (_, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_changes() {
        let mut c = ContainerConfig::default();
        apply(&mut c, r#"CMD ["sh", "-c", "echo hi"]"#).unwrap();
        assert_eq!(c.cmd.as_ref().unwrap()[2], "echo hi");
        apply(&mut c, "ENTRYPOINT echo hi").unwrap();
        assert_eq!(
            c.entrypoint.as_ref().unwrap(),
            &vec!["/bin/sh".to_string(), "-c".into(), "echo hi".into()]
        );
        apply(&mut c, r#"ENV A=1 B="two words""#).unwrap();
        apply(&mut c, "ENV C three words").unwrap();
        assert_eq!(
            c.env.as_ref().unwrap(),
            &vec![
                "A=1".to_string(),
                "B=two words".into(),
                "C=three words".into()
            ]
        );
        apply(&mut c, "EXPOSE 80 53/udp").unwrap();
        assert!(c.exposed_ports.as_ref().unwrap().contains_key("53/udp"));
        apply(&mut c, "WORKDIR /app").unwrap();
        apply(&mut c, "USER 1000:1000").unwrap();
        apply(&mut c, "LABEL a=b").unwrap();
        assert_eq!(
            (c.working_dir.as_str(), c.user.as_str()),
            ("/app", "1000:1000")
        );
        assert!(apply(&mut c, "RUN echo").is_err());
        assert!(apply(&mut c, "EXPOSE http").is_err());
        assert!(apply(&mut c, "CMD").is_err());
    }
}
