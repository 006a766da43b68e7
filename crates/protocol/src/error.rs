use std::fmt;

/// Every error code the local API answers with. -10000…-10005 are the
/// contract's; the rest are extensions, documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// -10000: bad JSON, wrong type, missing required field, out of range.
    InvalidParameter,
    /// -10001: the UserSig was refused.
    AuthFailed,
    /// -10002: DstPath not writable, outside the recording root, or not `.flv`.
    InvalidPath,
    /// -10003: invalid push/stream address (kept for compatibility).
    InvalidStreamUrl,
    /// -10004: the compositor is off.
    CompositorOff,
    /// -10005: the recording disk is full.
    DiskFull,
    /// -10006 (extension): command not allowed in the current recording state.
    NotAllowedInState,
    /// -10007 (extension): Init has not succeeded.
    NotInitialised,
    /// -10008 (extension): the window or process to record was not found.
    WindowNotFound,
    /// -10009 (extension): no such command.
    UnknownCommand,
    /// -10010 (extension): refused for this caller: foreign `Host`, origin not
    /// allowed, or the session belongs to another origin.
    Forbidden,
    /// -10011 (extension): the recorder failed (encoder, capture device).
    RecorderFailed,
}

impl ErrorCode {
    /// The number on the wire.
    pub fn code(self) -> i32 {
        match self {
            Self::InvalidParameter => -10000,
            Self::AuthFailed => -10001,
            Self::InvalidPath => -10002,
            Self::InvalidStreamUrl => -10003,
            Self::CompositorOff => -10004,
            Self::DiskFull => -10005,
            Self::NotAllowedInState => -10006,
            Self::NotInitialised => -10007,
            Self::WindowNotFound => -10008,
            Self::UnknownCommand => -10009,
            Self::Forbidden => -10010,
            Self::RecorderFailed => -10011,
        }
    }

    /// The code with this number on the wire, if it is one of ours.
    pub fn from_code(code: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    /// Every code, for documentation and conformance tests.
    pub const ALL: [ErrorCode; 12] = [
        Self::InvalidParameter,
        Self::AuthFailed,
        Self::InvalidPath,
        Self::InvalidStreamUrl,
        Self::CompositorOff,
        Self::DiskFull,
        Self::NotAllowedInState,
        Self::NotInitialised,
        Self::WindowNotFound,
        Self::UnknownCommand,
        Self::Forbidden,
        Self::RecorderFailed,
    ];
}

/// An error as the client sees it: a code and a message saying what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ApiError {
    /// The code.
    pub code: ErrorCode,
    /// What was wrong, for a developer to read.
    pub message: String,
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.message)
    }
}

impl ApiError {
    /// An error with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A -10000.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameter, message)
    }
}
