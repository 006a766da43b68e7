//! The repository stands alone: no tracked file points at material outside
//! it (the contract and the design notes it was written from live with the
//! team, not in a clone). Checked over `git ls-files` by `cargo xtask test`.

use std::process::Command;

use anyhow::{bail, Context};

/// Phrases that point outside the repository.
const OUTSIDE: &[&str] = &[
    "../shared",
    "shared/spec",
    "shared/DEPENDENCIES",
    "shared/DESIGN",
    "shared/STYLE",
    "contract section",
];

/// The lines of `text` that point outside, with their numbers.
fn outside_refs(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| OUTSIDE.iter().any(|o| l.contains(o)))
        .map(|(i, l)| (i + 1, l))
        .collect()
}

/// Fail on any tracked file that points outside the repository.
pub fn check() -> anyhow::Result<()> {
    let root = crate::workspace_root();
    let out = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(&root)
        .output()
        .context("running git ls-files")?;
    let mut found = Vec::new();
    for path in out.stdout.split(|&b| b == 0).filter(|p| !p.is_empty()) {
        let path = String::from_utf8_lossy(path).into_owned();
        if path == "xtask/src/refs.rs" {
            continue; // the list itself
        }
        let Ok(text) = std::fs::read_to_string(root.join(&path)) else {
            continue; // binary
        };
        for (n, line) in outside_refs(&text) {
            found.push(format!("{path}:{n}: {}", line.trim()));
        }
    }
    if !found.is_empty() {
        bail!(
            "files point outside the repository (say it here instead):\n  {}",
            found.join("\n  ")
        );
    }
    println!("==> no file points outside the repository");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_pointers_outside() {
        let text = "ok\nsee ../shared/spec/API.md\nfine\n(contract section 2)\n";
        let lines: Vec<usize> = super::outside_refs(text).iter().map(|(n, _)| *n).collect();
        assert_eq!(lines, [2, 4]);
    }
}
