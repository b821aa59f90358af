//! `build`: a Dockerfile to an image. Stages the target needs are built in
//! order; each step gets a cache key from its parent's key, the step after
//! expansion and the content of its inputs. A hit reuses the layer and runs
//! nothing; a miss runs RUN in a container or copies files for COPY/ADD, and
//! the overlay upper directory becomes the layer.

mod context;
mod execute;
pub mod mounts;
pub mod progress;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_dockerfile::parser::{validate, Instruction};
use berth_dockerfile::scope::{BuildInputs, GlobalScope, Platform, StageScope};
use berth_dockerfile::Dockerfile;
use berth_image::diff::{write_layer, DiffOptions};
use berth_image::spec::{self, ContainerConfig, History, ImageConfig, RootFs};
use berth_image::{Digest, Reference};
use berth_store::LayerRecord;
use serde_json::json;

use self::context::{Context, CopyOptions, Source};
use self::progress::{Progress, Step};
use crate::images::Pending;
use crate::{time, Engine, EngineError};

use crate::cancel::{interrupt_flag, interrupted};

fn check_interrupt() -> Result<(), EngineError> {
    if interrupted() {
        Err(EngineError::Interrupted)
    } else {
        Ok(())
    }
}

/// `build` options, as the user gave them.
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    /// The context directory.
    pub context: PathBuf,
    /// The Dockerfile: a path, or its text (`-f -`).
    pub dockerfile: Option<PathBuf>,
    pub dockerfile_text: Option<String>,
    pub tags: Vec<String>,
    pub target: Option<String>,
    pub build_args: BTreeMap<String, String>,
    pub no_cache: bool,
    pub labels: BTreeMap<String, String>,
    /// RUN steps' network: the default bridge, `host` or `none`.
    pub network: Option<String>,
    /// `--secret` sources by id.
    pub secrets: BTreeMap<String, mounts::SecretSource>,
    /// SOURCE_DATE_EPOCH: image and history times, and file times clamped to it,
    /// so that the same inputs give the same image, byte for byte.
    pub source_date_epoch: Option<i64>,
    /// `--pull`: fetch every FROM image again even when it is here.
    pub pull: bool,
}

/// The image being built: config, layers and the cache key so far.
#[derive(Clone)]
struct State {
    config: ImageConfig,
    layers: Vec<LayerRecord>,
    key: Digest,
    /// When the newest step was first made (from the cache on a hit), so that
    /// a fully cached rebuild gives the same config and so the same image id.
    time: String,
}

impl State {
    fn chain(&self) -> Vec<Digest> {
        self.layers.iter().map(|l| l.chain_id.clone()).collect()
    }

    fn cfg(&mut self) -> &mut ContainerConfig {
        &mut self.config.config
    }

    /// Records a step that changed only metadata.
    fn note(&mut self, created_by: String) {
        self.key = Digest::of(format!("{}\n{created_by}", self.key).as_bytes());
        self.config.history.push(History {
            created: Some(self.time.clone()),
            created_by: Some(created_by),
            comment: Some("buildkit.dockerfile.v0".into()),
            empty_layer: true,
            ..History::default()
        });
    }
}

struct StageDef<'a> {
    name: Option<String>,
    from: &'a Instruction,
    body: Vec<&'a Instruction>,
}

fn stages(df: &Dockerfile) -> (Vec<&Instruction>, Vec<StageDef<'_>>) {
    let mut header = Vec::new();
    let mut out: Vec<StageDef> = Vec::new();
    for inst in &df.instructions {
        if inst.name() == "from" {
            let name = (inst.args.len() == 3).then(|| inst.args[2].to_ascii_lowercase());
            out.push(StageDef {
                name,
                from: inst,
                body: Vec::new(),
            });
        } else if let Some(s) = out.last_mut() {
            s.body.push(inst);
        } else {
            header.push(inst);
        }
    }
    (header, out)
}

fn host_platform() -> Platform {
    let p = spec::host_platform();
    Platform {
        os: p.os,
        arch: p.architecture,
        variant: p.variant,
    }
}

/// A build failure that names the Dockerfile line, as docker prints it.
fn at(inst: &Instruction, file: &str, message: impl std::fmt::Display) -> EngineError {
    EngineError::InvalidArgument(format!(
        "{file}:{}: {message}\n  > {}",
        inst.start_line,
        inst.original.trim()
    ))
}

impl Engine {
    /// Builds the image and returns its id. Progress goes to `progress`.
    pub fn build(&self, opts: &BuildOptions, progress: &Progress) -> Result<Digest, EngineError> {
        interrupt_flag();
        let tags = opts
            .tags
            .iter()
            .map(|t| Reference::parse(t))
            .collect::<Result<Vec<_>, _>>()?;
        let (text, file) = self.read_dockerfile(opts, progress)?;
        let df = berth_dockerfile::parse(&text).map_err(|e| {
            EngineError::invalid(format!("failed to parse {file}: {}", e.located(&file)))
        })?;
        validate(&df).map_err(|e| {
            EngineError::invalid(format!("failed to parse {file}: {}", e.located(&file)))
        })?;
        let ignore = self.load_context(opts, progress)?;
        let ctx = Context {
            dir: opts.context.clone(),
            ignore,
        };
        let (header, defs) = stages(&df);
        let target = match &opts.target {
            Some(t) => defs
                .iter()
                .position(|d| d.name.as_deref() == Some(&t.to_ascii_lowercase()))
                .ok_or_else(|| {
                    EngineError::invalid(format!(
                        "failed to solve: target stage \"{t}\" could not be found"
                    ))
                })?,
            None => defs.len() - 1,
        };
        let inputs = BuildInputs {
            build_args: opts.build_args.clone(),
            target: host_platform(),
            build: host_platform(),
        };
        let global = GlobalScope::new(&header, inputs, df.escape)
            .map_err(|e| EngineError::invalid(e.to_string()))?;
        let needed = needed_stages(&defs, target, &global);
        let mut pending = Pending::new(self)?;
        let mut built: Vec<Option<State>> = vec![None; defs.len()];
        for idx in needed {
            let state = self.build_stage(
                &defs,
                idx,
                &built,
                &global,
                &ctx,
                opts,
                progress,
                &file,
                &mut pending,
            )?;
            built[idx] = Some(state);
        }
        let mut state = built[target].take().expect("target built");
        for (k, v) in &opts.labels {
            state
                .cfg()
                .labels
                .get_or_insert_with(Default::default)
                .insert(k.clone(), v.clone());
        }
        check_interrupt()?;
        let step = progress.step("exporting to image");
        let created = match opts.source_date_epoch {
            Some(epoch) => chrono::DateTime::from_timestamp(epoch, 0)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_else(time::now),
            None => state.time.clone(),
        };
        state.config.created = Some(created.clone());
        if opts.source_date_epoch.is_some() {
            for h in &mut state.config.history {
                h.created = Some(created.clone());
            }
        }
        state.config.rootfs = RootFs {
            kind: "layers".into(),
            diff_ids: state.layers.iter().map(|l| l.diff_id.clone()).collect(),
        };
        let bytes = serde_json::to_vec(&state.config).expect("config serialises");
        let image = self.commit_image(&mut pending, &bytes, state.layers.clone(), &tags)?;
        step.log(&format!("writing image {} done", image.id));
        for t in &tags {
            step.log(&format!("naming to {t} done"));
        }
        step.done();
        progress.finish();
        Ok(image.id)
    }

    fn read_dockerfile(
        &self,
        opts: &BuildOptions,
        progress: &Progress,
    ) -> Result<(String, String), EngineError> {
        let step = progress.step("[internal] load build definition from Dockerfile");
        let (text, file) = match (&opts.dockerfile_text, &opts.dockerfile) {
            (Some(t), _) => (t.clone(), "Dockerfile".to_string()),
            (None, path) => {
                let path = path
                    .clone()
                    .unwrap_or_else(|| opts.context.join("Dockerfile"));
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    EngineError::invalid(format!(
                        "failed to read dockerfile: open {}: {}",
                        path.display(),
                        e.kind().to_string().to_lowercase()
                    ))
                })?;
                (
                    text,
                    path.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "Dockerfile".into()),
                )
            }
        };
        step.log(&format!("transferring dockerfile: {}B done", text.len()));
        step.done();
        Ok((text, file))
    }

    fn load_context(
        &self,
        opts: &BuildOptions,
        progress: &Progress,
    ) -> Result<berth_dockerfile::ignore::Matcher, EngineError> {
        let step = progress.step("[internal] load .dockerignore");
        if !opts.context.is_dir() {
            return Err(EngineError::invalid(format!(
                "unable to prepare context: path {:?} not found",
                opts.context.display().to_string()
            )));
        }
        let dockerfile = opts
            .dockerfile
            .clone()
            .unwrap_or_else(|| opts.context.join("Dockerfile"));
        let matcher = match berth_dockerfile::ignore::ignore_file_for(&opts.context, &dockerfile) {
            Some(f) => {
                let text = std::fs::read_to_string(&f).map_err(|e| EngineError::io(&f, e))?;
                berth_dockerfile::ignore::Matcher::from_text(&text)
                    .map_err(|e| EngineError::invalid(e.to_string()))?
            }
            None => Default::default(),
        };
        step.done();
        let step = progress.step("[internal] load build context");
        let size = context::context_size(&opts.context, &matcher);
        step.log(&format!(
            "transferring context: {} done",
            time::human_size(size)
        ));
        step.done();
        Ok(matcher)
    }

    #[allow(clippy::too_many_arguments)]
    fn build_stage(
        &self,
        defs: &[StageDef],
        idx: usize,
        built: &[Option<State>],
        global: &GlobalScope,
        ctx: &Context,
        opts: &BuildOptions,
        progress: &Progress,
        file: &str,
        pending: &mut Pending,
    ) -> Result<State, EngineError> {
        let def = &defs[idx];
        let total = def.body.len() + 1;
        let base = global
            .expand(&def.from.args[0])
            .map_err(|e| at(def.from, file, e))?;
        let step = progress.step(&format!("[{}1/{total}] FROM {base}", stage_prefix(def)));
        let mut state = self
            .base_state(defs, idx, &base, built, opts.pull)
            .map_err(|e| at(def.from, file, e))?;
        step.done();
        // BuildKit gives every stage a PATH when its base has none.
        let env = state.cfg().env.get_or_insert_with(Vec::new);
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.insert(
                0,
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            );
        }
        let base_env: Vec<(String, String)> = state
            .config
            .config
            .env
            .iter()
            .flatten()
            .filter_map(|e| e.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut scope = global.stage(&base_env);
        let mut triggers: Vec<String> = state.config.config.on_build.take().unwrap_or_default();
        // ONBUILD triggers of the base run first, as docker does.
        let trigger_text: Vec<String> = std::mem::take(&mut triggers);
        let trigger_df = if trigger_text.is_empty() {
            None
        } else {
            Some(
                berth_dockerfile::parse(&trigger_text.join("\n"))
                    .map_err(|e| at(def.from, file, format!("ONBUILD trigger: {}", e.message)))?,
            )
        };
        let steps: Vec<&Instruction> = trigger_df
            .iter()
            .flat_map(|d| d.instructions.iter())
            .chain(def.body.iter().copied())
            .collect();
        for (n, inst) in steps.iter().enumerate() {
            check_interrupt()?;
            let title = format!(
                "[{}{}/{total}] {}",
                stage_prefix(def),
                n + 2,
                inst.original.trim()
            );
            self.step(
                inst, &mut state, &mut scope, defs, built, ctx, opts, progress, &title, pending,
            )
            .map_err(|e| match e {
                EngineError::InvalidArgument(m) if m.starts_with(&format!("{file}:")) => {
                    EngineError::InvalidArgument(m)
                }
                EngineError::Interrupted => EngineError::Interrupted,
                other => at(inst, file, other),
            })?;
        }
        Ok(state)
    }

    /// The state a stage starts from: scratch, an earlier stage, or a local image.
    fn base_state(
        &self,
        defs: &[StageDef],
        idx: usize,
        base: &str,
        built: &[Option<State>],
        pull: bool,
    ) -> Result<State, EngineError> {
        let lbase = base.to_ascii_lowercase();
        if let Some(i) = defs[..idx]
            .iter()
            .position(|d| d.name.as_deref() == Some(&lbase))
        {
            return built[i]
                .clone()
                .ok_or_else(|| EngineError::invalid(format!("stage {base} was not built")));
        }
        if lbase == "scratch" {
            let p = spec::host_platform();
            let config = ImageConfig {
                architecture: p.architecture,
                os: p.os,
                ..ImageConfig::default()
            };
            return Ok(State {
                config,
                layers: vec![],
                key: Digest::of(b"scratch"),
                time: "1970-01-01T00:00:00Z".into(),
            });
        }
        let image = self.image_or_pull(base, pull).map_err(|e| {
            EngineError::invalid(format!(
                "failed to resolve source metadata for {}: {e}",
                Reference::parse(base)
                    .map(|r| r.to_string())
                    .unwrap_or_else(|_| base.into())
            ))
        })?;
        let config = self.image_config(&image)?;
        Ok(State {
            time: config
                .created
                .clone()
                .unwrap_or_else(|| image.created.clone()),
            config,
            layers: image.layers.clone(),
            key: Digest::of(format!("image {}", image.id).as_bytes()),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn step(
        &self,
        inst: &Instruction,
        state: &mut State,
        scope: &mut StageScope,
        defs: &[StageDef],
        built: &[Option<State>],
        ctx: &Context,
        opts: &BuildOptions,
        progress: &Progress,
        title: &str,
        pending: &mut Pending,
    ) -> Result<(), EngineError> {
        let expand = |scope: &StageScope, w: &str| {
            scope
                .expand(w)
                .map_err(|e| EngineError::invalid(e.to_string()))
        };
        let name = inst.name();
        match name.as_str() {
            "run" => {
                let shell = state
                    .config
                    .config
                    .shell
                    .clone()
                    .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
                let mut args = if inst.json {
                    inst.args.clone()
                } else {
                    shell.iter().cloned().chain([inst.args.join(" ")]).collect()
                };
                for h in &inst.heredocs {
                    // A heredoc RUN runs its body as the script.
                    args = shell.iter().cloned().chain([h.content.clone()]).collect();
                }
                let env: Vec<String> = scope
                    .run_env()
                    .into_iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let arg_note: Vec<String> = scope
                    .run_env()
                    .into_iter()
                    .filter(|(k, _)| {
                        !state
                            .config
                            .config
                            .env
                            .iter()
                            .flatten()
                            .any(|e| e.starts_with(&format!("{k}=")))
                    })
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let created_by = if arg_note.is_empty() {
                    format!("RUN {} # buildkit", args.join(" "))
                } else {
                    format!(
                        "RUN |{} {} {} # buildkit",
                        arg_note.len(),
                        arg_note.join(" "),
                        args.join(" ")
                    )
                };
                let network = inst.flag("network").or(opts.network.clone());
                let no_network = network.as_deref() == Some("none");
                let step_network = match network.as_deref() {
                    Some("none") => execute::StepNetwork::None,
                    Some("host") => execute::StepNetwork::Host,
                    _ => execute::StepNetwork::Bridge,
                };
                let key = Digest::of(
                    format!(
                        "{}\nRUN\n{}\n{}\n{}\n{}\n{no_network}",
                        state.key,
                        serde_json::to_string(&args).unwrap(),
                        env.join("\0"),
                        state.config.config.user,
                        state.config.config.working_dir
                    )
                    .as_bytes(),
                );
                let (cwd, user) = (
                    state_workdir(&state.config.config),
                    state.config.config.user.clone(),
                );
                // Sources of `--mount=type=bind,from=...`, mounted for the step.
                let mut roots: Vec<(Option<String>, TempMount)> = Vec::new();
                for f in inst
                    .flags
                    .iter()
                    .filter(|f| f.starts_with("--mount=") && f.contains("type=bind"))
                {
                    let from = f
                        .split(',')
                        .find_map(|kv| kv.strip_prefix("from="))
                        .map(String::from);
                    if !roots.iter().any(|(k, _)| *k == from) {
                        let m = TempMount::for_source(self, from.as_deref(), defs, built, ctx)?;
                        roots.push((from, m));
                    }
                }
                let lookup = |from: Option<&str>| -> Result<PathBuf, EngineError> {
                    roots
                        .iter()
                        .find(|(k, _)| k.as_deref() == from)
                        .map(|(_, m)| m.path().to_path_buf())
                        .ok_or_else(|| EngineError::invalid("bind mount source not prepared"))
                };
                let prepared = mounts::prepare(self, &inst.flags, &cwd, &opts.secrets, &lookup)?;
                self.layer_step(
                    state,
                    key,
                    created_by,
                    opts,
                    progress,
                    title,
                    pending,
                    |root, step| {
                        let mut run_env = env.clone();
                        run_env.extend(prepared.env.iter().cloned());
                        let r = execute::RunStep {
                            rootfs: root.to_path_buf(),
                            args: args.clone(),
                            env: run_env,
                            cwd,
                            user,
                            network: step_network,
                            mounts: prepared.mounts.clone(),
                        };
                        let code = execute::run(self, &r, step)?;
                        if code != 0 {
                            let mut msg = format!(
                                "process \"{}\" did not complete successfully: exit code: {code}",
                                args.join(" ")
                            );
                            let tail = step.tail();
                            if !tail.is_empty() {
                                msg.push_str(&format!(
                                    "\n  last output:\n    {}",
                                    tail.join("\n    ")
                                ));
                            }
                            return Err(EngineError::invalid(msg));
                        }
                        let mut stubs = prepared.stubs.clone();
                        stubs.extend(["/etc/resolv.conf".to_string(), "/etc/hosts".to_string()]);
                        Ok(stubs)
                    },
                )
            }
            "copy" | "add" => self.copy_step(
                inst, state, scope, defs, built, ctx, opts, progress, title, pending,
            ),
            "env" => {
                scope
                    .apply(inst)
                    .map_err(|e| EngineError::invalid(e.to_string()))?;
                let env = state.cfg().env.get_or_insert_with(Vec::new);
                let mut pairs = Vec::new();
                for kv in inst.args.chunks(3) {
                    let v = scope.get(&kv[0]).unwrap_or_default();
                    env.retain(|e| e.split('=').next() != Some(kv[0].as_str()));
                    env.push(format!("{}={v}", kv[0]));
                    pairs.push(format!("{}={v}", kv[0]));
                }
                state.note(format!("ENV {}", pairs.join(" ")));
                progress.step(title).done();
                Ok(())
            }
            "arg" => {
                scope
                    .apply(inst)
                    .map_err(|e| EngineError::invalid(e.to_string()))?;
                let parts: Vec<String> = inst
                    .args
                    .iter()
                    .map(|a| {
                        let k = a.split('=').next().unwrap_or(a);
                        match scope.get(k) {
                            Some(v) => format!("{k}={v}"),
                            None => k.to_string(),
                        }
                    })
                    .collect();
                state.note(format!("ARG {}", parts.join(" ")));
                progress.step(title).done();
                Ok(())
            }
            "workdir" => {
                let p = expand(scope, &inst.args[0])?;
                let cur = state.config.config.working_dir.clone();
                let new = if p.starts_with('/') {
                    p
                } else {
                    format!(
                        "{}/{p}",
                        if cur.is_empty() {
                            ""
                        } else {
                            cur.trim_end_matches('/')
                        }
                    )
                };
                let new = if new.starts_with('/') {
                    new
                } else {
                    format!("/{new}")
                };
                state.cfg().working_dir = new.clone();
                if self.path_in_chain(&state.chain(), &new) {
                    state.note(format!("WORKDIR {new}"));
                    progress.step(title).done();
                    return Ok(());
                }
                // As BuildKit: a missing working directory is made, in a layer of its own.
                let key = Digest::of(format!("{}\nWORKDIR\n{new}", state.key).as_bytes());
                let dir = new.clone();
                self.layer_step(
                    state,
                    key,
                    format!("WORKDIR {new}"),
                    opts,
                    progress,
                    title,
                    pending,
                    |merged, _| {
                        berth_image::layer::create_dir_all_in(merged, Path::new(&dir))
                            .map_err(|e| EngineError::io(Path::new(&dir), e))?;
                        Ok(vec![])
                    },
                )?;
                Ok(())
            }
            "user" => {
                let u = expand(scope, &inst.args[0])?;
                state.cfg().user = u.clone();
                state.note(format!("USER {u}"));
                progress.step(title).done();
                Ok(())
            }
            "label" => {
                let mut parts = Vec::new();
                for kv in inst.args.chunks(3) {
                    let k = expand(scope, &kv[0])?;
                    let v = expand(scope, &kv[1])?;
                    parts.push(format!("{k}={v}"));
                    state
                        .cfg()
                        .labels
                        .get_or_insert_with(Default::default)
                        .insert(k, v);
                }
                state.note(format!("LABEL {}", parts.join(" ")));
                progress.step(title).done();
                Ok(())
            }
            "expose" => {
                let mut ports = Vec::new();
                for a in &inst.args {
                    let p = expand(scope, a)?;
                    let p = if p.contains('/') {
                        p.to_ascii_lowercase()
                    } else {
                        format!("{p}/tcp")
                    };
                    state
                        .cfg()
                        .exposed_ports
                        .get_or_insert_with(Default::default)
                        .insert(p.clone(), json!({}));
                    ports.push(format!("{p}:{{}}"));
                }
                state.note(format!("EXPOSE map[{}]", ports.join(" ")));
                progress.step(title).done();
                Ok(())
            }
            "volume" => {
                let mut vols = Vec::new();
                for a in &inst.args {
                    let v = expand(scope, a)?;
                    state
                        .cfg()
                        .volumes
                        .get_or_insert_with(Default::default)
                        .insert(v.clone(), json!({}));
                    vols.push(v);
                }
                state.note(format!("VOLUME [{}]", vols.join(" ")));
                progress.step(title).done();
                Ok(())
            }
            "cmd" | "entrypoint" => {
                let shell = state
                    .config
                    .config
                    .shell
                    .clone()
                    .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
                let value = if inst.json {
                    inst.args.clone()
                } else if inst.args.is_empty() {
                    vec![]
                } else {
                    shell.into_iter().chain([inst.args.join(" ")]).collect()
                };
                let shown = serde_json::to_string(&value).unwrap();
                if name == "cmd" {
                    state.cfg().cmd = Some(value);
                    state.note(format!("CMD {shown}"));
                } else {
                    state.cfg().entrypoint = Some(value);
                    // docker: a new ENTRYPOINT resets an inherited CMD.
                    state.cfg().cmd = None;
                    state.note(format!("ENTRYPOINT {shown}"));
                }
                progress.step(title).done();
                Ok(())
            }
            "shell" => {
                state.cfg().shell = Some(inst.args.clone());
                state.note(format!(
                    "SHELL {}",
                    serde_json::to_string(&inst.args).unwrap()
                ));
                progress.step(title).done();
                Ok(())
            }
            "stopsignal" => {
                let s = expand(scope, &inst.args[0])?;
                state.cfg().stop_signal = Some(s.clone());
                state.note(format!("STOPSIGNAL {s}"));
                progress.step(title).done();
                Ok(())
            }
            "healthcheck" => {
                let hc = healthcheck(inst, &state.config.config)?;
                state.cfg().healthcheck = Some(hc.clone());
                state.note(format!("HEALTHCHECK {hc}"));
                progress.step(title).done();
                Ok(())
            }
            "onbuild" => {
                let sub = inst.sub.as_ref().expect("validated");
                state
                    .cfg()
                    .on_build
                    .get_or_insert_with(Vec::new)
                    .push(sub.original.trim().to_string());
                state.note(format!("ONBUILD {}", sub.original.trim()));
                progress.step(title).done();
                Ok(())
            }
            "maintainer" => {
                state.config.author = Some(inst.args.join(" "));
                state.note(format!("MAINTAINER {}", inst.args.join(" ")));
                progress.step(title).done();
                Ok(())
            }
            other => Err(EngineError::invalid(format!(
                "unknown instruction: {}",
                other.to_uppercase()
            ))),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn copy_step(
        &self,
        inst: &Instruction,
        state: &mut State,
        scope: &StageScope,
        defs: &[StageDef],
        built: &[Option<State>],
        ctx: &Context,
        opts: &BuildOptions,
        progress: &Progress,
        title: &str,
        pending: &mut Pending,
    ) -> Result<(), EngineError> {
        let words: Vec<String> = inst
            .args
            .iter()
            .map(|a| {
                scope
                    .expand(a)
                    .map_err(|e| EngineError::invalid(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        let (srcs, dest) = if inst.heredocs.is_empty() {
            (
                words[..words.len() - 1].to_vec(),
                words[words.len() - 1].clone(),
            )
        } else {
            (vec![], words.last().cloned().unwrap_or_default())
        };
        let is_url = |s: &str| s.starts_with("http://") || s.starts_with("https://");
        if inst.name() == "copy" && srcs.iter().any(|s| is_url(s)) {
            return Err(EngineError::invalid(
                "COPY cannot fetch URLs: use ADD (with --checksum)",
            ));
        }
        // ADD of a URL: downloaded now (its content keys the cache), never unpacked.
        let downloads = self.store.temp_dir("add")?;
        let mut remote: Vec<Source> = Vec::new();
        for (n, url) in srcs.iter().filter(|s| is_url(s)).enumerate() {
            remote.push(download(
                url,
                &downloads.path().join(n.to_string()),
                inst.flag("checksum").as_deref(),
            )?);
        }
        let workdir = state_workdir(&state.config.config);
        let dest_abs = if dest.starts_with('/') {
            dest.clone()
        } else {
            format!("{}/{dest}", workdir.trim_end_matches('/'))
        };
        let dest_is_dir =
            dest.ends_with('/') || srcs.len() + inst.heredocs.len() > 1 || dest == ".";
        let chown = inst
            .flag("chown")
            .map(|c| scope.expand(&c))
            .transpose()
            .map_err(|e| EngineError::invalid(e.to_string()))?;
        let chmod = inst
            .flag("chmod")
            .map(|m| {
                u32::from_str_radix(&m, 8).map_err(|_| {
                    EngineError::invalid(format!("invalid --chmod={m}: an octal mode like 755"))
                })
            })
            .transpose()?;
        // Where the sources come from: the context, an earlier stage, or an image.
        let from = inst.flag("from");
        let source_root = TempMount::for_source(self, from.as_deref(), defs, built, ctx)?;
        let root = source_root.path();
        // --exclude patterns act like extra .dockerignore lines for this copy.
        // They apply below every source, so a bare `*.log` matches at any depth.
        let excludes: Vec<String> = inst
            .flags
            .iter()
            .filter_map(|f| f.strip_prefix("--exclude="))
            .map(|p| {
                scope.expand(p).map(|p| {
                    if p.starts_with('/') || p.starts_with("**") {
                        p
                    } else {
                        format!("**/{p}")
                    }
                })
            })
            .collect::<Result<_, _>>()
            .map_err(|e| EngineError::invalid(e.to_string()))?;
        let base_patterns = if from.is_none() {
            ctx.ignore.patterns()
        } else {
            vec![]
        };
        let matcher =
            berth_dockerfile::ignore::Matcher::new(&[base_patterns, excludes.clone()].concat())
                .map_err(|e| EngineError::invalid(e.to_string()))?;
        let ignore = if matcher.is_empty() {
            None
        } else {
            Some(&matcher)
        };
        let parents = inst.flag("parents").is_some_and(|v| v != "false");
        let mut sources: Vec<Source> = Vec::new();
        for s in srcs.iter().filter(|s| !is_url(s)) {
            sources.extend(Context::resolve(root, s, ignore)?);
        }
        let local_count = sources.len();
        sources.extend(remote);
        let content =
            context::hash_sources(&sources, ignore, from.is_none().then_some(&self.store.db))?;
        let heredocs: Vec<String> = inst
            .heredocs
            .iter()
            .map(|h| format!("{}\0{}", h.name, h.content))
            .collect();
        let key = Digest::of(
            format!(
                "{}\n{}\n{content}\n{dest_abs}\n{chown:?}\n{chmod:?}\n{}\n{excludes:?}\n{parents}",
                state.key,
                inst.name(),
                heredocs.join("\0")
            )
            .as_bytes(),
        );
        let created_by = format!(
            "{} {} # buildkit",
            inst.name().to_uppercase(),
            words.join(" ")
        );
        let user_spec = chown.clone();
        let extract = inst.name() == "add";
        self.layer_step(
            state,
            key,
            created_by,
            opts,
            progress,
            title,
            pending,
            |merged, _step| {
                let (uid, gid) = match &user_spec {
                    Some(u) => {
                        let r = berth_runtime::user::resolve(merged, u)
                            .map_err(|e| EngineError::invalid(e.to_string()))?;
                        (r.uid, r.gid)
                    }
                    None => (0, 0),
                };
                let copy = CopyOptions { uid, gid, chmod };
                for s in &sources {
                    if extract
                        && is_archive(&s.path)
                        && sources
                            .iter()
                            .position(|x| x.path == s.path)
                            .is_some_and(|i| i < local_count)
                    {
                        berth_image::layer::create_dir_all_in(merged, Path::new(&dest_abs))
                            .map_err(|e| EngineError::io(Path::new(&dest_abs), e))?;
                        let f = std::fs::File::open(&s.path)
                            .map_err(|e| EngineError::io(&s.path, e))?;
                        let (_, reader) = berth_image::layer::decompress(f)
                            .map_err(|e| EngineError::io(&s.path, e))?;
                        let real = merged.join(dest_abs.trim_start_matches('/'));
                        berth_image::layer::apply_layer(reader, &real).map_err(|e| {
                            EngineError::invalid(format!("extracting {}: {e}", s.rel))
                        })?;
                        continue;
                    }
                    // --parents keeps the source's directories under the destination.
                    let dest_for = if parents {
                        // A directory keeps its own path, a file its parent's.
                        let keep = if s.path.is_dir() {
                            Some(Path::new(&s.rel))
                        } else {
                            Path::new(&s.rel).parent()
                        };
                        let keep = keep.map(|p| p.display().to_string()).unwrap_or_default();
                        format!("{}/{keep}", dest_abs.trim_end_matches('/'))
                    } else {
                        dest_abs.clone()
                    };
                    context::copy_into(
                        merged,
                        s,
                        &dest_for,
                        parents
                            || dest_is_dir
                            || std::fs::metadata(merged.join(dest_abs.trim_start_matches('/')))
                                .is_ok_and(|m| m.is_dir()),
                        ignore,
                        copy,
                    )?;
                }
                for h in &inst.heredocs {
                    let target = if dest_is_dir || dest.ends_with('/') {
                        format!("{}/{}", dest_abs.trim_end_matches('/'), h.name)
                    } else {
                        dest_abs.clone()
                    };
                    let content = if h.expand {
                        scope
                            .expand(&h.content)
                            .unwrap_or_else(|_| h.content.clone())
                    } else {
                        h.content.clone()
                    };
                    let tmp = tempfile_in(&self.store, &content)?;
                    let src = Source {
                        path: tmp.path().join("content"),
                        rel: h.name.clone(),
                    };
                    context::copy_into(
                        merged,
                        &src,
                        &target,
                        false,
                        None,
                        CopyOptions {
                            uid,
                            gid,
                            chmod: Some(chmod.unwrap_or(0o644)),
                        },
                    )?;
                }
                Ok(vec![])
            },
        )
    }

    /// A step that makes a layer: reuse it from the cache, or run `make` on an
    /// overlay of the state and keep the upper directory as the new layer.
    #[allow(clippy::too_many_arguments)]
    fn layer_step(
        &self,
        state: &mut State,
        key: Digest,
        created_by: String,
        opts: &BuildOptions,
        progress: &Progress,
        title: &str,
        pending: &mut Pending,
        make: impl FnOnce(&Path, &Step) -> Result<Vec<String>, EngineError>,
    ) -> Result<(), EngineError> {
        let step = progress.step(title);
        let parent = state.layers.last().map(|l| l.chain_id.clone());
        // Clamped file times make different bytes: they key the cache too.
        let key = match opts.source_date_epoch {
            Some(e) => Digest::of(format!("{key}\nepoch {e}").as_bytes()),
            None => key,
        };
        let hit = if opts.no_cache {
            None
        } else {
            self.store.db.cache_get(&key)?
        };
        // A hit counts only if its layer is still there and sits on this very parent.
        let on_parent = |l: &LayerRecord| match &parent {
            None => l.chain_id == l.diff_id,
            Some(p) => l.chain_id == Digest::of(format!("{p} {}", l.diff_id).as_bytes()),
        };
        let (layer, made) = match hit.filter(|(l, _)| {
            on_parent(l)
                && self.store.snapshots.exists(&l.chain_id)
                && self.store.content.contains(&l.blob)
        }) {
            Some(hit) => {
                step.cached();
                hit
            }
            None => {
                let layer = self
                    .make_layer(
                        state,
                        parent.as_ref(),
                        opts.source_date_epoch,
                        &step,
                        pending,
                        make,
                    )
                    .inspect_err(|e| {
                        let first = e.to_string();
                        step.clone_handle()
                            .error(first.lines().next().unwrap_or(""));
                    })?;
                let made = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                self.store.db.cache_put(&key, &layer, &made)?;
                pending.recorded();
                step.done();
                (layer, made)
            }
        };
        berth_store::snapshot::check_depth(state.layers.len() + 1)?;
        state.layers.push(layer);
        state.key = key;
        state.time = made.clone();
        state.config.history.push(History {
            created: Some(made),
            created_by: Some(created_by),
            comment: Some("buildkit.dockerfile.v0".into()),
            empty_layer: false,
            ..History::default()
        });
        Ok(())
    }

    fn make_layer(
        &self,
        state: &State,
        parent: Option<&Digest>,
        epoch: Option<i64>,
        step: &Step,
        pending: &mut Pending,
        make: impl FnOnce(&Path, &Step) -> Result<Vec<String>, EngineError>,
    ) -> Result<LayerRecord, EngineError> {
        pending.wrote();
        let work = self.store.temp_dir("step")?;
        let (upper, workdir, merged) = (
            work.path().join("upper"),
            work.path().join("work"),
            work.path().join("merged"),
        );
        for d in [&upper, &workdir, &merged] {
            std::fs::create_dir(d).map_err(|e| EngineError::io(d, e))?;
        }
        std::fs::set_permissions(&upper, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .map_err(|e| EngineError::io(&upper, e))?;
        self.store
            .snapshots
            .mount_overlay(&state.chain(), &upper, &workdir, &merged, false)?;
        let result = make(&merged, step);
        berth_store::snapshot::unmount(&merged)?;
        mounts::remove_stubs(&upper, &result?);
        // The upper directory is the diff, already in snapshot (overlay) form.
        let clamp = epoch.map(|e| e.max(0) as u64);
        let mut writer = self.store.content.writer()?;
        write_layer(
            &upper,
            &mut writer,
            DiffOptions {
                clamp_mtime: clamp,
                ..Default::default()
            },
        )
        .map_err(|e| EngineError::io(&upper, e))?;
        let size = writer.written();
        let blob = writer.commit(None)?;
        let diff_id = blob.clone();
        let chain_id = match parent {
            None => diff_id.clone(),
            Some(p) => Digest::of(format!("{p} {diff_id}").as_bytes()),
        };
        self.store.snapshots.adopt(&upper, &chain_id)?;
        let content = crate::containers::dir_size(&self.store.snapshots.path(&chain_id));
        self.store
            .db
            .add_snapshot(&chain_id, parent, &diff_id, content)?;
        Ok(LayerRecord {
            blob,
            media_type: spec::MEDIA_OCI_LAYER.into(),
            blob_size: size,
            diff_id,
            chain_id,
        })
    }
}

fn stage_prefix(def: &StageDef) -> String {
    def.name
        .as_ref()
        .map(|n| format!("{n} "))
        .unwrap_or_default()
}

fn state_workdir(c: &ContainerConfig) -> String {
    if c.working_dir.is_empty() {
        "/".into()
    } else {
        c.working_dir.clone()
    }
}

fn is_archive(p: &Path) -> bool {
    let n = p.to_string_lossy();
    [".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar.zst"]
        .iter()
        .any(|e| n.ends_with(e))
}

/// docker's HEALTHCHECK config: Test, Interval, Timeout, StartPeriod, StartInterval, Retries.
fn healthcheck(
    inst: &Instruction,
    cfg: &ContainerConfig,
) -> Result<serde_json::Value, EngineError> {
    if inst
        .args
        .first()
        .is_some_and(|a| a.eq_ignore_ascii_case("none"))
    {
        return Ok(json!({"Test": ["NONE"]}));
    }
    let test = if inst.json {
        std::iter::once("CMD".to_string())
            .chain(inst.args[1..].iter().cloned())
            .collect::<Vec<_>>()
    } else {
        vec!["CMD-SHELL".to_string(), inst.args[1..].join(" ")]
    };
    let _ = cfg;
    let mut hc = json!({"Test": test});
    for (flag, field) in [
        ("interval", "Interval"),
        ("timeout", "Timeout"),
        ("start-period", "StartPeriod"),
        ("start-interval", "StartInterval"),
    ] {
        if let Some(v) = inst.flag(flag) {
            let d = crate::logs::parse_duration(&v).ok_or_else(|| {
                EngineError::invalid(format!("invalid --{flag}={v}: a duration like 30s"))
            })?;
            hc[field] = json!(d.num_nanoseconds().unwrap_or(0));
        }
    }
    if let Some(r) = inst.flag("retries") {
        hc["Retries"] = json!(r
            .parse::<u32>()
            .map_err(|_| EngineError::invalid(format!("invalid --retries={r}")))?);
    }
    Ok(hc)
}

/// Stages the target needs (FROM and COPY --from), in build order.
fn needed_stages(defs: &[StageDef], target: usize, global: &GlobalScope) -> Vec<usize> {
    let mut need = vec![false; defs.len()];
    let mut stack = vec![target];
    while let Some(i) = stack.pop() {
        if need[i] {
            continue;
        }
        need[i] = true;
        let base = global
            .expand(&defs[i].from.args[0])
            .unwrap_or_default()
            .to_ascii_lowercase();
        let mut refs: Vec<String> = vec![base];
        refs.extend(
            defs[i]
                .body
                .iter()
                .filter_map(|inst| inst.flag("from"))
                .map(|f| f.to_ascii_lowercase()),
        );
        for r in refs {
            if let Some(j) = defs[..i]
                .iter()
                .position(|d| d.name.as_deref() == Some(&r))
                .or_else(|| r.parse::<usize>().ok().filter(|n| *n < i))
            {
                stack.push(j);
            }
        }
    }
    (0..defs.len()).filter(|i| need[*i]).collect()
}

/// Fetches `url` into `dir` (as its last path segment), checking `--checksum`.
fn download(url: &str, dir: &Path, checksum: Option<&str>) -> Result<Source, EngineError> {
    std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
    let name = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty() && !n.contains(':'))
        .unwrap_or("download")
        .to_string();
    let path = dir.join(&name);
    let fail = |m: String| EngineError::invalid(format!("ADD {url}: {m}"));
    let mut response = ureq::get(url).call().map_err(|e| fail(e.to_string()))?;
    let mut file = std::fs::File::create(&path).map_err(|e| EngineError::io(&path, e))?;
    let mut hashed = berth_image::DigestWriter::new(&mut file);
    std::io::copy(&mut response.body_mut().as_reader(), &mut hashed)
        .map_err(|e| fail(e.to_string()))?;
    let (digest, _, _) = hashed.finish();
    if let Some(want) = checksum {
        if want != digest.as_str() {
            return Err(fail(format!(
                "checksum mismatch: expected {want}, got {digest}"
            )));
        }
    }
    // docker gives downloaded files mode 0600.
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(|e| EngineError::io(&path, e))?;
    Ok(Source { path, rel: name })
}

/// A directory holding `content` in a file named `content`.
fn tempfile_in(
    store: &berth_store::Store,
    content: &str,
) -> Result<berth_store::TempDir, EngineError> {
    let dir = store.temp_dir("heredoc")?;
    let p = dir.path().join("content");
    std::fs::write(&p, content).map_err(|e| EngineError::io(&p, e))?;
    Ok(dir)
}

/// Where COPY reads from: the context directory, or a read-only mount of a
/// stage's or image's layers, unmounted when dropped.
struct TempMount {
    path: PathBuf,
    _dir: Option<berth_store::TempDir>,
    mounted: bool,
}

impl TempMount {
    fn for_source(
        engine: &Engine,
        from: Option<&str>,
        defs: &[StageDef],
        built: &[Option<State>],
        ctx: &Context,
    ) -> Result<TempMount, EngineError> {
        let Some(from) = from else {
            return Ok(TempMount {
                path: ctx.dir.clone(),
                _dir: None,
                mounted: false,
            });
        };
        let lfrom = from.to_ascii_lowercase();
        let stage = defs
            .iter()
            .position(|d| d.name.as_deref() == Some(&lfrom))
            .or_else(|| from.parse::<usize>().ok());
        let chain: Vec<Digest> = match stage {
            Some(i) => built
                .get(i)
                .and_then(|s| s.as_ref())
                .map(|s| s.chain())
                .ok_or_else(|| {
                    EngineError::invalid(format!(
                        "COPY --from={from}: that stage is not built before this one"
                    ))
                })?,
            None => engine
                .image_or_pull(from, false)
                .map_err(|e| {
                    EngineError::invalid(format!(
                        "COPY --from={from}: no stage of that name, and no such image: {e}"
                    ))
                })?
                .layers
                .iter()
                .map(|l| l.chain_id.clone())
                .collect(),
        };
        let dir = engine.store.temp_dir("from")?;
        let path = dir.path().join("root");
        std::fs::create_dir(&path).map_err(|e| EngineError::io(&path, e))?;
        engine.store.snapshots.mount_readonly(&chain, &path)?;
        Ok(TempMount {
            path,
            _dir: Some(dir),
            mounted: !chain.is_empty(),
        })
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempMount {
    fn drop(&mut self) {
        if self.mounted {
            let _ = berth_store::snapshot::unmount(&self.path);
        }
    }
}

impl Engine {
    /// Whether `path` exists in the merged view of `chain`, looked up layer by
    /// layer from the top (a whiteout hides it).
    fn path_in_chain(&self, chain: &[Digest], path: &str) -> bool {
        let rel = path.trim_start_matches('/');
        for c in chain.iter().rev() {
            if let Ok(m) = std::fs::symlink_metadata(self.store.snapshots.path(c).join(rel)) {
                use std::os::unix::fs::{FileTypeExt, MetadataExt};
                return !(m.file_type().is_char_device() && m.rdev() == 0);
            }
        }
        false
    }
}

/// What `builder prune` removed.
pub struct Pruned {
    pub keys: Vec<Digest>,
    pub reclaimed: u64,
}

impl Engine {
    /// The build cache's total size and how much of it no image uses (`system df`).
    pub fn build_cache_usage(&self) -> Result<(usize, u64, u64), EngineError> {
        let entries = self.store.db.cache_entries()?;
        let mut size = 0;
        let mut reclaimable = 0;
        for (_, layer, _) in &entries {
            let s = self.store.db.snapshot_size(&layer.chain_id)?.unwrap_or(0);
            size += s;
            if !self.image_uses_chain(&layer.chain_id)? {
                reclaimable += s;
            }
        }
        Ok((entries.len(), size, reclaimable))
    }

    /// Each build cache entry: its key, size, and when it was made and last used.
    pub fn build_cache_entries(&self) -> Result<Vec<(String, u64, String, String)>, EngineError> {
        let mut out = Vec::new();
        for (key, layer, used) in self.store.db.cache_entries()? {
            let size = self.store.db.snapshot_size(&layer.chain_id)?.unwrap_or(0);
            out.push((key.hex()[..25].to_string(), size, used.clone(), used));
        }
        Ok(out)
    }

    fn image_uses_chain(&self, chain: &Digest) -> Result<bool, EngineError> {
        Ok(self
            .store
            .db
            .images()?
            .iter()
            .any(|i| i.layers.iter().any(|l| &l.chain_id == chain)))
    }

    /// `builder prune`: cache entries no image uses (all with `all`), last
    /// used before `until` when given; their layers go when nothing else holds them.
    pub fn prune_build_cache(
        &self,
        all: bool,
        until: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Pruned, EngineError> {
        if all {
            self.store.db.clear_file_hashes()?;
        }
        let mut pruned = Pruned {
            keys: Vec::new(),
            reclaimed: 0,
        };
        for (key, layer, last_used) in self.store.db.cache_entries()? {
            let used = chrono::NaiveDateTime::parse_from_str(&last_used, "%Y-%m-%d %H:%M:%S")
                .map(|t| t.and_utc())
                .ok();
            if until.is_some_and(|u| used.is_some_and(|t| t > u)) {
                continue;
            }
            if !all && self.image_uses_chain(&layer.chain_id)? {
                continue;
            }
            self.store.db.cache_remove(&key)?;
            pruned.keys.push(key);
        }
        // What the entries alone held is garbage now.
        pruned.reclaimed = self.collect_garbage();
        Ok(pruned)
    }
}
