//! The workspace's `rust-version` against the locked dependencies: it must be
//! at least the newest `rust-version` any of them declares, so that an older
//! compiler gets cargo's own "requires rustc X" message instead of a build
//! error deep in a dependency.

use std::process::Command;

use anyhow::{bail, Context};

/// `1.94.1` → `(1, 94, 1)`; missing parts are 0.
fn parse(v: &str) -> Option<(u32, u32, u32)> {
    let mut it = v.split('.').map(str::parse::<u32>);
    let major = it.next()?.ok()?;
    let minor = it.next().unwrap_or(Ok(0)).ok()?;
    let patch = it.next().unwrap_or(Ok(0)).ok()?;
    Some((major, minor, patch))
}

/// The newest `rust-version` among `packages` (`(name, rust_version)`),
/// and which package declares it.
fn newest(packages: &[(String, String)]) -> Option<(&str, (u32, u32, u32))> {
    packages
        .iter()
        .filter_map(|(name, v)| Some((name.as_str(), parse(v)?)))
        .max_by_key(|(_, v)| *v)
}

/// Fail unless every workspace member declares a `rust-version` at least the
/// newest of its dependencies'.
pub fn check() -> anyhow::Result<()> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--locked"])
        .output()
        .context("cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let members: Vec<&str> = meta["workspace_members"]
        .as_array()
        .map(|a| a.iter().filter_map(|m| m.as_str()).collect())
        .unwrap_or_default();
    let mut deps = Vec::new();
    let mut ours = Vec::new();
    for p in meta["packages"].as_array().into_iter().flatten() {
        let name = p["name"].as_str().unwrap_or_default().to_owned();
        let version = p["rust_version"].as_str().map(str::to_owned);
        let id = p["id"].as_str().unwrap_or_default();
        if members.contains(&id) {
            ours.push((name, version));
        } else if let Some(v) = version {
            deps.push((name, v));
        }
    }
    let Some((who, need)) = newest(&deps) else {
        return Ok(());
    };
    let need_s = format!("{}.{}.{}", need.0, need.1, need.2);
    for (name, v) in &ours {
        match v.as_deref().and_then(parse) {
            Some(v) if v >= need => {}
            Some(_) | None => bail!(
                "{name} declares rust-version {}, but {who} (locked) needs {need_s}: set rust-version = \"{need_s}\" in the workspace Cargo.toml",
                v.as_deref().unwrap_or("none")
            ),
        }
    }
    println!("==> rust-version covers the locked dependencies ({need_s}, for {who})");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_declared_version_wins() {
        let p = |n: &str, v: &str| (n.to_owned(), v.to_owned());
        let all = [
            p("a", "1.85"),
            p("b", "1.94.1"),
            p("c", "1.92.0"),
            p("d", "x"),
        ];
        assert_eq!(newest(&all), Some(("b", (1, 94, 1))));
        assert!(parse("1.94") < parse("1.94.1"));
        assert_eq!(newest(&[]), None);
    }
}
