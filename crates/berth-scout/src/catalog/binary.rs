//! Packages compiled into binaries: Go's build information (the main
//! module, its dependencies and the Go toolchain as `stdlib`) and the
//! dependency list cargo-auditable embeds in Rust binaries.
//!
//! Only an executable's ELF headers and the one section are read, never the
//! whole file.

use std::io::Read;
use std::path::Path;

use object::{Object, ObjectSection, ReadCache};
use serde::Deserialize;

use crate::package::{Kind, Package};

/// Executables of some size: the place compiled programs are.
pub fn worth_reading(name: &str, mode: u32, size: u64) -> bool {
    size >= 16 << 10 && mode & 0o111 != 0 && !name.ends_with(".sh") && !name.ends_with(".py")
}

pub fn read(path: &Path, relpath: &str) -> Result<Vec<Package>, String> {
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut magic = [0u8; 4];
    if file.read_exact(&mut magic).is_err() || &magic != b"\x7fELF" {
        return Ok(Vec::new());
    }
    let cache = ReadCache::new(file);
    let obj = object::File::parse(&cache)
        .map_err(|e| format!("an ELF file that does not parse ({e}): not read"))?;
    if let Some(sec) = obj.section_by_name(".go.buildinfo") {
        let data = sec.data().map_err(|e| e.to_string())?;
        return go_buildinfo(&obj, data, relpath);
    }
    if let Some(sec) = obj.section_by_name(".dep-v0") {
        let data = sec.data().map_err(|e| e.to_string())?;
        return auditable(data, relpath);
    }
    Ok(Vec::new())
}

const GO_MAGIC: &[u8] = b"\xff Go buildinf:";

/// Go's `debug/buildinfo` format: a 32-byte header, then (Go 1.18 and
/// later) two varint-prefixed strings, or (before) two pointers to Go
/// strings elsewhere in the binary.
fn go_buildinfo<'a>(
    obj: &object::File<'a, &'a ReadCache<std::fs::File>>,
    data: &[u8],
    relpath: &str,
) -> Result<Vec<Package>, String> {
    let bad = || "Go build information that does not parse".to_string();
    if data.len() < 32 || !data.starts_with(GO_MAGIC) {
        return Err(bad());
    }
    let ptr_size = data[14] as usize;
    let flags = data[15];
    let (version, modinfo) = if flags & 2 != 0 {
        let (v, rest) = varint_string(&data[32..]).ok_or_else(bad)?;
        let (m, _) = varint_string(rest).ok_or_else(bad)?;
        (v, m)
    } else {
        let big = flags & 1 != 0;
        let ptr = |b: &[u8]| -> Option<u64> {
            let b = b.get(..ptr_size)?;
            Some(match (ptr_size, big) {
                (4, false) => u32::from_le_bytes(b.try_into().ok()?) as u64,
                (4, true) => u32::from_be_bytes(b.try_into().ok()?) as u64,
                (8, false) => u64::from_le_bytes(b.try_into().ok()?),
                (8, true) => u64::from_be_bytes(b.try_into().ok()?),
                _ => return None,
            })
        };
        let go_string = |addr: u64| -> Option<Vec<u8>> {
            let header = at(obj, addr, 2 * ptr_size as u64)?;
            let (p, n) = (ptr(&header)?, ptr(&header[ptr_size..])?);
            at(obj, p, n)
        };
        let v = go_string(ptr(&data[16..]).ok_or_else(bad)?).ok_or_else(bad)?;
        let m = go_string(ptr(&data[16 + ptr_size..]).ok_or_else(bad)?).ok_or_else(bad)?;
        (v, m)
    };
    let version = String::from_utf8_lossy(&version).into_owned();
    let modinfo = strip_sentinels(&modinfo);
    Ok(go_modules(
        &version,
        &String::from_utf8_lossy(modinfo),
        relpath,
    ))
}

/// Bytes at a virtual address, from the section that holds it.
fn at<'a>(
    obj: &object::File<'a, &'a ReadCache<std::fs::File>>,
    addr: u64,
    size: u64,
) -> Option<Vec<u8>> {
    obj.sections()
        .find_map(|s| s.data_range(addr, size).ok().flatten())
        .map(<[u8]>::to_vec)
}

fn varint_string(b: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let mut n: u64 = 0;
    let mut shift = 0;
    let mut i = 0;
    loop {
        let c = *b.get(i)?;
        n |= ((c & 0x7f) as u64) << shift;
        i += 1;
        if c & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    let end = i.checked_add(usize::try_from(n).ok()?)?;
    Some((b.get(i..end)?.to_vec(), &b[end..]))
}

/// Module info is framed by 16-byte sentinels.
fn strip_sentinels(m: &[u8]) -> &[u8] {
    if m.len() >= 33 && m[m.len() - 17] == b'\n' {
        &m[16..m.len() - 16]
    } else {
        m
    }
}

/// The modules of Go's module info: the main module (`mod`, or for a
/// GOPATH build only its `path`, with the version its `-ldflags -X` set
/// where it did), each `dep` (after its `=>` replacement), and the
/// toolchain as `stdlib`.
fn go_modules(go_version: &str, modinfo: &str, relpath: &str) -> Vec<Package> {
    let mut out: Vec<Package> = Vec::new();
    let mut main_path = None;
    let mut ldflags_version = None;
    for line in modinfo.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["path", path, ..] => main_path = Some(path.to_string()),
            ["mod", path, version, ..] | ["dep", path, version, ..] => {
                out.push(Package::new(Kind::Golang, path, version, relpath));
            }
            // A replacement applies to the module on the line before.
            ["=>", path, version, ..] => {
                if let Some(last) = out.last_mut() {
                    last.name = path.to_string();
                    last.version = version.to_string();
                }
            }
            ["build", setting] => {
                if let Some(flags) = setting.strip_prefix("-ldflags=") {
                    ldflags_version = version_from_ldflags(flags);
                }
            }
            _ => {}
        }
    }
    let has_main = modinfo.lines().any(|l| l.starts_with("mod\t"));
    if let (false, Some(path)) = (has_main, main_path) {
        let version = ldflags_version.unwrap_or_else(|| "(devel)".to_string());
        out.insert(0, Package::new(Kind::Golang, &path, &version, relpath));
    }
    if let Some(v) = go_version
        .split_whitespace()
        .next()
        .filter(|v| v.starts_with("go"))
    {
        out.push(Package::new(Kind::Golang, "stdlib", v, relpath));
    }
    out
}

/// `-X example.com/version.Version=v1.2.3` among the linker flags.
fn version_from_ldflags(flags: &str) -> Option<String> {
    let flags = flags.trim_matches(|c| c == '"' || c == '\'');
    let mut words = flags.split_whitespace();
    while let Some(w) = words.next() {
        let assignment = match w {
            "-X" => words.next()?,
            w => match w.strip_prefix("-X=") {
                Some(a) => a,
                None => continue,
            },
        };
        let (var, value) = assignment.split_once('=')?;
        let name = var.rsplit('.').next().unwrap_or(var).to_ascii_lowercase();
        if matches!(name.as_str(), "version" | "gitversion") && !value.is_empty() {
            return Some(value.to_string());
        }
    }
    None
}

#[derive(Deserialize)]
struct Auditable {
    packages: Vec<AuditablePackage>,
}

#[derive(Deserialize)]
struct AuditablePackage {
    name: String,
    version: String,
    #[serde(default)]
    kind: Option<String>,
}

/// cargo-auditable's `.dep-v0`: zlib-compressed JSON of the dependency
/// tree, the program's own crate and path dependencies among them (as
/// syft lists them); build-time-only dependencies are not in the binary.
fn auditable(data: &[u8], relpath: &str) -> Result<Vec<Package>, String> {
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .take(64 << 20)
        .read_to_end(&mut json)
        .map_err(|e| format!("cargo-auditable data that does not decompress: {e}"))?;
    let deps: Auditable = serde_json::from_slice(&json)
        .map_err(|e| format!("cargo-auditable data that does not parse: {e}"))?;
    Ok(deps
        .packages
        .into_iter()
        .filter(|p| p.kind.as_deref() != Some("build"))
        .map(|p| Package::new(Kind::Cargo, &p.name, &p.version, relpath))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_modinfo_with_replacements() {
        let m = "path\texample.com/cmd\nmod\texample.com\t(devel)\t\ndep\tgolang.org/x/net\tv0.1.0\th1:x\n=>\tgolang.org/x/net\tv0.17.0\th1:y\ndep\tgithub.com/pkg/errors\tv0.9.1\th1:z\nbuild\t-compiler=gc\n";
        let p = go_modules("go1.21.5 X:boringcrypto", m, "bin/x");
        let got: Vec<String> = p
            .iter()
            .map(|p| format!("{}@{}", p.name, p.version))
            .collect();
        assert_eq!(
            got,
            vec![
                "example.com@(devel)",
                "golang.org/x/net@v0.17.0",
                "github.com/pkg/errors@v0.9.1",
                "stdlib@go1.21.5"
            ]
        );
    }

    #[test]
    fn gopath_builds_name_their_main_package() {
        let m = "path\tgithub.com/docker/distribution/cmd/registry\nbuild\t-ldflags=\"-X github.com/docker/distribution/version.Version=v2.8.2+ds1\"\n";
        let p = go_modules("go1.19.8", m, "bin/registry");
        assert_eq!(p[0].name, "github.com/docker/distribution/cmd/registry");
        assert_eq!(p[0].version, "v2.8.2+ds1");
        assert_eq!(p[1].name, "stdlib");
        assert_eq!(version_from_ldflags("-s -w"), None);
    }

    #[test]
    fn varints_and_sentinels() {
        let (s, rest) = varint_string(b"\x03abcde").unwrap();
        assert_eq!((s.as_slice(), rest), (&b"abc"[..], &b"de"[..]));
        assert!(varint_string(b"\x09ab").is_none());
        let framed = [vec![0u8; 16], b"mod\tx\tv1\t\n".to_vec(), vec![0u8; 16]].concat();
        assert_eq!(strip_sentinels(&framed), b"mod\tx\tv1\t\n");
    }

    #[test]
    fn auditable_runtime_dependencies() {
        use std::io::Write;
        let json = br#"{"packages":[{"name":"app","version":"0.1.0","source":"local","root":true},{"name":"smallvec","version":"1.6.0","source":"crates.io"},{"name":"cc","version":"1.0.0","source":"crates.io","kind":"build"}]}"#;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(json).unwrap();
        let p = auditable(&z.finish().unwrap(), "bin/app").unwrap();
        let got: Vec<(&str, &str)> = p
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(got, [("app", "0.1.0"), ("smallvec", "1.6.0")]);
        assert!(auditable(b"junk", "x").is_err());
    }
}
