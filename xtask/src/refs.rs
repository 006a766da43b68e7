//! The repository stands alone: no tracked file points at material outside
//! it (the contract and the design notes it was written from live with the
//! team, not in a clone). Checked over `git ls-files` by `cargo xtask test`.

use std::process::Command;

use anyhow::{bail, Context};

/// The team's folder beside the repository and its documents, spelt in parts
/// so that this file, checked like every other, does not name them itself.
const FOLDER: &str = "shared";
const DOCUMENTS: &[&str] = &["spec", "DEPENDENCIES", "DESIGN", "STYLE"];

/// Phrases that point outside the repository.
fn outside() -> Vec<String> {
    let mut phrases = vec![format!("../{FOLDER}"), ["contract", "section"].join(" ")];
    phrases.extend(DOCUMENTS.iter().map(|d| format!("{FOLDER}/{d}")));
    phrases
}

/// The lines of `text` that hold one of `phrases`, with their numbers.
fn outside_refs<'a>(text: &'a str, phrases: &[String]) -> Vec<(usize, &'a str)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| phrases.iter().any(|p| l.contains(p.as_str())))
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
    let phrases = outside();
    let mut found = Vec::new();
    for path in out.stdout.split(|&b| b == 0).filter(|p| !p.is_empty()) {
        let path = String::from_utf8_lossy(path).into_owned();
        let Ok(text) = std::fs::read_to_string(root.join(&path)) else {
            continue; // binary
        };
        for (n, line) in outside_refs(&text, &phrases) {
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
    use super::*;

    #[test]
    fn finds_pointers_outside() {
        let phrases = outside();
        let section = ["contract", "section"].join(" ");
        let text =
            format!("ok\nsee ../{FOLDER}/spec/API.md\nfine\n({section} 2)\n{FOLDER}/DESIGN.md\n");
        let lines: Vec<usize> = outside_refs(&text, &phrases)
            .iter()
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(lines, [2, 4, 5]);
        assert!(outside_refs("crates/recorder/src/shared.rs", &phrases).is_empty());
    }
}
