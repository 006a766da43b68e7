//! A process and its descendants, from `/proc` (Linux): the class app's
//! sound may come from a helper process it started (a browser's audio
//! service, a media player it runs).

use std::collections::HashSet;

/// `root` and every process whose chain of parents leads to it, given each
/// process's `(pid, parent)`.
pub fn descendants(parents: &[(u32, u32)], root: u32) -> HashSet<u32> {
    let mut tree = HashSet::from([root]);
    loop {
        let before = tree.len();
        for &(pid, ppid) in parents {
            if tree.contains(&ppid) {
                tree.insert(pid);
            }
        }
        if tree.len() == before {
            return tree;
        }
    }
}

/// `(pid, parent)` of every process now.
pub fn processes() -> Vec<(u32, u32)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
        let after = stat.get(stat.rfind(')')? + 1..)?;
        let ppid = after.split_whitespace().nth(1)?.parse().ok()?;
        Some((pid, ppid))
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_and_grandchildren_belong_to_the_tree_others_do_not() {
        let table = [(10, 1), (11, 10), (12, 11), (20, 1), (21, 20)];
        let tree = descendants(&table, 10);
        assert_eq!(tree, HashSet::from([10, 11, 12]));
        assert!(descendants(&table, 99) == HashSet::from([99]));
    }

    #[test]
    fn this_process_is_found_with_its_parent() {
        let me = std::process::id();
        let all = processes();
        let parent = all.iter().find(|(p, _)| *p == me).map(|(_, pp)| *pp);
        assert!(parent.is_some(), "this test's own process is listed");
        assert!(descendants(&all, parent.unwrap_or(0)).contains(&me));
    }
}
