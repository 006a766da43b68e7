//! `txcloudrecord register-protocol`: make `tc-record://…` links launch us.

use std::path::Path;

#[cfg(not(windows))]
use anyhow::Context;

/// The desktop entry the package installs; `register` writes the same entry
/// with this executable's path.
#[cfg(not(windows))]
const DESKTOP_ENTRY: &str = include_str!("../debian/txcloudrecord-tc-record.desktop");

/// The packaged desktop entry, launching `exe_quoted` instead.
#[cfg(not(windows))]
fn desktop_entry(exe_quoted: &str) -> String {
    DESKTOP_ENTRY.replace(
        "Exec=/usr/bin/txcloudrecord ",
        &format!("Exec={exe_quoted} "),
    )
}

/// Register the running executable as the `tc-record` URL handler for this user.
#[cfg(not(windows))]
pub fn register(exe: &Path) -> anyhow::Result<()> {
    use std::path::PathBuf;
    use std::process::Command;

    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .context("HOME is not set")?;
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".local/share"));
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".config"));
    let apps = data.join("applications");
    std::fs::create_dir_all(&apps).with_context(|| format!("creating {}", apps.display()))?;
    let desktop = apps.join("txcloudrecord-tc-record.desktop");
    let exe_quoted = format!("\"{}\"", exe.display().to_string().replace('"', "\\\""));
    std::fs::write(&desktop, desktop_entry(&exe_quoted))
        .with_context(|| format!("writing {}", desktop.display()))?;
    println!("wrote {}", desktop.display());
    let via_xdg = Command::new("xdg-mime")
        .args([
            "default",
            "txcloudrecord-tc-record.desktop",
            "x-scheme-handler/tc-record",
        ])
        .status()
        .is_ok_and(|s| s.success());
    if via_xdg {
        println!("registered x-scheme-handler/tc-record with xdg-mime");
    } else {
        // No xdg-utils: write the association ourselves, as xdg-mime would.
        let list = config.join("mimeapps.list");
        set_default_handler(&list)?;
        println!(
            "registered x-scheme-handler/tc-record in {}",
            list.display()
        );
    }
    let _ = Command::new("update-desktop-database").arg(&apps).status();
    Ok(())
}

#[cfg(not(windows))]
fn set_default_handler(list: &Path) -> anyhow::Result<()> {
    const KEY: &str = "x-scheme-handler/tc-record=";
    const ENTRY: &str = "x-scheme-handler/tc-record=txcloudrecord-tc-record.desktop";
    let text = std::fs::read_to_string(list).unwrap_or_default();
    let mut out = Vec::new();
    let mut in_defaults = false;
    let mut written = false;
    for line in text.lines() {
        if line.starts_with('[') {
            if in_defaults && !written {
                out.push(ENTRY.to_owned());
                written = true;
            }
            in_defaults = line.trim() == "[Default Applications]";
        }
        if in_defaults && line.starts_with(KEY) {
            continue;
        }
        out.push(line.to_owned());
    }
    if !written {
        if !in_defaults {
            out.push("[Default Applications]".into());
        }
        out.push(ENTRY.into());
    }
    if let Some(dir) = list.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(list, out.join("\n") + "\n")
        .with_context(|| format!("writing {}", list.display()))
}

/// What [`register`] writes on Windows, under `HKCU\Software\Classes`:
/// (key, value name, value). Windows merges it into `HKCR\tc-record` for this
/// user (no administrator rights needed); a browser then runs the command
/// with the whole `tc-record://…` URL as one argument.
#[cfg(any(windows, test))]
fn registry_entries(exe: &Path) -> [(&'static str, &'static str, String); 3] {
    const KEY: &str = r"Software\Classes\tc-record";
    const COMMAND: &str = r"Software\Classes\tc-record\shell\open\command";
    [
        (KEY, "", "URL:tc-record Protocol".to_owned()),
        (KEY, "URL Protocol", String::new()),
        (COMMAND, "", format!("\"{}\" \"%1\"", exe.display())),
    ]
}

/// Register this executable as the `tc-record` URL handler for this user.
#[cfg(windows)]
pub fn register(exe: &Path) -> anyhow::Result<()> {
    use winreg::enums::HKEY_CURRENT_USER;
    use winreg::RegKey;

    let hkcu = RegKey::predef(HKEY_CURRENT_USER);
    for (key, name, value) in registry_entries(exe) {
        let (key, _) = hkcu.create_subkey(key)?;
        key.set_value(name, &value)?;
    }
    println!(
        r"registered HKCU\Software\Classes\tc-record -> {}",
        exe.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_windows_handler_runs_this_executable_with_the_url_as_one_argument() {
        let exe = Path::new(r"C:\Program Files\TXCloudRecord\txcloudrecord.exe");
        let entries = registry_entries(exe);
        assert_eq!(
            entries[0],
            (
                r"Software\Classes\tc-record",
                "",
                "URL:tc-record Protocol".into()
            )
        );
        assert_eq!(
            entries[1],
            (r"Software\Classes\tc-record", "URL Protocol", String::new())
        );
        assert_eq!(
            entries[2],
            (
                r"Software\Classes\tc-record\shell\open\command",
                "",
                r#""C:\Program Files\TXCloudRecord\txcloudrecord.exe" "%1""#.into()
            )
        );
    }

    #[cfg(not(windows))]
    #[test]
    fn the_user_entry_is_the_packaged_one_launching_this_executable() {
        let entry = desktop_entry("\"/home/t/bin/txcloudrecord\"");
        assert!(
            entry.contains("\nExec=\"/home/t/bin/txcloudrecord\" %u\n"),
            "{entry}"
        );
        assert!(entry.contains("MimeType=x-scheme-handler/tc-record;"));
        assert_eq!(
            entry.replace("\"/home/t/bin/txcloudrecord\"", "/usr/bin/txcloudrecord"),
            DESKTOP_ENTRY
        );
    }
}
