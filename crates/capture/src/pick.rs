//! Which window a process name selects, the same rule on every platform:
//! among that program's visible top-level windows, the largest by area (the
//! main window, not a tool palette or a splash); on a tie, the first one the
//! platform offers (the backends offer them oldest first on X11, topmost
//! first on Windows). Pure, so the rule is tested everywhere.

/// The largest candidate by area; on a tie, the first offered.
pub fn largest<T>(candidates: impl IntoIterator<Item = (u64, T)>) -> Option<T> {
    let mut best: Option<(u64, T)> = None;
    for (area, w) in candidates {
        if best.as_ref().is_none_or(|(a, _)| area > *a) {
            best = Some((area, w));
        }
    }
    best.map(|(_, w)| w)
}

/// `chrome.exe`, `Chrome`, ` chrome ` all name the same program.
pub fn normalise(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    lower.strip_suffix(".exe").unwrap_or(&lower).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_window_wins_and_a_tie_keeps_the_first() {
        assert_eq!(largest([(100, 'a'), (300, 'b'), (200, 'c')]), Some('b'));
        assert_eq!(largest([(300, 'a'), (300, 'b')]), Some('a'));
        assert_eq!(largest::<char>([]), None);
    }

    #[test]
    fn names_match_case_blind_with_or_without_exe() {
        assert_eq!(normalise(" Chrome.EXE "), "chrome");
        assert_eq!(normalise("TICDemo.exe"), normalise("ticdemo"));
        assert_ne!(normalise("chrome.exe.bak"), "chrome");
    }
}
