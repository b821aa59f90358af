//! What a catalogue finds: packages, and the operating system they belong to.

use serde::{Deserialize, Serialize};

/// A package's type, named as in package URLs (and in docker scout's
/// `--only-package-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Deb,
    Apk,
    Rpm,
    Pypi,
    Npm,
    Golang,
    Cargo,
    Maven,
    /// A program known by its name and a version string inside it.
    Binary,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::Deb,
        Kind::Apk,
        Kind::Rpm,
        Kind::Pypi,
        Kind::Npm,
        Kind::Golang,
        Kind::Cargo,
        Kind::Maven,
        Kind::Binary,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Deb => "deb",
            Kind::Apk => "apk",
            Kind::Rpm => "rpm",
            Kind::Pypi => "pypi",
            Kind::Npm => "npm",
            Kind::Golang => "golang",
            Kind::Cargo => "cargo",
            Kind::Maven => "maven",
            Kind::Binary => "binary",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        let s = s.trim().to_ascii_lowercase();
        let s = match s.as_str() {
            "go" => "golang",
            "python" => "pypi",
            "java" => "maven",
            "rust" | "crates.io" => "cargo",
            "generic" => "binary",
            other => other,
        };
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the operating system's release decides the package's
    /// ecosystem (a distribution's own packages).
    pub fn is_os(self) -> bool {
        matches!(self, Kind::Deb | Kind::Apk | Kind::Rpm)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One installed package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub kind: Kind,
    pub name: String,
    pub version: String,
    /// A distribution package's source package and its version, which is what
    /// distributions' advisories name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Maven's group id, npm's scope is part of the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<String>,
    /// The file it was read from, relative to the image's root.
    pub path: String,
    /// The diff id of the layer it came from; set when layers are squashed.
    #[serde(default)]
    pub layer: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub name: String,
    pub version: String,
}

impl Package {
    pub fn new(kind: Kind, name: &str, version: &str, path: &str) -> Package {
        Package {
            kind,
            name: name.to_string(),
            version: version.to_string(),
            source: None,
            arch: None,
            namespace: None,
            licenses: Vec::new(),
            path: path.to_string(),
            layer: String::new(),
        }
    }

    /// The name advisories use: Maven's `group:artifact`, a distribution's
    /// source package, PyPI's normalised name.
    pub fn advisory_name(&self) -> String {
        match (&self.source, self.kind) {
            (Some(s), _) => s.name.clone(),
            (None, Kind::Maven) => match &self.namespace {
                Some(g) => format!("{g}:{}", self.name),
                None => self.name.clone(),
            },
            (None, Kind::Pypi) => crate::version::pep503(&self.name),
            _ => self.name.clone(),
        }
    }

    /// The version advisories use: a distribution's source version, Go's
    /// toolchain as `1.21.5` rather than `go1.21.5`.
    pub fn advisory_version(&self) -> &str {
        match &self.source {
            Some(s) => &s.version,
            None if self.kind == Kind::Golang && self.name == "stdlib" => {
                self.version.trim_start_matches("go")
            }
            None => &self.version,
        }
    }

    /// Its package URL (purl-spec), with the distribution as docker scout
    /// and syft write it.
    pub fn purl(&self, os: Option<&OsRelease>) -> String {
        let purl_type = match self.kind {
            Kind::Binary => "generic",
            k => k.as_str(),
        };
        let mut p = format!("pkg:{purl_type}/");
        let namespace = match self.kind {
            Kind::Deb | Kind::Apk | Kind::Rpm => os.map(|o| o.id.clone()),
            Kind::Golang | Kind::Binary => self.name.rsplit_once('/').map(|(ns, _)| ns.to_string()),
            _ => self.namespace.clone(),
        };
        // purl-spec: PyPI names lowercased with `_` as `-`.
        let pypi;
        let name = match self.kind {
            Kind::Golang | Kind::Binary => self.name.rsplit('/').next().unwrap_or(&self.name),
            Kind::Pypi => {
                pypi = self.name.to_lowercase().replace('_', "-");
                &pypi
            }
            _ => &self.name,
        };
        let (ns, name) = match (namespace, self.kind) {
            // npm's scope is the namespace: pkg:npm/%40scope/name
            (None, Kind::Npm) if name.starts_with('@') && name.contains('/') => {
                let (s, n) = name.split_once('/').unwrap_or(("", name));
                (Some(s.to_string()), n)
            }
            (ns, _) => (ns, name),
        };
        if let Some(ns) = ns {
            for seg in ns.split('/') {
                p.push_str(&encode(seg));
                p.push('/');
            }
        }
        p.push_str(&encode(name));
        p.push('@');
        p.push_str(&encode(&self.version));
        let mut q: Vec<(String, String)> = Vec::new();
        if let Some(a) = &self.arch {
            q.push(("arch".into(), a.clone()));
        }
        if let (true, Some(os)) = (self.kind.is_os(), os) {
            if let Some(v) = &os.version_id {
                q.push(("distro".into(), format!("{}-{v}", os.id)));
            }
        }
        if let Some(s) = &self.source {
            if s.name != self.name {
                q.push(("upstream".into(), s.name.clone()));
            }
        }
        q.sort();
        for (i, (k, v)) in q.iter().enumerate() {
            p.push(if i == 0 { '?' } else { '&' });
            p.push_str(k);
            p.push('=');
            p.push_str(&encode(v));
        }
        p
    }
}

/// Percent-encodes what a purl segment may not hold as it is.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' | b'+' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `/etc/os-release`, the fields that decide an advisory ecosystem.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsRelease {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretty_name: Option<String>,
    /// `VERSION`, where Ubuntu says "LTS".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl OsRelease {
    pub fn parse(text: &str) -> Option<OsRelease> {
        let mut os = OsRelease::default();
        for line in text.lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let v = v.trim().trim_matches('"').trim_matches('\'').to_string();
            match k.trim() {
                "ID" => os.id = v.to_ascii_lowercase(),
                "VERSION_ID" => os.version_id = Some(v),
                "VERSION_CODENAME" => os.codename = Some(v),
                "PRETTY_NAME" => os.pretty_name = Some(v),
                "VERSION" => os.version = Some(v),
                _ => {}
            }
        }
        (!os.id.is_empty()).then_some(os)
    }

    /// The OSV ecosystem of this release's own packages (`Debian:12`,
    /// `Alpine:v3.20`, `Ubuntu:22.04:LTS`), where OSV has one.
    pub fn ecosystem(&self) -> Option<String> {
        let v = self.version_id.as_deref();
        let major = v.map(|v| v.split('.').next().unwrap_or(v));
        Some(match self.id.as_str() {
            "debian" => match major {
                Some(m) => format!("Debian:{m}"),
                None => "Debian".to_string(),
            },
            "ubuntu" => {
                let v = v?;
                let lts = self.version.as_deref().is_some_and(|s| s.contains("LTS"));
                if lts {
                    format!("Ubuntu:{v}:LTS")
                } else {
                    format!("Ubuntu:{v}")
                }
            }
            "alpine" => {
                let v = v?;
                let minor: Vec<&str> = v.split('.').take(2).collect();
                format!("Alpine:v{}", minor.join("."))
            }
            "rocky" => format!("Rocky Linux:{}", major?),
            "almalinux" => format!("AlmaLinux:{}", major?),
            "wolfi" => "Wolfi".to_string(),
            "chainguard" => "Chainguard".to_string(),
            "opensuse-leap" => format!("openSUSE:Leap {}", v?),
            _ => return None,
        })
    }

    pub fn name(&self) -> String {
        self.pretty_name
            .clone()
            .unwrap_or_else(|| format!("{} {}", self.id, self.version_id.as_deref().unwrap_or("")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecosystems_of_releases() {
        let deb =
            OsRelease::parse("ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n").unwrap();
        assert_eq!(deb.ecosystem().as_deref(), Some("Debian:12"));
        let alp = OsRelease::parse("ID=alpine\nVERSION_ID=3.20.3\n").unwrap();
        assert_eq!(alp.ecosystem().as_deref(), Some("Alpine:v3.20"));
        let ubu = OsRelease::parse(
            "ID=ubuntu\nVERSION_ID=\"22.04\"\nVERSION=\"22.04.4 LTS (Jammy Jellyfish)\"\n",
        )
        .unwrap();
        assert_eq!(ubu.ecosystem().as_deref(), Some("Ubuntu:22.04:LTS"));
        assert!(OsRelease::parse("NAME=x\n").is_none());
    }

    #[test]
    fn purls_as_syft_writes_them() {
        let os = OsRelease::parse("ID=debian\nVERSION_ID=12\n").unwrap();
        let mut p = Package::new(
            Kind::Deb,
            "libssl3",
            "3.0.11-1~deb12u2",
            "var/lib/dpkg/status",
        );
        p.arch = Some("amd64".into());
        p.source = Some(Source {
            name: "openssl".into(),
            version: "3.0.11-1~deb12u2".into(),
        });
        assert_eq!(
            p.purl(Some(&os)),
            "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl"
        );
        let g = Package::new(Kind::Golang, "github.com/pkg/errors", "v0.9.1", "bin/x");
        assert_eq!(g.purl(None), "pkg:golang/github.com/pkg/errors@v0.9.1");
        let n = Package::new(Kind::Npm, "@babel/core", "7.1.0", "x");
        assert_eq!(n.purl(None), "pkg:npm/%40babel/core@7.1.0");
        let mut m = Package::new(Kind::Maven, "log4j-core", "2.14.1", "app.jar");
        m.namespace = Some("org.apache.logging.log4j".into());
        assert_eq!(
            m.purl(None),
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"
        );
        assert_eq!(m.advisory_name(), "org.apache.logging.log4j:log4j-core");
    }
}
