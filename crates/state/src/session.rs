use std::fmt;

use crate::StateError;

/// The commands of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Authenticate.
    Init,
    /// Start recording.
    StartRecord,
    /// Stop recording.
    StopRecord,
    /// Pause recording.
    PauseRecord,
    /// Resume recording.
    ResumeRecord,
    /// Read the state.
    GetState,
    /// Stop the service.
    Exit,
    /// Extension: a picture of what is being recorded.
    GetPreview,
    /// Extension: mark a chapter at the current recording time.
    AddChapter,
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// `Record.State` of `GetState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecordState {
    /// Not recording.
    #[default]
    Idle,
    /// Recording.
    Recording,
    /// Paused.
    Paused,
}

impl RecordState {
    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "Idle",
            Self::Recording => "Recording",
            Self::Paused => "Paused",
        }
    }
}

impl fmt::Display for RecordState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `Auth.State` of `GetState`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AuthState {
    /// No Init yet.
    #[default]
    NotAuthenticated,
    /// An Init is being checked.
    Authoring,
    /// The last Init failed.
    Failed,
    /// Authenticated.
    Success,
}

impl AuthState {
    /// The contract's spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::NotAuthenticated => "Not Authentication",
            Self::Authoring => "Authoring",
            Self::Failed => "Auth Failed",
            Self::Success => "Auth Success",
        }
    }
}

/// Who sent a request: a native app (no `Origin` header) or a web page.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    /// A local program; trusted like any program of the user.
    Native,
    /// A browser page of this origin.
    Origin(String),
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Native => f.write_str("a native app"),
            Self::Origin(o) => f.write_str(o),
        }
    }
}

/// The session: authentication, recording state and owner.
///
/// Ownership: the caller of the last successful Init owns the session. A browser
/// origin may run commands (GetState included) only while it is the owner;
/// native apps may always (they run as the user anyway). A new Init from another
/// caller is refused while a recording is running, so nobody takes over a class.
#[derive(Debug, Clone, Default)]
pub struct Session {
    auth: AuthState,
    user: Option<(String, u64)>,
    owner: Option<Caller>,
    record: RecordState,
}

impl Session {
    /// `Auth.State`.
    pub fn auth(&self) -> &AuthState {
        &self.auth
    }

    /// The authenticated UserId and SdkAppId (kept after a later Init fails while
    /// recording, so the running task stays attributed).
    pub fn user(&self) -> Option<(&str, u64)> {
        self.user.as_ref().map(|(u, a)| (u.as_str(), *a))
    }

    /// `Record.State`.
    pub fn record(&self) -> RecordState {
        self.record
    }

    fn check_owner(&self, caller: &Caller) -> Result<(), StateError> {
        match (caller, &self.owner) {
            (Caller::Native, _) => Ok(()),
            (c, Some(owner)) if c == owner => Ok(()),
            (_, Some(owner)) => Err(StateError::NotOwner(owner.to_string())),
            (_, None) => Err(StateError::NotInitialised),
        }
    }

    /// Whether `caller` may run `command` now. Changes nothing.
    pub fn check(&self, command: Command, caller: &Caller) -> Result<(), StateError> {
        use RecordState::*;
        let not_allowed = || StateError::NotAllowed {
            command,
            state: self.record,
        };
        match command {
            Command::Init => {
                if self.record != Idle {
                    // Re-authenticating the owner mid-class is fine; taking over is not.
                    self.check_owner(caller)?;
                }
                Ok(())
            }
            Command::GetState | Command::Exit => self.check_owner(caller),
            Command::StartRecord => {
                self.check_owner(caller)?;
                if self.auth != AuthState::Success || self.user.is_none() {
                    return Err(StateError::NotInitialised);
                }
                (self.record == Idle).then_some(()).ok_or_else(not_allowed)
            }
            Command::StopRecord => {
                self.check_owner(caller)?;
                matches!(self.record, Recording | Paused)
                    .then_some(())
                    .ok_or_else(not_allowed)
            }
            Command::PauseRecord => {
                self.check_owner(caller)?;
                (self.record == Recording)
                    .then_some(())
                    .ok_or_else(not_allowed)
            }
            Command::ResumeRecord => {
                self.check_owner(caller)?;
                (self.record == Paused)
                    .then_some(())
                    .ok_or_else(not_allowed)
            }
            Command::GetPreview | Command::AddChapter => {
                self.check_owner(caller)?;
                matches!(self.record, Recording | Paused)
                    .then_some(())
                    .ok_or_else(not_allowed)
            }
        }
    }

    /// Apply a checked recording command whose work succeeded.
    pub fn commit(&mut self, command: Command) {
        self.record = match command {
            Command::StartRecord | Command::ResumeRecord => RecordState::Recording,
            Command::PauseRecord => RecordState::Paused,
            Command::StopRecord => RecordState::Idle,
            _ => self.record,
        };
    }

    /// The recording ended on its own (window closed, disk full, error).
    pub fn recording_ended(&mut self) {
        self.record = RecordState::Idle;
    }

    /// An Init is being verified.
    pub fn auth_started(&mut self) {
        self.auth = AuthState::Authoring;
    }

    /// An Init succeeded: `caller` now owns the session.
    pub fn auth_succeeded(&mut self, caller: Caller, user: String, sdkappid: u64) {
        self.auth = AuthState::Success;
        self.user = Some((user, sdkappid));
        self.owner = Some(caller);
    }

    /// An Init failed. While idle the old credentials are dropped (StartRecord
    /// then needs a new Init); a running recording keeps its user and owner.
    pub fn auth_failed(&mut self) {
        self.auth = AuthState::Failed;
        if self.record == RecordState::Idle {
            self.user = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Command::*;

    fn page(o: &str) -> Caller {
        Caller::Origin(format!("https://{o}"))
    }

    fn authed(c: &Caller) -> Session {
        let mut s = Session::default();
        s.auth_succeeded(c.clone(), "u".into(), 1);
        s
    }

    fn run(s: &mut Session, cmd: Command, c: &Caller) -> Result<(), StateError> {
        s.check(cmd, c)?;
        s.commit(cmd);
        Ok(())
    }

    #[test]
    fn every_transition_of_the_contract() {
        use RecordState::*;
        let all = [
            StartRecord,
            StopRecord,
            PauseRecord,
            ResumeRecord,
            GetPreview,
            AddChapter,
        ];
        let allowed = |from: RecordState, cmd: Command| -> Option<RecordState> {
            match (from, cmd) {
                (Idle, StartRecord) => Some(Recording),
                (Recording, PauseRecord) => Some(Paused),
                (Paused, ResumeRecord) => Some(Recording),
                (Recording | Paused, StopRecord) => Some(Idle),
                (Recording | Paused, GetPreview | AddChapter) => Some(from),
                _ => None,
            }
        };
        for from in [Idle, Recording, Paused] {
            for cmd in all {
                let mut s = authed(&Caller::Native);
                s.record = from;
                let r = run(&mut s, cmd, &Caller::Native);
                match allowed(from, cmd) {
                    Some(to) => assert_eq!((r, s.record()), (Ok(()), to), "{from} {cmd}"),
                    None => {
                        assert_eq!(
                            r,
                            Err(StateError::NotAllowed {
                                command: cmd,
                                state: from
                            })
                        );
                        assert_eq!(s.record(), from, "a refused command changes nothing");
                    }
                }
            }
        }
    }

    #[test]
    fn start_needs_a_successful_init() {
        let mut s = Session::default();
        assert_eq!(
            s.check(StartRecord, &Caller::Native),
            Err(StateError::NotInitialised)
        );
        s.auth_succeeded(Caller::Native, "u".into(), 1);
        s.auth_failed();
        assert_eq!(s.auth().as_str(), "Auth Failed");
        assert_eq!(
            s.check(StartRecord, &Caller::Native),
            Err(StateError::NotInitialised)
        );
    }

    #[test]
    fn another_origin_can_neither_read_nor_control_nor_take_over() {
        let owner = page("school.example");
        let evil = page("evil.example");
        let mut s = authed(&owner);
        run(&mut s, StartRecord, &owner).unwrap();
        for cmd in [
            GetState,
            StopRecord,
            PauseRecord,
            Exit,
            Init,
            StartRecord,
            GetPreview,
            AddChapter,
        ] {
            assert!(
                matches!(s.check(cmd, &evil), Err(StateError::NotOwner(_))),
                "{cmd}"
            );
        }
        // The owner and native apps keep control.
        s.check(PauseRecord, &owner).unwrap();
        s.check(GetState, &Caller::Native).unwrap();
        s.check(Init, &owner).unwrap();
    }

    #[test]
    fn a_page_cannot_read_a_session_nobody_opened_for_it() {
        let s = Session::default();
        assert_eq!(
            s.check(GetState, &page("a.example")),
            Err(StateError::NotInitialised)
        );
        assert_eq!(s.check(GetState, &Caller::Native), Ok(()));
    }

    #[test]
    fn when_idle_another_caller_may_init_and_become_owner() {
        let mut s = authed(&page("a.example"));
        s.check(Init, &page("b.example")).unwrap();
        s.auth_succeeded(page("b.example"), "v".into(), 1);
        assert!(s.check(GetState, &page("a.example")).is_err());
        assert_eq!(s.user(), Some(("v", 1)));
    }

    #[test]
    fn failed_reinit_keeps_a_running_recording_attributed() {
        let mut s = authed(&Caller::Native);
        run(&mut s, StartRecord, &Caller::Native).unwrap();
        s.auth_failed();
        assert_eq!(s.user(), Some(("u", 1)));
        s.check(StopRecord, &Caller::Native).unwrap();
    }
}
