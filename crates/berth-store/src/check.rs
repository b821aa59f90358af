//! `system check`: every blob's digest and every reference in the DB. What
//! nothing records (left by a failed or killed operation, or being written
//! by one in progress) is not a problem: it is garbage that collection
//! takes (see `gc`).

use crate::Store;
use crate::StoreError;

/// Problems found, one readable line each; empty when the store is sound.
pub fn check(store: &Store) -> Result<Vec<String>, StoreError> {
    let mut problems = Vec::new();
    let blobs = store.root().join("blobs/sha256");
    for entry in std::fs::read_dir(&blobs).map_err(|e| StoreError::io(blobs.clone(), e))? {
        let entry = entry.map_err(|e| StoreError::io(blobs.clone(), e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(expected) = format!("sha256:{name}").parse::<berth_image::Digest>() else {
            problems.push(format!("blob {name}: not a digest name"));
            continue;
        };
        let mut file =
            std::fs::File::open(entry.path()).map_err(|e| StoreError::io(entry.path(), e))?;
        let mut hasher = berth_image::DigestWriter::new(std::io::sink());
        std::io::copy(&mut file, &mut hasher).map_err(|e| StoreError::io(entry.path(), e))?;
        let (actual, _, _) = hasher.finish();
        if actual != expected {
            problems.push(format!("blob {expected}: content has digest {actual}"));
        }
    }
    for image in store.db.images()? {
        let short = image.id.short();
        for (what, d) in [("config", &image.id), ("manifest", &image.manifest)] {
            if !store.content.contains(d) {
                problems.push(format!("image {short}: {what} blob {d} is missing"));
            }
        }
        for l in &image.layers {
            if !store.content.contains(&l.blob) {
                problems.push(format!("image {short}: layer blob {} is missing", l.blob));
            }
            if !store.snapshots.exists(&l.chain_id) {
                problems.push(format!("image {short}: snapshot {} is missing", l.chain_id));
            }
        }
    }
    for chain in store.db.snapshot_ids()? {
        if !store.snapshots.exists(&chain) {
            problems.push(format!(
                "snapshot {chain}: recorded but its directory is missing"
            ));
        }
    }
    for c in store.db.containers()? {
        let Ok(id) = c.image_id.parse() else {
            problems.push(format!(
                "container {}: image id {:?} is not a digest",
                &c.id[..12],
                c.image_id
            ));
            continue;
        };
        if store.db.image(&id)?.is_none() {
            problems.push(format!(
                "container {}: image {} is missing",
                &c.id[..12.min(c.id.len())],
                c.image_id
            ));
        }
        // A dead container's removal was interrupted: rm -f finishes it.
        let dead = serde_json::from_str::<serde_json::Value>(&c.record)
            .is_ok_and(|r| r["State"]["Dead"] == serde_json::json!(true));
        if !dead && !store.container_dir(&c.id).is_dir() {
            problems.push(format!(
                "container {}: directory is missing",
                &c.id[..12.min(c.id.len())]
            ));
        }
    }
    Ok(problems)
}
