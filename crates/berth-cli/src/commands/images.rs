//! images, tag, rmi, history, save, load, import.

use std::io::{IsTerminal, Read, Write};

use berth_engine::{time, Engine};
use berth_image::Reference;
use serde_json::json;

use super::containers::each;
use super::{fail, CliError};
use crate::cli::{
    HistoryArgs, ImagePruneArgs, ImagesArgs, ImportArgs, LoadArgs, RmiArgs, SaveArgs, TagArgs,
};
use crate::format;

const IMAGE_HEADERS: &[(&str, &str)] = &[
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Digest", "DIGEST"),
    ("ID", "IMAGE ID"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Size", "SIZE"),
    ("Containers", "CONTAINERS"),
    ("SharedSize", "SHARED SIZE"),
    ("UniqueSize", "UNIQUE SIZE"),
    ("VirtualSize", "VIRTUAL SIZE"),
];

pub fn images(engine: &Engine, a: ImagesArgs) -> Result<i32, CliError> {
    let mut filters = super::filters::parse(&a.filter, berth_engine::filters::IMAGE_KEYS)?;
    if let Some(r) = &a.reference {
        filters.0.push(("reference".into(), r.clone()));
    }
    let mut rows = Vec::new();
    for (img, tags) in engine.select_images(&filters).map_err(fail)? {
        // One row per tag; an untagged image is one <none> row.
        let names: Vec<Option<&Reference>> = if tags.is_empty() {
            vec![None]
        } else {
            tags.iter().map(Some).collect()
        };
        for tag in names {
            let id = if a.no_trunc {
                img.record.id.to_string()
            } else {
                img.record.id.short().to_string()
            };
            let digest = img
                .digests
                .first()
                .and_then(|d| d.split_once('@').map(|(_, d)| d.to_string()))
                .unwrap_or_else(|| "<none>".into());
            rows.push(json!({
                "Containers": "N/A",
                "CreatedAt": time::parse(&img.record.created).map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()).unwrap_or_default(),
                "CreatedSince": time::ago(&img.record.created),
                "Digest": digest,
                "ID": id,
                "Repository": tag.map(|t| t.familiar_name()).unwrap_or_else(|| "<none>".into()),
                "SharedSize": "N/A",
                "Size": time::human_size(img.record.size),
                "Tag": tag.and_then(|t| t.tag.clone()).unwrap_or_else(|| "<none>".into()),
                "UniqueSize": "N/A",
                "VirtualSize": time::human_size(img.record.size),
            }));
        }
    }
    if a.quiet {
        let mut out = std::io::stdout().lock();
        let mut seen = std::collections::HashSet::new();
        for r in &rows {
            let id = r["ID"].as_str().unwrap();
            if seen.insert(id.to_string()) {
                writeln!(out, "{id}").ok();
            }
        }
        return Ok(0);
    }
    let default = if a.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    super::print_listing(a.format.as_deref(), default, &rows, IMAGE_HEADERS)
}

pub fn tag(engine: &Engine, a: TagArgs) -> Result<i32, CliError> {
    engine.tag(&a.source, &a.target).map_err(fail)?;
    Ok(0)
}

pub fn rmi(engine: &Engine, a: RmiArgs) -> Result<i32, CliError> {
    each(&a.images, |name| engine.remove_image(name, a.force))
}

pub fn history(engine: &Engine, a: HistoryArgs) -> Result<i32, CliError> {
    let rows = engine.history(&a.image).map_err(fail)?;
    let shown_id = |id: &str| {
        if a.no_trunc || id == "<missing>" {
            id.to_string()
        } else {
            id.trim_start_matches("sha256:")[..12].to_string()
        }
    };
    if a.quiet {
        let mut out = std::io::stdout().lock();
        for r in &rows {
            writeln!(out, "{}", shown_id(&r.id)).ok();
        }
        return Ok(0);
    }
    let json_rows: Vec<_> = rows
        .iter()
        .map(|r| {
            let id = shown_id(&r.id);
            let created_by = r.created_by.replace('\t', " ");
            json!({
                "ID": id,
                "CreatedSince": if a.human { time::ago(&r.created) } else { r.created.clone() },
                "CreatedAt": r.created,
                "CreatedBy": if a.no_trunc { created_by } else { format::ellipsis(&created_by, 45) },
                "Size": if a.human { time::human_size(r.size) } else { r.size.to_string() },
                "Comment": r.comment,
            })
        })
        .collect();
    let headers = [
        ("ID", "IMAGE"),
        ("CreatedSince", "CREATED"),
        ("CreatedAt", "CREATED AT"),
        ("CreatedBy", "CREATED BY"),
        ("Size", "SIZE"),
        ("Comment", "COMMENT"),
    ];
    let default = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";
    super::print_listing(a.format.as_deref(), default, &json_rows, &headers)
}

pub fn save(engine: &Engine, a: SaveArgs) -> Result<i32, CliError> {
    super::write_output(a.output.as_deref(), "save image", |w| {
        engine.save(&a.images, w).map_err(fail)
    })
}

/// A path, or stdin for `-` / no path. A terminal on stdin is refused, as docker does.
fn input(path: Option<&str>, what: &str) -> Result<Box<dyn Read>, CliError> {
    match path {
        Some(p) if p != "-" => {
            let f =
                std::fs::File::open(p).map_err(|e| CliError::new(1, format!("open {p}: {e}")))?;
            Ok(Box::new(std::io::BufReader::with_capacity(1 << 20, f)))
        }
        _ => {
            if std::io::stdin().is_terminal() {
                return Err(CliError::new(1, format!("requested {what} from STDIN, but STDIN is empty: use -i FILE or pipe an archive in")));
            }
            Ok(Box::new(std::io::BufReader::with_capacity(
                1 << 20,
                std::io::stdin(),
            )))
        }
    }
}

pub fn load(engine: &Engine, a: LoadArgs) -> Result<i32, CliError> {
    let path = a.input.as_ref().map(|p| p.to_string_lossy().into_owned());
    let mut r = input(path.as_deref(), "load")?;
    let lines = engine.load(&mut r).map_err(fail)?;
    if !a.quiet {
        lines.iter().for_each(|l| println!("{l}"));
    }
    Ok(0)
}

pub fn import(engine: &Engine, a: ImportArgs) -> Result<i32, CliError> {
    let mut r = input(Some(&a.file), "import")?;
    let opts = berth_engine::images::ImportOptions {
        changes: a.change,
        message: a.message,
        platform: a
            .platform
            .as_deref()
            .map(berth_image::spec::Platform::parse)
            .transpose()
            .map_err(|e| CliError::new(1, e))?,
    };
    let id = engine
        .import(&mut r, &a.file, a.reference.as_deref(), &opts)
        .map_err(fail)?;
    println!("{id}");
    Ok(0)
}

/// `image prune`.
pub fn prune(engine: &Engine, a: ImagePruneArgs) -> Result<i32, CliError> {
    let filters = super::filters::prune(&a.filter)?;
    let what = super::images_to_prune(a.all);
    if !a.force
        && !super::containers::confirm(&format!(
            "WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] "
        ))
    {
        return Ok(0);
    }
    let (lines, freed) = engine
        .prune_images(a.all, &|i| filters.selects(&i.record.created, &i.labels))
        .map_err(fail)?;
    super::print_deleted("Images", &lines);
    println!("Total reclaimed space: {}", time::human_size(freed));
    Ok(0)
}
