//! Where a task's objects live in the bucket:
//! `<prefix>/<SdkAppId>/<ClassId>/<TaskId>/<leaf>` (no prefix: no leading
//! part). Keys are built from typed parts and carry them, so nobody parses a
//! key back except [`Layout::parse`], for keys found by listing the bucket.

use std::fmt;

/// The task an object belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskPath {
    /// Application.
    pub sdkappid: u64,
    /// Class (room).
    pub class_id: u64,
    /// Task id ([`safe_id`]).
    pub task_id: String,
}

impl TaskPath {
    /// The task's place; `None` if the task id is not [`safe_id`].
    pub fn new(sdkappid: u64, class_id: u64, task_id: &str) -> Option<Self> {
        safe_id(task_id).then(|| Self {
            sdkappid,
            class_id,
            task_id: task_id.to_owned(),
        })
    }
}

/// `<SdkAppId>/<ClassId>/<TaskId>`: also the task's id across the system.
impl fmt::Display for TaskPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.sdkappid, self.class_id, self.task_id)
    }
}

/// Which object of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Leaf {
    /// Slice `seq` (from 1): `<seq:04>.flv`.
    Slice(u32),
    /// `manifest.json`: every slice is stored.
    Manifest,
    /// `record.mp4`: the spliced class.
    Record,
    /// `init.mp4`: live replay's init segment (made by the backend).
    LiveInit,
    /// Live replay's segment of slice `seq`: `<seq:04>.m4s` (made by the backend).
    LiveSegment(u32),
}

impl Leaf {
    /// The file name.
    pub fn name(self) -> String {
        match self {
            Self::Slice(seq) => format!("{seq:04}.flv"),
            Self::Manifest => "manifest.json".into(),
            Self::Record => "record.mp4".into(),
            Self::LiveInit => "init.mp4".into(),
            Self::LiveSegment(seq) => format!("{seq:04}.m4s"),
        }
    }

    /// A file name this layout makes (`<4 to 10 digits>.flv`, `manifest.json`,
    /// `record.mp4`, `init.mp4`, `<4 to 10 digits>.m4s`).
    pub fn parse(name: &str) -> Option<Self> {
        let seq = |digits: &str| {
            ((4..=10).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
                .then(|| digits.parse().ok())
                .flatten()
        };
        match name {
            "manifest.json" => Some(Self::Manifest),
            "record.mp4" => Some(Self::Record),
            "init.mp4" => Some(Self::LiveInit),
            _ => match name.split_once('.') {
                Some((n, "flv")) => seq(n).map(Self::Slice),
                Some((n, "m4s")) => seq(n).map(Self::LiveSegment),
                _ => None,
            },
        }
    }

    /// What a client may upload (slices and the manifest, not what the
    /// backend makes).
    pub fn uploadable(self) -> bool {
        matches!(self, Self::Slice(_) | Self::Manifest)
    }
}

/// A full object key with the parts it was made of.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey {
    task: TaskPath,
    leaf: Leaf,
    key: String,
}

impl ObjectKey {
    /// The key as the storage knows it.
    pub fn as_str(&self) -> &str {
        &self.key
    }

    /// The task it belongs to.
    pub fn task(&self) -> &TaskPath {
        &self.task
    }

    /// Which object of the task.
    pub fn leaf(&self) -> Leaf {
        self.leaf
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)
    }
}

/// The layout under one key prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    prefix: String,
}

impl Layout {
    /// Keys under `prefix` (slashes at its ends are dropped; empty: none).
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.trim_matches('/').to_owned(),
        }
    }

    /// The key of `leaf` of `task`.
    pub fn key(&self, task: &TaskPath, leaf: Leaf) -> ObjectKey {
        let base = format!("{task}/{}", leaf.name());
        let key = if self.prefix.is_empty() {
            base
        } else {
            format!("{}/{base}", self.prefix)
        };
        ObjectKey {
            task: task.clone(),
            leaf,
            key,
        }
    }

    /// What to list to find every task (`<prefix>/`), `None` for the whole bucket.
    pub fn list_prefix(&self) -> Option<String> {
        (!self.prefix.is_empty()).then(|| format!("{}/", self.prefix))
    }

    /// What to list to find every object of `task` (its slices, manifest,
    /// MP4, whatever else was put there): `[<prefix>/]<app>/<class>/<task>/`.
    pub fn task_prefix(&self, task: &TaskPath) -> String {
        self.under(&format!("{task}/"))
    }

    /// What to list to find every object of every task of a class.
    pub fn class_prefix(&self, sdkappid: u64, class_id: u64) -> String {
        self.under(&format!("{sdkappid}/{class_id}/"))
    }

    fn under(&self, rest: &str) -> String {
        if self.prefix.is_empty() {
            rest.to_owned()
        } else {
            format!("{}/{rest}", self.prefix)
        }
    }

    /// A key found in the bucket, if it is one of this layout's.
    pub fn parse(&self, key: &str) -> Option<ObjectKey> {
        let rest = if self.prefix.is_empty() {
            key
        } else {
            key.strip_prefix(&self.prefix)?.strip_prefix('/')?
        };
        let mut parts = rest.split('/');
        let (app, class, task, leaf) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let task = TaskPath::new(app.parse().ok()?, class.parse().ok()?, task)?;
        let leaf = Leaf::parse(leaf)?;
        Some(self.key(&task, leaf)).filter(|k| k.key == key)
    }
}

/// Task ids go into keys and URLs: letters, digits, `-`, `_`, `.` (not
/// first), at most 128 bytes: what the local service makes.
pub fn safe_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && !s.starts_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> TaskPath {
        TaskPath::new(1400000000, 42, "42-17").expect("a safe id")
    }

    #[test]
    fn a_task_and_its_class_prefix_hold_its_keys_and_no_other_tasks() {
        for layout in [Layout::new(""), Layout::new("/school/")] {
            let key = layout.key(&task(), Leaf::Manifest);
            let tp = layout.task_prefix(&task());
            let cp = layout.class_prefix(1400000000, 42);
            assert!(key.as_str().starts_with(&tp), "{key} under {tp}");
            assert!(tp.starts_with(&cp) && tp.ends_with('/'));
            let longer = TaskPath::new(1400000000, 42, "42-170").expect("a safe id");
            assert!(!layout
                .key(&longer, Leaf::Manifest)
                .as_str()
                .starts_with(&tp));
            let other_class = TaskPath::new(1400000000, 420, "42-17").expect("a safe id");
            assert!(!layout
                .key(&other_class, Leaf::Manifest)
                .as_str()
                .starts_with(&cp));
        }
    }

    #[test]
    fn keys_with_and_without_a_prefix() {
        assert_eq!(
            Layout::new("").key(&task(), Leaf::Slice(3)).as_str(),
            "1400000000/42/42-17/0003.flv"
        );
        assert_eq!(
            Layout::new("/school/rec/")
                .key(&task(), Leaf::Manifest)
                .as_str(),
            "school/rec/1400000000/42/42-17/manifest.json"
        );
        assert_eq!(task().to_string(), "1400000000/42/42-17");
    }

    #[test]
    fn listed_keys_parse_back() {
        let l = Layout::new("school/rec");
        let k = l
            .parse("school/rec/1400000000/42/42-17/manifest.json")
            .expect("a key of the layout");
        assert_eq!((k.task(), k.leaf()), (&task(), Leaf::Manifest));
        assert_eq!(
            l.parse("school/rec/1/2/3/12345.flv").map(|k| k.leaf()),
            Some(Leaf::Slice(12345))
        );
        for other in [
            "1400000000/42/42-17/manifest.json",
            "school/rec/x/42/42-17/manifest.json",
            "school/rec/1/2/../manifest.json",
            "school/rec/1/2/3/4/manifest.json",
            "school/rec/1/2/3/notes.txt",
            "school/rec/1/2/3/00012.flv",
            "school/recx/1/2/3/manifest.json",
        ] {
            assert_eq!(l.parse(other), None, "{other}");
        }
        assert_eq!(
            Layout::new("")
                .parse("1/2/3/manifest.json")
                .map(|k| k.task().to_string()),
            Some("1/2/3".into())
        );
    }

    #[test]
    fn leaves() {
        for leaf in [
            Leaf::Slice(1),
            Leaf::Slice(123456),
            Leaf::Manifest,
            Leaf::Record,
            Leaf::LiveInit,
            Leaf::LiveSegment(7),
        ] {
            assert_eq!(Leaf::parse(&leaf.name()), Some(leaf));
        }
        for bad in [
            "1.flv",
            "../0001.flv",
            "0001.mp4",
            "00000000001.flv",
            "abcd.flv",
            "0001.flv.m4s",
            "12.m4s",
            "",
        ] {
            assert_eq!(Leaf::parse(bad), None, "{bad}");
        }
        assert!(!Leaf::Record.uploadable() && Leaf::Manifest.uploadable());
        assert!(!Leaf::LiveInit.uploadable() && !Leaf::LiveSegment(1).uploadable());
    }

    #[test]
    fn safe_ids() {
        assert!(safe_id("1700000000-42"));
        assert!(!safe_id("../x") && !safe_id("a/b") && !safe_id(".x") && !safe_id(""));
    }
}
