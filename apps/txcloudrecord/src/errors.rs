//! The one place where library errors become API error codes and messages.

use txcr_auth::AuthError;
use txcr_capture::CaptureError;
use txcr_protocol::{ApiError, ErrorCode};
use txcr_recorder::RecordError;
use txcr_state::StateError;

/// Auth failures are all -10001; the message says which check failed.
pub fn auth(e: &AuthError) -> ApiError {
    ApiError::new(ErrorCode::AuthFailed, format!("authentication failed: {e}"))
}

/// Session refusals.
pub fn state(e: &StateError) -> ApiError {
    let code = match e {
        StateError::NotAllowed { .. } => ErrorCode::NotAllowedInState,
        StateError::NotInitialised => ErrorCode::NotInitialised,
        StateError::NotOwner(_) => ErrorCode::Forbidden,
        _ => ErrorCode::NotAllowedInState,
    };
    ApiError::new(code, e.to_string())
}

/// Recorder failures.
pub fn record(e: &RecordError) -> ApiError {
    let code = match e {
        e if e.is_disk_full() => ErrorCode::DiskFull,
        RecordError::Path(_) => ErrorCode::InvalidPath,
        RecordError::Capture(CaptureError::WindowNotFound(_) | CaptureError::WindowClosed) => {
            ErrorCode::WindowNotFound
        }
        RecordError::Capture(CaptureError::BadRegion(..)) => ErrorCode::InvalidParameter,
        RecordError::Capture(CaptureError::CompositorOff) => ErrorCode::CompositorOff,
        _ => ErrorCode::RecorderFailed,
    };
    ApiError::new(code, e.to_string())
}

/// Capture failures at start (window lookup, region).
pub fn capture(e: CaptureError) -> ApiError {
    record(&RecordError::Capture(e))
}
