//! The MP4's chapter list: a Nero-style `moov/udta/chpl` box, the form
//! FFmpeg's MP4 muxer writes and its demuxer (so `ffprobe -show_chapters`
//! and FFmpeg-based players) reads. Times are rebased like the samples.

use mp4_atom::{Chpl, ChplEntry, Udta};

/// A chapter to write: where it begins on the slices' own timeline (the
/// recording time their tags carry), ms, and its title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChapterMark<'a> {
    /// Recording time, ms.
    pub start_ms: u64,
    /// What a player shows.
    pub title: &'a str,
}

/// Most chapters a `chpl` holds (its count is one byte).
const MAX_CHAPTERS: usize = 255;
/// Longest title, bytes (its length is one byte).
const MAX_TITLE_BYTES: usize = 255;

/// `marks` placed on a movie whose time 0 is recording time `zero_ms` and
/// which lasts `movie_ms`: (movie ms, title) in time order, those past its
/// end dropped (one before its start begins at 0), at most 255.
pub(crate) fn place<'a>(
    marks: &[ChapterMark<'a>],
    zero_ms: i64,
    movie_ms: u64,
) -> Vec<(u64, &'a str)> {
    let mut entries: Vec<(u64, &str)> = marks
        .iter()
        .map(|m| {
            let start = i64::try_from(m.start_ms).unwrap_or(i64::MAX);
            (start.saturating_sub(zero_ms).max(0) as u64, m.title)
        })
        .filter(|&(ms, _)| ms < movie_ms)
        .collect();
    entries.sort_by_key(|&(ms, _)| ms);
    entries.truncate(MAX_CHAPTERS);
    entries
}

/// The `udta` holding chapters `placed` by [`place`], titles cut at 255
/// bytes on a character boundary; `None` without any.
pub(crate) fn udta(placed: &[(u64, &str)]) -> Option<Udta> {
    if placed.is_empty() {
        return None;
    }
    let entries = placed
        .iter()
        .map(|&(ms, title)| ChplEntry {
            start: ms * 10_000,
            title: cut(title, MAX_TITLE_BYTES).to_owned(),
        })
        .collect();
    Some(Udta {
        chpl: Some(Chpl { entries }),
        ..Default::default()
    })
}

/// `s` cut to at most `max` bytes, on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(start_ms: u64, title: &str) -> ChapterMark<'_> {
        ChapterMark { start_ms, title }
    }

    #[test]
    fn rebased_sorted_clipped_and_cut() {
        let long = "é".repeat(200);
        let placed = place(
            &[
                mark(9000, "Questions"),
                mark(100, "Early"),
                mark(4000, &long),
                mark(70_000, "After the end"),
            ],
            500,
            60_000,
        );
        assert_eq!(placed[1], (3500, long.as_str()), "whole titles");
        let u = udta(&placed).expect("chapters");
        let got: Vec<(u64, usize)> = u
            .chpl
            .expect("a chpl")
            .entries
            .iter()
            .map(|e| (e.start / 10_000, e.title.len()))
            .collect();
        assert_eq!(got, [(0, 5), (3500, 254), (8500, 9)]);
        assert!(place(&[mark(70_000, "x")], 0, 60_000).is_empty());
        assert!(udta(&[]).is_none());
    }
}
