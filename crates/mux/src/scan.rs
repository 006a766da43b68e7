//! A streaming walk over an FLV file's tags that reads headers and small
//! prefixes, never whole bodies: what a splicer needs to index hours of video
//! in bounded memory.

use std::io::{self, BufRead, Seek};

use crate::flv::{TAG_AUDIO, TAG_HEADER_LEN, TAG_SCRIPT, TAG_VIDEO};

/// Where one tag sits and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagHeader {
    /// 8 audio, 9 video, 18 script.
    pub tag_type: u8,
    /// Decode timestamp, ms.
    pub ts_ms: u32,
    /// Offset of the tag body in the file.
    pub body_offset: u64,
    /// Length of the body.
    pub size: u32,
}

/// Why a scan stopped before the end of the file.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// Reading failed.
    #[error("read error: {0}")]
    Io(#[from] io::Error),
    /// The file is not FLV.
    #[error("not an FLV file")]
    NotFlv,
    /// The bytes at `offset` are not a complete, consistent tag.
    #[error("broken tag at byte {offset}: {why}")]
    Broken {
        /// Offset of the tag header.
        offset: u64,
        /// What is wrong.
        why: &'static str,
    },
}

/// Reads tag headers one after another from a seekable reader (a
/// `BufReader` keeps its buffer across the small jumps this makes).
#[derive(Debug)]
pub struct FlvScanner<R> {
    r: R,
    /// Where the reader is.
    pos: u64,
    /// Where the next tag starts.
    next: u64,
    /// End of the current tag's body.
    body_end: u64,
    len: u64,
}

impl<R: BufRead + Seek> FlvScanner<R> {
    /// Check the file header of a reader holding `len` bytes and start after it.
    pub fn new(mut r: R, len: u64) -> Result<Self, ScanError> {
        let mut h = [0u8; 9];
        r.read_exact(&mut h).map_err(|_| ScanError::NotFlv)?;
        if &h[..3] != b"FLV" {
            return Err(ScanError::NotFlv);
        }
        let header_len = u64::from(u32::from_be_bytes([h[5], h[6], h[7], h[8]]));
        if header_len < 9 || header_len + 4 > len {
            return Err(ScanError::NotFlv);
        }
        Ok(Self {
            r,
            pos: 9,
            next: header_len + 4,
            body_end: 0,
            len,
        })
    }

    fn goto(&mut self, to: u64) -> io::Result<()> {
        if to != self.pos {
            let delta =
                i64::try_from(to).unwrap_or(i64::MAX) - i64::try_from(self.pos).unwrap_or(0);
            self.r.seek_relative(delta)?;
            self.pos = to;
        }
        Ok(())
    }

    /// The next tag's header, `None` at a clean end of file. The body follows;
    /// read some of it with [`FlvScanner::read_body`] or let the next call skip it.
    pub fn next_tag(&mut self) -> Result<Option<TagHeader>, ScanError> {
        let offset = self.next;
        if offset == self.len {
            return Ok(None);
        }
        let broken = |why| ScanError::Broken { offset, why };
        if self.len - offset < (TAG_HEADER_LEN + 4) as u64 {
            return Err(broken("truncated tag header"));
        }
        self.goto(offset)?;
        let mut h = [0u8; TAG_HEADER_LEN];
        self.r.read_exact(&mut h)?;
        self.pos += TAG_HEADER_LEN as u64;
        if !matches!(h[0], TAG_AUDIO | TAG_VIDEO | TAG_SCRIPT) {
            return Err(broken("unknown tag type"));
        }
        let size = u32::from_be_bytes([0, h[1], h[2], h[3]]);
        let body_offset = offset + TAG_HEADER_LEN as u64;
        let body_end = body_offset + u64::from(size);
        if body_end + 4 > self.len {
            return Err(broken("tag runs past the end of the file"));
        }
        // Check the trailing PreviousTagSize before handing the tag out.
        self.goto(body_end)?;
        let mut p = [0u8; 4];
        self.r.read_exact(&mut p)?;
        self.pos += 4;
        if u64::from(u32::from_be_bytes(p)) != u64::from(size) + TAG_HEADER_LEN as u64 {
            return Err(broken("PreviousTagSize does not match"));
        }
        self.goto(body_offset)?;
        self.next = body_end + 4;
        self.body_end = body_end;
        Ok(Some(TagHeader {
            tag_type: h[0],
            ts_ms: u32::from_be_bytes([h[7], h[4], h[5], h[6]]),
            body_offset,
            size,
        }))
    }

    /// Read up to `buf.len()` bytes of the current tag's body (from where the
    /// last read stopped); returns how many.
    pub fn read_body(&mut self, buf: &mut [u8]) -> Result<usize, ScanError> {
        let n = buf
            .len()
            .min(self.body_end.saturating_sub(self.pos) as usize);
        self.r.read_exact(&mut buf[..n])?;
        self.pos += n as u64;
        Ok(n)
    }
}
