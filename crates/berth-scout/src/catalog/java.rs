//! Java archives: the Maven coordinates in `META-INF/maven/**/pom.properties`
//! of a jar, war or ear, and of the jars packed inside one (Spring Boot's
//! `BOOT-INF/lib`, a war's `WEB-INF/lib`).

use std::io::{Read, Seek};
use std::path::Path;

use crate::package::{Kind, Package};

/// Inner archives larger than this are not unpacked into memory.
const NESTED_LIMIT: u64 = 64 << 20;

pub fn read_archive(path: &Path, relpath: &str) -> Result<Vec<Package>, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    read_zip(file, relpath, true, &mut out)?;
    Ok(out)
}

fn read_zip<R: Read + Seek>(
    reader: R,
    location: &str,
    nested: bool,
    out: &mut Vec<Package>,
) -> Result<(), String> {
    let mut zip =
        zip::ZipArchive::new(reader).map_err(|e| format!("not a readable Java archive: {e}"))?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| e.to_string())?;
        let Ok(name) = entry.name().map(|n| n.to_string()) else {
            continue;
        };
        let is_pom = name.starts_with("META-INF/maven/") && name.ends_with("/pom.properties");
        let is_jar = nested && name.ends_with(".jar");
        if !is_pom && !is_jar {
            continue;
        }
        if entry.size() > NESTED_LIMIT {
            continue;
        }
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{name}: {e}"))?;
        if is_pom {
            if let Some(p) = pom_properties(&String::from_utf8_lossy(&bytes), location) {
                out.push(p);
            }
        } else {
            let inner = format!("{location}:{name}");
            // An inner archive that does not read is not the outer one's fault.
            let _ = read_zip(std::io::Cursor::new(bytes), &inner, false, out);
        }
    }
    Ok(())
}

fn pom_properties(text: &str, location: &str) -> Option<Package> {
    let get = |key: &str| {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == key).then(|| v.trim().to_string())
        })
    };
    let (group, artifact, version) = (get("groupId")?, get("artifactId")?, get("version")?);
    let mut p = Package::new(Kind::Maven, &artifact, &version, location);
    p.namespace = Some(group);
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn jar(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut buf);
            for (name, data) in entries {
                z.start_file(*name, zip::write::SimpleFileOptions::default())
                    .unwrap();
                z.write_all(data).unwrap();
            }
            z.finish().unwrap();
        }
        buf.into_inner()
    }

    #[test]
    fn coordinates_of_jars_and_nested_jars() {
        let inner = jar(&[(
            "META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties",
            b"groupId=org.apache.logging.log4j\nartifactId=log4j-core\nversion=2.14.1\n",
        )]);
        let outer = jar(&[
            (
                "META-INF/maven/com.example/app/pom.properties",
                b"#x\nversion=1.0\ngroupId=com.example\nartifactId=app\n",
            ),
            ("BOOT-INF/lib/log4j-core-2.14.1.jar", &inner),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.jar");
        std::fs::write(&path, outer).unwrap();
        let p = read_archive(&path, "app/app.jar").unwrap();
        let got: Vec<String> = p
            .iter()
            .map(|p| p.advisory_name() + "@" + &p.version)
            .collect();
        assert_eq!(
            got,
            vec![
                "com.example:app@1.0",
                "org.apache.logging.log4j:log4j-core@2.14.1"
            ]
        );
        assert_eq!(p[1].path, "app/app.jar:BOOT-INF/lib/log4j-core-2.14.1.jar");
        std::fs::write(&path, b"not a zip").unwrap();
        assert!(read_archive(&path, "x.jar").is_err());
    }
}
