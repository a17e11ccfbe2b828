//! Finding a suite's files, its root and its library, and the ids of its scenarios.

use super::*;

pub(super) fn is_yaml(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("yaml") | Some("yml")
    )
}

pub(super) fn is_profile_or_waivers(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with(".target.yaml")
        || name.ends_with(".target.yml")
        || name == "waivers.yaml"
        || name == "waivers.yml"
}

pub(super) fn walk_dir(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            walk_dir(&p, out)?;
        } else if is_yaml(&p) {
            out.push(p);
        }
    }
    Ok(())
}

pub(super) fn has_component(rel: &Path, name: &str) -> bool {
    rel.parent()
        .map(|p| p.components().any(|c| c.as_os_str() == name))
        .unwrap_or(false)
}

pub(super) fn scenario_id(root: &Path, file: &Path) -> String {
    // Canonical paths, so `a/../a/x.yaml`, symlinks and relative spellings give one id.
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let file = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let rel = file.strip_prefix(&root).unwrap_or(&file);
    let rel = rel.with_extension("");
    rel.components()
        .filter(|c| matches!(c, std::path::Component::Normal(_)))
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// The suite root of a path (a scenario file or a folder of them): the nearest folder at
/// or above it that has a `lib` folder and is marked as a suite — it is the path's own
/// folder, or lies inside the current directory, or holds a target profile
/// (`*.target.yaml`) — else the path's own folder. So `flowgate run
/// scenarios/error_handling` from anywhere finds `scenarios/lib`, scenario ids stay
/// relative to `scenarios/`, and system folders such as `/lib` or `/usr/lib` are never
/// taken for a suite's library.
pub(super) fn suite_root(path: &Path) -> PathBuf {
    let own = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().unwrap_or(Path::new(".")).to_path_buf()
    };
    let own_abs = std::fs::canonicalize(&own).unwrap_or_else(|_| own.clone());
    let cwd = std::env::current_dir()
        .ok()
        .and_then(|c| std::fs::canonicalize(c).ok());
    for (i, d) in own_abs.ancestors().enumerate() {
        if d.parent().is_none() {
            break; // never the filesystem root
        }
        let marked = i == 0 || cwd.as_ref().is_some_and(|c| d.starts_with(c)) || has_profile(d);
        if marked && d.join("lib").is_dir() {
            return if i == 0 { own } else { d.to_path_buf() };
        }
    }
    own
}

pub(super) fn has_profile(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.filter_map(Result::ok).any(|e| {
            is_profile_or_waivers(&e.path())
                && e.file_name() != "waivers.yaml"
                && e.file_name() != "waivers.yml"
        })
    })
}

/// Adds the files of `root/lib` not seen yet to the library files.
pub(super) fn add_library_of(
    root: &Path,
    seen: &mut BTreeSet<PathBuf>,
    library_files: &mut Vec<PathBuf>,
) {
    let mut files = Vec::new();
    if walk_dir(&root.join("lib"), &mut files).is_ok() {
        for f in files {
            let key = std::fs::canonicalize(&f).unwrap_or(f.clone());
            if seen.insert(key) {
                library_files.push(f);
            }
        }
    }
}
