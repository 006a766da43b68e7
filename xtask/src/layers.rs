//! The crate layers ARCHITECTURE.md states, checked against `cargo metadata`:
//! a crate's (normal and build) dependencies on workspace crates lie in lower
//! layers, with the exceptions named here; a dev-dependency may reach any
//! crate but an app. A crate in no layer fails the check, so a new crate gets
//! its place when it is added.

use std::collections::BTreeMap;
use std::process::Command;

use anyhow::{bail, Context};
use serde_json::Value;

/// Layer of each workspace crate, lowest first.
const LAYERS: &[(&str, &[&str])] = &[
    ("data", &["txcr-core"]),
    (
        "contracts",
        &[
            "txcr-auth",
            "txcr-protocol",
            "txcr-state",
            "txcr-storage",
            "txcr-client",
        ],
    ),
    (
        "sources and codecs",
        &["txcr-capture", "txcr-encode", "txcr-mux"],
    ),
    (
        "engines",
        &[
            "txcr-recorder",
            "txcr-slice-upload",
            "txcr-splice",
            "txcr-s3dev",
        ],
    ),
    ("apps", &["txcloudrecord", "txcloudrecord-backend"]),
    (
        "tools",
        &[
            "txcr-testwin",
            "txcr-testkit",
            "txcr-examples",
            "txcr-benches",
            "xtask",
        ],
    ),
];

/// Imports within one layer that are allowed: (from, to).
const SIDEWAYS: &[(&str, &str)] = &[
    // The client speaks the protocol's wire types.
    ("txcr-client", "txcr-protocol"),
];

fn layer_of(name: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, crates)| crates.contains(&name))
}

/// What is wrong with `from` depending on `to` (`dev`: as a dev-dependency).
fn refusal(from: &str, to: &str, dev: bool) -> Option<String> {
    let (Some(f), Some(t)) = (layer_of(from), layer_of(to)) else {
        return Some(format!(
            "{from} -> {to}: every workspace crate needs a layer (xtask/src/layers.rs, ARCHITECTURE.md)"
        ));
    };
    let apps = layer_of("txcloudrecord");
    if dev {
        return (Some(t) == apps).then(|| format!("{from} -> {to}: nothing depends on an app"));
    }
    if t < f || SIDEWAYS.contains(&(from, to)) {
        return None;
    }
    Some(format!(
        "{from} ({}) -> {to} ({}): a crate imports only from lower layers",
        LAYERS[f].0, LAYERS[t].0
    ))
}

/// Fail on any dependency across the layers the wrong way.
pub fn check() -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(crate::workspace_root())
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    }
    let meta: Value = serde_json::from_slice(&out.stdout).context("cargo metadata output")?;
    let packages = meta["packages"].as_array().cloned().unwrap_or_default();
    let members: Vec<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut wrong = BTreeMap::new();
    for p in &packages {
        let from = p["name"].as_str().unwrap_or_default();
        if layer_of(from).is_none() {
            wrong.insert(format!("{from}: no layer"), ());
        }
        for d in p["dependencies"].as_array().into_iter().flatten() {
            let to = d["name"].as_str().unwrap_or_default();
            if !members.contains(&to) {
                continue;
            }
            let dev = d["kind"].as_str() == Some("dev");
            if let Some(why) = refusal(from, to, dev) {
                wrong.insert(why, ());
            }
        }
    }
    if !wrong.is_empty() {
        let list: Vec<String> = wrong.into_keys().collect();
        bail!("crate layers (ARCHITECTURE.md):\n  {}", list.join("\n  "));
    }
    println!(
        "==> crate layers: {} crates, no import against the layers",
        members.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn downward_only_with_the_named_exceptions() {
        assert_eq!(refusal("txcr-recorder", "txcr-capture", false), None);
        assert_eq!(refusal("txcr-client", "txcr-protocol", false), None);
        assert!(refusal("txcr-capture", "txcr-recorder", false).is_some());
        assert!(refusal("txcr-mux", "txcr-encode", false).is_some());
        assert!(refusal("txcloudrecord-backend", "txcloudrecord", false).is_some());
        assert!(refusal("txcr-splice", "txcr-recorder", true).is_none());
        assert!(refusal("txcr-recorder", "txcloudrecord", true).is_some());
        assert!(refusal("txcr-new", "txcr-core", false).is_some());
    }
}
