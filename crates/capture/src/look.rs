//! What a recording shows besides the window's own pixels: the mouse cursor,
//! and the border Windows draws around a window being captured. The teacher's
//! configuration says what is wanted; the OS says what it lets a program
//! change (Graphics Capture: `IsCursorCaptureEnabled` from build 19041,
//! `IsBorderRequired` from 20348, so not on Windows 10 22H2). Asking for a
//! setting the OS cannot change fails the whole capture, so such a setting is
//! left at the OS default and the recording says what it really got. Pure:
//! the Windows backend passes what it detected at run time.

/// Cursor and border in the recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Look {
    /// The mouse cursor is recorded.
    pub cursor: bool,
    /// The capture border is drawn around the window (and recorded).
    pub border: bool,
}

impl Default for Look {
    /// The cursor (a teacher points at things), no border.
    fn default() -> Self {
        Self {
            cursor: true,
            border: false,
        }
    }
}

impl std::fmt::Display for Look {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let on = |b| if b { "on" } else { "off" };
        write!(f, "cursor {}, border {}", on(self.cursor), on(self.border))
    }
}

/// Which settings the OS lets a program change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Changeable {
    /// The cursor can be switched on or off.
    pub cursor: bool,
    /// The border can be switched on or off.
    pub border: bool,
}

/// What the OS does with a setting nobody changes: cursor shown, border drawn.
pub const OS_DEFAULT: Look = Look {
    cursor: true,
    border: true,
};

/// The request to make, per setting `Some(value)` to set it or `None` to
/// leave the OS default, and the look the recording gets.
pub fn settle(want: Look, can: Changeable) -> (Option<bool>, Option<bool>, Look) {
    let cursor = can.cursor.then_some(want.cursor);
    let border = can.border.then_some(want.border);
    let got = Look {
        cursor: cursor.unwrap_or(OS_DEFAULT.cursor),
        border: border.unwrap_or(OS_DEFAULT.border),
    };
    (cursor, border, got)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_the_os_cannot_change_are_left_alone_and_reported() {
        let want = Look::default();
        let all = Changeable {
            cursor: true,
            border: true,
        };
        assert_eq!(settle(want, all), (Some(true), Some(false), want));
        // Windows 10 22H2 (build 19045): the cursor can be changed, the border not.
        let win10 = Changeable {
            cursor: true,
            border: false,
        };
        let (cursor, border, got) = settle(want, win10);
        assert_eq!((cursor, border), (Some(true), None));
        assert_eq!(got.to_string(), "cursor on, border on");
        // Older than 19041: nothing can be changed.
        let old = Changeable {
            cursor: false,
            border: false,
        };
        let no_cursor = Look {
            cursor: false,
            border: false,
        };
        assert_eq!(settle(no_cursor, old), (None, None, OS_DEFAULT));
    }
}
