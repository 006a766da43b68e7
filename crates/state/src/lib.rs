//! The session's decisions, sans-I/O: may this caller run this command now, and
//! what state follows.
//!
//! Owns: the recording state machine (`Idle → Recording ⇄ Paused → Idle`), the
//! authentication state shown by `GetState`, and the ownership rule that keeps one
//! browser origin from reading or controlling a recording another caller started.
//!
//! Does not own: verifying signatures (`txcr-auth`), running the recording
//! (`txcr-recorder`), parsing or error codes (`txcr-protocol`).
//!
//! Callers first [`Session::check`] a command; only when the command's work has
//! succeeded do they [`Session::commit`] it, so a refused or failed command changes
//! nothing.
//!
//! ```
//! use txcr_state::{Caller, Command, RecordState, Session};
//!
//! let mut s = Session::default();
//! let page = Caller::Origin("https://school.example".into());
//! s.auth_succeeded(page.clone(), "teacher".into(), 1400000000);
//! s.check(Command::StartRecord, &page).unwrap();
//! s.commit(Command::StartRecord);
//! assert_eq!(s.record(), RecordState::Recording);
//! let other = Caller::Origin("https://evil.example".into());
//! assert!(s.check(Command::StopRecord, &other).is_err());
//! ```

mod session;

pub use session::{AuthState, Caller, Command, RecordState, Session};

/// Why a command was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateError {
    /// The command makes no sense in the current recording state.
    #[error("{command} is not allowed while {state}")]
    NotAllowed {
        /// The command.
        command: Command,
        /// The state it was refused in.
        state: RecordState,
    },
    /// Init has not succeeded yet.
    #[error("call Init with a valid UserSig first")]
    NotInitialised,
    /// Another caller owns the session.
    #[error("the recording belongs to another client ({0}); it must be stopped by that client")]
    NotOwner(String),
}
