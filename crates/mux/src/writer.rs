use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use txcr_core::{AudioConfig, Packet, VideoConfig};

use crate::{MuxError, SliceInfo, Slicer};

/// Where slice `seq` of a recording whose `DstPath` is `dst` goes:
/// `/dir/class.flv` → `/dir/class_0001.flv`, `/dir/class_0002.flv`, …
pub fn slice_path(dst: &Path, seq: u32) -> PathBuf {
    let stem = dst
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    dst.with_file_name(format!("{stem}_{seq:04}.flv"))
}

/// A slice that is complete on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedSlice {
    /// The file.
    pub path: PathBuf,
    /// What it holds.
    pub info: SliceInfo,
}

/// Writes a recording's slices to disk through a [`Slicer`].
///
/// Crash safety: the bytes of each packet reach the OS before the next packet is
/// taken (a `kill -9` loses nothing written), and a finished slice's duration is
/// patched in and the file `fsync`ed before it is reported.
///
/// A full disk: a packet that cannot be written whole (ENOSPC part-way
/// through) is cut off again, so the file ends at its last complete tag and
/// [`finish`](Self::finish) closes it as a playable slice like any other.
#[derive(Debug)]
pub struct SliceWriter {
    dst: PathBuf,
    slicer: Slicer,
    /// The slice being written, and how many of its bytes are complete tags.
    file: Option<(PathBuf, File, u64)>,
}

impl SliceWriter {
    /// Slices named after `dst` (see [`slice_path`]), `slice_ms` long.
    pub fn new(dst: &Path, slice_ms: u64, video: VideoConfig, audio: Option<AudioConfig>) -> Self {
        Self {
            dst: dst.to_owned(),
            slicer: Slicer::new(slice_ms, video, audio),
            file: None,
        }
    }

    /// Write one packet; returns the slice it completed, if any.
    pub fn write(&mut self, p: &Packet) -> Result<Option<FinishedSlice>, MuxError> {
        let pushed = self.slicer.push(p);
        let mut done = None;
        if let Some(info) = pushed.closed {
            done = self.close(info)?;
        }
        if let Some(seq) = pushed.opened {
            let path = slice_path(&self.dst, seq);
            // create_new: never overwrite an earlier recording, never follow a planted symlink.
            let file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|source| MuxError::Io {
                    path: path.clone(),
                    source,
                })?;
            self.file = Some((path, file, 0));
        }
        if let Some((path, file, complete)) = self.file.as_mut() {
            // Unbuffered on purpose: one write per packet puts it in the page cache.
            let bytes = self.slicer.pending();
            if let Err(source) = file.write_all(bytes) {
                // Part of the packet may be on disk: cut it off (shrinking
                // needs no space), so the slice ends at a whole tag.
                let _ = file.set_len(*complete);
                let _ = file.seek(SeekFrom::Start(*complete));
                return Err(MuxError::Io {
                    path: path.clone(),
                    source,
                });
            }
            *complete += bytes.len() as u64;
        }
        self.slicer.clear_pending();
        Ok(done)
    }

    /// Packets whose timestamp had to be corrected (see [`Slicer::corrected`]).
    pub fn corrected(&self) -> u64 {
        self.slicer.corrected()
    }

    /// End the recording and return the last slice, if any frame was written.
    pub fn finish(mut self) -> Result<Option<FinishedSlice>, MuxError> {
        match self.slicer.finish() {
            Some(info) => self.close(info),
            None => Ok(None),
        }
    }

    /// Patch the duration in, `fsync`; `None` (and no file) for a slice of
    /// which not even the first packet reached the disk.
    fn close(&mut self, info: SliceInfo) -> Result<Option<FinishedSlice>, MuxError> {
        let Some((path, mut file, complete)) = self.file.take() else {
            return Err(MuxError::NotFlv("slice closed before it was opened"));
        };
        if complete < info.duration_offset + 8 {
            drop(file);
            let _ = std::fs::remove_file(&path);
            return Ok(None);
        }
        let mut patch = || -> std::io::Result<()> {
            file.seek(SeekFrom::Start(info.duration_offset))?;
            file.write_all(&(info.duration_ms() as f64 / 1000.0).to_be_bytes())?;
            file.sync_all()
        };
        patch().map_err(|source| MuxError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(Some(FinishedSlice { path, info }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests
mod tests {
    use super::*;
    use crate::valid_prefix_len;
    use txcr_core::MediaKind;

    #[test]
    fn names_are_predictable() {
        assert_eq!(
            slice_path(Path::new("/r/class.flv"), 3),
            Path::new("/r/class_0003.flv")
        );
    }

    #[test]
    fn writes_patched_complete_slices_and_a_torn_tail_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("c.flv");
        let cfg = VideoConfig {
            width: 64,
            height: 32,
            fps: 10,
            bitrate: 1,
            sps: vec![0x67, 66, 0, 30],
            pps: vec![0x68],
        };
        let mut w = SliceWriter::new(&dst, 1000, cfg, None);
        let mut done = vec![];
        for i in 0..25u64 {
            let p = Packet {
                kind: MediaKind::Video,
                pts_ms: i * 100,
                dts_ms: i * 100,
                keyframe: i % 10 == 0,
                data: vec![0, 0, 0, 1, 0x65],
            };
            done.extend(w.write(&p).unwrap());
        }
        done.extend(w.finish().unwrap());
        assert_eq!(done.len(), 3);
        let last = std::fs::read(&done[2].path).unwrap();
        let off = done[2].info.duration_offset as usize;
        assert_eq!(
            f64::from_be_bytes(last[off..off + 8].try_into().unwrap()),
            0.5
        );
        assert_eq!(valid_prefix_len(&last).unwrap(), last.len());
        assert!(valid_prefix_len(&last[..last.len() - 3]).unwrap() < last.len() - 3);
    }
}
