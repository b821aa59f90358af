//! `-u user[:group]`: names resolved in the image's /etc/passwd and /etc/group,
//! as docker does (numeric ids need no entry).

use std::path::Path;

#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: String,
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    NoGroup(String),
}

struct Passwd {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

struct Group {
    name: String,
    gid: u32,
    members: Vec<String>,
}

fn read_lines(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split(':').map(String::from).collect())
        .collect()
}

fn passwd(rootfs: &Path) -> Vec<Passwd> {
    read_lines(&rootfs.join("etc/passwd"))
        .into_iter()
        .filter(|f| f.len() >= 6)
        .filter_map(|f| {
            Some(Passwd {
                name: f[0].clone(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f[5].clone(),
            })
        })
        .collect()
}

fn groups(rootfs: &Path) -> Vec<Group> {
    read_lines(&rootfs.join("etc/group"))
        .into_iter()
        .filter(|f| f.len() >= 3)
        .filter_map(|f| {
            Some(Group {
                name: f[0].clone(),
                gid: f[2].parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|x| !x.is_empty())
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Resolves `spec` (`""`, `name`, `uid`, `name:group`, `uid:gid`, ...) against the rootfs.
pub fn resolve(rootfs: &Path, spec: &str) -> Result<ResolvedUser, UserError> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = if user.is_empty() { "0" } else { user };
    let users = passwd(rootfs);
    let entry = users.iter().find(|p| p.name == user).or_else(|| {
        let uid: u32 = user.parse().ok()?;
        users.iter().find(|p| p.uid == uid)
    });
    let (uid, mut gid, name, home) = match (entry, user.parse::<u32>()) {
        (Some(p), _) => (p.uid, p.gid, Some(p.name.clone()), p.home.clone()),
        (None, Ok(uid)) => (uid, 0, None, "/".to_string()),
        (None, Err(_)) => return Err(UserError::NoUser(user.to_string())),
    };
    let all_groups = groups(rootfs);
    if let Some(g) = group.filter(|g| !g.is_empty()) {
        gid = match all_groups.iter().find(|x| x.name == g) {
            Some(found) => found.gid,
            None => g.parse().map_err(|_| UserError::NoGroup(g.to_string()))?,
        };
    }
    // Supplementary groups are those listing the user, unless a group was forced.
    let additional_gids = match (&name, group) {
        (Some(n), None) => all_groups
            .iter()
            .filter(|g| g.members.contains(n) && g.gid != gid)
            .map(|g| g.gid)
            .collect(),
        _ => vec![],
    };
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        home,
    })
}

/// `--group-add GROUP`: a group name of the image's /etc/group, or a number.
pub fn group_id(rootfs: &Path, group: &str) -> Result<u32, UserError> {
    match groups(rootfs).iter().find(|g| g.name == group) {
        Some(g) => Ok(g.gid),
        None => group
            .parse()
            .map_err(|_| UserError::NoGroup(group.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names_and_numbers() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("etc")).unwrap();
        std::fs::write(
            t.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            t.path().join("etc/group"),
            "root:x:0:\napp:x:1000:\nwheel:x:10:app\n",
        )
        .unwrap();
        let r = resolve(t.path(), "").unwrap();
        assert_eq!((r.uid, r.gid, r.home.as_str()), (0, 0, "/root"));
        let r = resolve(t.path(), "app").unwrap();
        assert_eq!(
            (r.uid, r.gid, r.additional_gids.clone()),
            (1000, 1000, vec![10])
        );
        let r = resolve(t.path(), "app:wheel").unwrap();
        assert_eq!((r.uid, r.gid), (1000, 10));
        let r = resolve(t.path(), "4242:4343").unwrap();
        assert_eq!((r.uid, r.gid), (4242, 4343));
        assert_eq!(
            resolve(t.path(), "nobody").unwrap_err().to_string(),
            "unable to find user nobody: no matching entries in passwd file"
        );
        assert!(resolve(t.path(), "app:nogroup").is_err());
        assert_eq!(group_id(t.path(), "wheel").unwrap(), 10);
        assert_eq!(group_id(t.path(), "777").unwrap(), 777);
        assert!(group_id(t.path(), "audio").is_err());
    }
}
