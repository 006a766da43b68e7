//! From encoded packets to sliced FLV files.
//!
//! Owns: the FLV format ([`flv`]: header, `onMetaData`, AVC/AAC sequence headers,
//! tags; and [`FlvReader`], a tag walker used to check and repair files
//! ([`salvage`]: what a crash left), and [`FlvScanner`], a streaming one
//! that reads headers only), the
//! decision where to cut ([`Slicer`], [`CutPlanner`]; sans-I/O), the order of
//! audio and video packets ([`Interleaver`]; sans-I/O), and the slice
//! files themselves ([`SliceWriter`], [`slice_path`]).
//!
//! Does not own: encoding, timestamps (they arrive on the packets), uploads.
//!
//! Why hand-written: `flavors` (the FLV crate the design names) only parses and is
//! not published on crates.io; `xflv` depends on the deprecated `failure`, and
//! `flv-core` is an early draft. The writer is about 150 lines and the reader 80.
//!
//! Cutting: slice *k* covers recording time `[k·N, (k+1)·N)`. The encode side asks
//! [`CutPlanner::force_keyframe`] for each input frame and forces an IDR on the
//! first frame at or past a boundary; the [`Slicer`] starts a new slice at the first
//! keyframe at or past the boundary, with its own FLV header, `onMetaData` and
//! sequence headers, so every slice plays alone and timestamps continue across
//! slices.

pub mod flv;
mod interleave;
mod reader;
mod scan;
mod slicer;
mod writer;

pub use interleave::Interleaver;
pub use reader::{salvage, valid_prefix_len, FlvReader, Salvage, Tag, VideoSpan};
pub use scan::{FlvScanner, ScanError, TagHeader};
pub use slicer::{CutPlanner, Pushed, SliceInfo, Slicer};
pub use writer::{slice_path, FinishedSlice, SliceWriter};

/// What went wrong while muxing or writing slices.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MuxError {
    /// The slice file could not be written.
    #[error("cannot write slice {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The bytes are not FLV.
    #[error("not an FLV file: {0}")]
    NotFlv(&'static str),
}
