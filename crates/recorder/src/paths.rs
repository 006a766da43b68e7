use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use txcr_mux::slice_path;

/// Why a destination was refused (all map to -10002).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// Not ending in `.flv`.
    #[error("DstPath must end in .flv")]
    NotFlv,
    /// A Windows path (drive letter, backslashes) given to a recorder that
    /// does not run on Windows.
    #[error(
        "DstPath looks like a Windows path (a drive letter or backslashes), but this recorder \
         does not run on Windows: give a path inside the recording root with / between \
         folders, such as \"lesson.flv\" or \"42/lesson.flv\""
    )]
    WindowsPath,
    /// Outside the recording root (after resolving `..` and symlinks).
    #[error("DstPath must be inside the recording root {0}")]
    OutsideRoot(PathBuf),
    /// An earlier recording's slices are there; they are never overwritten.
    #[error("a recording already exists at this DstPath ({0}); choose another DstPath")]
    Exists(PathBuf),
    /// The directory cannot be created or written.
    #[error("cannot write recordings to {path}: {source}")]
    NotWritable {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

fn not_writable(path: &Path) -> impl FnOnce(io::Error) -> PathError + '_ {
    move |source| PathError::NotWritable {
        path: path.to_owned(),
        source,
    }
}

/// Resolve a client's `DstPath` against the recording root, and make sure its
/// directory exists and is writable.
///
/// Relative paths are taken inside `root`. The result must end in `.flv` and lie
/// inside `root` once symlinks are resolved; `..` components are refused outright.
/// A destination whose first slice already exists is refused, so no recording is
/// ever overwritten.
pub fn resolve_dst(root: &Path, dst: &str) -> Result<PathBuf, PathError> {
    // Elsewhere `E:\test.flv` would be a file named so in the root.
    #[cfg(not(windows))]
    if is_windows_path(dst.trim()) {
        return Err(PathError::WindowsPath);
    }
    let candidate = root.join(dst.trim());
    let is_flv = candidate
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("flv"));
    if !is_flv || candidate.file_stem().is_none_or(|s| s.is_empty()) {
        return Err(PathError::NotFlv);
    }
    if candidate.components().any(|c| c == Component::ParentDir) {
        return Err(PathError::OutsideRoot(root.to_owned()));
    }
    let root = fs::canonicalize(root).map_err(not_writable(root))?;
    let (Some(parent), Some(name)) = (candidate.parent(), candidate.file_name()) else {
        return Err(PathError::NotFlv);
    };
    // Resolve symlinks in the deepest existing ancestor, then check containment
    // before creating anything.
    let mut existing = parent.to_path_buf();
    let mut rest = Vec::new();
    while !existing.exists() {
        let Some(last) = existing.file_name() else {
            break;
        };
        rest.push(last.to_owned());
        existing.pop();
    }
    let mut dir = fs::canonicalize(&existing).map_err(not_writable(&existing))?;
    dir.extend(rest.iter().rev());
    if !dir.starts_with(&root) {
        return Err(PathError::OutsideRoot(root));
    }
    fs::create_dir_all(&dir).map_err(not_writable(&dir))?;
    let dst = dir.join(name);
    let first = slice_path(&dst, 1);
    if fs::symlink_metadata(&first).is_ok() {
        return Err(PathError::Exists(first));
    }
    let probe = dir.join(format!(".txcr-probe-{}", std::process::id()));
    fs::write(&probe, b"").map_err(not_writable(&dir))?;
    let _ = fs::remove_file(&probe);
    Ok(dst)
}

/// Whether `dst` is written the Windows way: a drive letter (`E:`), or a
/// backslash between folders.
#[cfg(any(not(windows), test))]
fn is_windows_path(dst: &str) -> bool {
    let drive = matches!(dst.as_bytes(), [letter, b':', ..] if letter.is_ascii_alphabetic());
    drive || dst.contains('\\')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests
mod tests {
    use super::*;

    #[test]
    fn windows_paths_are_recognised() {
        for win in [
            r"E:\test.flv",
            "E:/test.flv",
            "c:lesson.flv",
            r"class\a.flv",
            r"\\server\share\a.flv",
        ] {
            assert!(is_windows_path(win), "{win}");
        }
        for unix in [
            "a.flv",
            "42/a.flv",
            "/home/t/Videos/a.flv",
            "ab:c.flv",
            "1:2.flv",
        ] {
            assert!(!is_windows_path(unix), "{unix}");
        }
        #[cfg(not(windows))]
        {
            let root = tempfile::tempdir().unwrap();
            assert!(matches!(
                resolve_dst(root.path(), r"E:\test.flv"),
                Err(PathError::WindowsPath)
            ));
            assert_eq!(
                fs::read_dir(root.path()).unwrap().count(),
                0,
                "nothing written"
            );
        }
    }

    #[test]
    fn accepts_inside_and_creates_directories() {
        let root = tempfile::tempdir().unwrap();
        let canon = fs::canonicalize(root.path()).unwrap();
        assert_eq!(
            resolve_dst(root.path(), "a.flv").unwrap(),
            canon.join("a.flv")
        );
        let abs = canon.join("x/y/b.FLV");
        assert_eq!(
            resolve_dst(root.path(), abs.to_str().unwrap()).unwrap(),
            abs
        );
        assert!(canon.join("x/y").is_dir());
    }

    #[test]
    fn refuses_outside_wrong_extension_and_existing() {
        let root = tempfile::tempdir().unwrap();
        for bad in [
            "a.mp4",
            "a",
            ".flv",
            "../a.flv",
            "x/../../a.flv",
            "/etc/a.flv",
        ] {
            assert!(resolve_dst(root.path(), bad).is_err(), "{bad}");
        }
        #[cfg(unix)]
        {
            let other = tempfile::tempdir().unwrap();
            std::os::unix::fs::symlink(other.path(), root.path().join("out")).unwrap();
            assert!(matches!(
                resolve_dst(root.path(), "out/a.flv"),
                Err(PathError::OutsideRoot(_))
            ));
            assert!(matches!(
                resolve_dst(root.path(), "out/new/a.flv"),
                Err(PathError::OutsideRoot(_))
            ));
            assert!(
                !other.path().join("new").exists(),
                "nothing created outside"
            );
        }
        fs::write(root.path().join("c_0001.flv"), b"old").unwrap();
        assert!(matches!(
            resolve_dst(root.path(), "c.flv"),
            Err(PathError::Exists(_))
        ));
    }
}
