//! The wire contract of the local service (`/localrecord/v1/<Cmd>`), sans-I/O.
//!
//! Owns: parsing and validating command bodies into typed [`Request`]s with the
//! contract's field names and defaults ([`parse_request`]), the response envelope
//! ([`success`], [`failure`]), the error codes ([`ErrorCode`], [`ApiError`]), the
//! `GetState` shape ([`StateView`]), and the browser-facing guards ([`guard`]):
//! which `Host` headers and `Origin`s are let in, and the CORS / Private Network
//! Access headers.
//!
//! Does not own: HTTP I/O (the app), what a command does, or mapping other crates'
//! errors to codes (one module of the app does that, because it needs every
//! crate's error type; keeping it out of here keeps this crate light enough to fuzz).
//!
//! ```
//! use txcr_protocol::{parse_request, Request, ErrorCode};
//!
//! let r = parse_request("StartRecord", br#"{"Wnd": 4194305, "ClassId": 7}"#).unwrap();
//! let Request::StartRecord(s) = r else { unreachable!() };
//! assert_eq!((s.video_fps, s.slice_time, s.enable_audio), (15, 300, true));
//!
//! let e = parse_request("StartRecord", br#"{"Wnd": "x", "ClassId": 7}"#).unwrap_err();
//! assert_eq!(e.code, ErrorCode::InvalidParameter);
//! ```

mod error;
pub mod events;
pub mod guard;
mod request;
mod response;
mod sound;
mod start_body;

pub use error::{ApiError, ErrorCode};
pub use request::{
    parse_request, Init, Request, StartRecord, Target, COMMANDS, EVENTS_PATH, MAX_BODY_BYTES,
    MAX_CHAPTER_TITLE, PREVIEW_WIDTH,
};
pub use response::{failure, success, PreviewView, RecordView, StateView, UploadView};
pub use sound::{AudioSourceView, SoundKind};
pub use start_body::StartRecordBody;
