//! Which variables an instruction sees, by BuildKit's rules:
//!
//! - ARGs before the first FROM are global: they can be used in FROM lines,
//!   and inside a stage only after `ARG NAME` (which takes the global value).
//! - `--build-arg` values override ARG defaults; they mean nothing for names no ARG declares,
//!   except the predefined proxy args.
//! - TARGETPLATFORM, TARGETOS, TARGETARCH, TARGETVARIANT, BUILDPLATFORM and friends are
//!   predefined in the global scope, and in a stage once declared with ARG.
//! - ENV values win over ARGs of the same name and live on in later stages built FROM this one.

use std::collections::BTreeMap;

use crate::parser::Instruction;
use crate::shell::{ExpandError, Lex};

/// Proxy arguments docker passes through without an ARG (and keeps out of the image history).
pub const PROXY_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// A platform such as `linux/amd64` or `linux/arm/v7`.
#[derive(Clone, Debug, PartialEq)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

impl Platform {
    pub fn to_string_full(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}/{}/{v}", self.os, self.arch),
            None => format!("{}/{}", self.os, self.arch),
        }
    }

    fn args(&self, prefix: &str) -> Vec<(String, String)> {
        vec![
            (format!("{prefix}PLATFORM"), self.to_string_full()),
            (format!("{prefix}OS"), self.os.clone()),
            (format!("{prefix}ARCH"), self.arch.clone()),
            (
                format!("{prefix}VARIANT"),
                self.variant.clone().unwrap_or_default(),
            ),
        ]
    }
}

/// The build-wide inputs: `--build-arg`s and the platforms.
#[derive(Clone, Debug)]
pub struct BuildInputs {
    pub build_args: BTreeMap<String, String>,
    pub target: Platform,
    pub build: Platform,
}

/// The global scope: ARGs before the first FROM and the predefined ones.
#[derive(Clone, Debug)]
pub struct GlobalScope {
    values: BTreeMap<String, String>,
    inputs: BuildInputs,
    lex: Lex,
}

impl GlobalScope {
    /// Evaluates the ARGs before the first FROM (`header`, in order).
    pub fn new(
        header: &[&Instruction],
        inputs: BuildInputs,
        escape: char,
    ) -> Result<GlobalScope, ExpandError> {
        let mut values: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in inputs
            .target
            .args("TARGET")
            .into_iter()
            .chain(inputs.build.args("BUILD"))
        {
            values.insert(k, v);
        }
        let lex = Lex::new(escape);
        for inst in header.iter().filter(|i| i.name() == "arg") {
            for arg in &inst.args {
                let (name, default) = split_arg(arg);
                let value = match inputs.build_args.get(&name) {
                    Some(v) => Some(v.clone()),
                    None => default
                        .map(|d| lex.process_word(&d, &|n| values.get(n).cloned()))
                        .transpose()?,
                };
                if let Some(v) = value {
                    values.insert(name, v);
                }
            }
        }
        Ok(GlobalScope {
            values,
            inputs,
            lex,
        })
    }

    /// Expands a FROM line's image (and --platform) with the global scope.
    pub fn expand(&self, word: &str) -> Result<String, ExpandError> {
        self.lex
            .process_word(word, &|n| self.values.get(n).cloned())
    }

    /// A fresh scope for a stage, starting from the ENV of its base (an earlier stage's, or the image's).
    pub fn stage(&self, base_env: &[(String, String)]) -> StageScope<'_> {
        StageScope {
            global: self,
            env: base_env.to_vec(),
            args: Vec::new(),
        }
    }
}

/// `NAME=default` or `NAME`.
fn split_arg(arg: &str) -> (String, Option<String>) {
    match arg.split_once('=') {
        Some((k, v)) => (k.to_string(), Some(v.to_string())),
        None => (arg.to_string(), None),
    }
}

/// The variables one stage sees so far.
#[derive(Clone, Debug)]
pub struct StageScope<'a> {
    global: &'a GlobalScope,
    /// ENV in order (later wins).
    env: Vec<(String, String)>,
    /// ARGs declared in this stage, with their values (None: declared without a value).
    args: Vec<(String, Option<String>)>,
}

impl StageScope<'_> {
    /// A variable's value: ENV first, then the stage's ARGs; proxies from --build-arg always.
    pub fn get(&self, name: &str) -> Option<String> {
        if let Some((_, v)) = self.env.iter().rev().find(|(k, _)| k == name) {
            return Some(v.clone());
        }
        if let Some((_, v)) = self.args.iter().rev().find(|(k, _)| k == name) {
            return v.clone();
        }
        if PROXY_ARGS.contains(&name) {
            return self.global.inputs.build_args.get(name).cloned();
        }
        None
    }

    pub fn expand(&self, word: &str) -> Result<String, ExpandError> {
        self.global.lex.process_word(word, &|n| self.get(n))
    }

    pub fn expand_words(&self, word: &str) -> Result<Vec<String>, ExpandError> {
        self.global.lex.process_words(word, &|n| self.get(n))
    }

    /// Records an ARG or ENV instruction.
    pub fn apply(&mut self, inst: &Instruction) -> Result<(), ExpandError> {
        match inst.name().as_str() {
            "arg" => {
                for arg in &inst.args {
                    let (name, default) = split_arg(arg);
                    let value = match self.global.inputs.build_args.get(&name) {
                        Some(v) => Some(v.clone()),
                        None => match default {
                            Some(d) => Some(self.expand(&d)?),
                            None => self.global.values.get(&name).cloned(),
                        },
                    };
                    self.args.push((name, value));
                }
            }
            "env" => {
                // Every value on one ENV line sees the variables as they were before it.
                let values = inst
                    .args
                    .chunks(3)
                    .map(|kv| Ok((kv[0].clone(), self.expand(&kv[1])?)))
                    .collect::<Result<Vec<_>, ExpandError>>()?;
                self.env.extend(values);
            }
            _ => {}
        }
        Ok(())
    }

    /// The ENV set so far, for the image config and for RUN.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in &self.env {
            out.retain(|(x, _)| x != k);
            out.push((k.clone(), v.clone()));
        }
        out
    }

    /// What a RUN sees: the ENV and the ARGs that have values (ARGs are not persisted in the image).
    pub fn run_env(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .args
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
            .collect();
        for (k, v) in self.env() {
            out.retain(|(x, _)| *x != k);
            out.push((k, v));
        }
        out
    }

    /// Build args given but declared by no ARG (docker warns about them).
    pub fn unused_build_args<'b>(inputs: &'b BuildInputs, declared: &[String]) -> Vec<&'b str> {
        inputs
            .build_args
            .keys()
            .map(String::as_str)
            .filter(|k| !declared.iter().any(|d| d == k) && !PROXY_ARGS.contains(k))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn inputs(args: &[(&str, &str)]) -> BuildInputs {
        let amd64 = Platform {
            os: "linux".into(),
            arch: "amd64".into(),
            variant: None,
        };
        BuildInputs {
            build_args: args
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            target: amd64.clone(),
            build: amd64,
        }
    }

    #[test]
    fn global_args_feed_from_and_need_redeclaring() {
        let df = parse("ARG VERSION=3.12\nARG IMAGE=python:${VERSION}\nFROM $IMAGE\nLABEL v=$VERSION\nARG VERSION\nLABEL w=$VERSION\n").unwrap();
        let header: Vec<&Instruction> = df.instructions.iter().take(2).collect();
        let global = GlobalScope::new(&header, inputs(&[]), '\\').unwrap();
        assert_eq!(
            global.expand(&df.instructions[2].args[0]).unwrap(),
            "python:3.12"
        );
        let mut stage = global.stage(&[]);
        assert_eq!(
            stage.get("VERSION"),
            None,
            "not visible before ARG in the stage"
        );
        stage.apply(&df.instructions[4]).unwrap();
        assert_eq!(stage.get("VERSION").as_deref(), Some("3.12"));
        let global = GlobalScope::new(&header, inputs(&[("VERSION", "3.13")]), '\\').unwrap();
        assert_eq!(
            global.expand("$IMAGE").unwrap(),
            "python:3.13",
            "--build-arg overrides the default"
        );
    }

    #[test]
    fn env_wins_and_platform_args_need_declaring() {
        let df =
            parse("FROM a\nARG X=arg\nENV X=env Y=$X\nARG TARGETARCH\nARG P=${TARGETPLATFORM}\n")
                .unwrap();
        let global =
            GlobalScope::new(&[], inputs(&[("http_proxy", "http://proxy:3128")]), '\\').unwrap();
        assert_eq!(
            global.expand("$TARGETOS/$BUILDARCH").unwrap(),
            "linux/amd64"
        );
        let mut stage = global.stage(&[("PATH".into(), "/bin".into())]);
        for inst in &df.instructions[1..] {
            stage.apply(inst).unwrap();
        }
        assert_eq!(stage.get("X").as_deref(), Some("env"));
        assert_eq!(
            stage.get("Y").as_deref(),
            Some("arg"),
            "ENV values expand with what was set before"
        );
        assert_eq!(stage.get("TARGETARCH").as_deref(), Some("amd64"));
        assert_eq!(
            stage.get("P").as_deref(),
            Some(""),
            "TARGETPLATFORM is not declared in the stage"
        );
        assert_eq!(
            stage.get("http_proxy").as_deref(),
            Some("http://proxy:3128")
        );
        assert_eq!(
            stage.env(),
            vec![
                ("PATH".to_string(), "/bin".to_string()),
                ("X".into(), "env".into()),
                ("Y".into(), "arg".into())
            ]
        );
        assert!(stage
            .run_env()
            .contains(&("TARGETARCH".to_string(), "amd64".to_string())));
        let given = inputs(&[("NOPE", "1"), ("http_proxy", "x")]);
        let unused = StageScope::unused_build_args(&given, &["X".into()]);
        assert_eq!(unused, vec!["NOPE"]);
    }
}
