use std::collections::VecDeque;

use txcr_core::{MediaKind, Packet};

/// Puts audio and video packets in decode-time order before they reach the
/// [`Slicer`](crate::Slicer), so audio that plays before a cut lands in the
/// slice whose video it plays with, and after it in the next.
///
/// A stream waits for the other up to `max_wait_ms` of its own time span, so a
/// stalled or absent sound card never holds video back for longer than that.
#[derive(Debug)]
pub struct Interleaver {
    video: VecDeque<Packet>,
    audio: VecDeque<Packet>,
    audio_open: bool,
    max_wait_ms: u64,
}

fn span(q: &VecDeque<Packet>) -> u64 {
    match (q.front(), q.back()) {
        (Some(a), Some(b)) => b.dts_ms.saturating_sub(a.dts_ms),
        _ => 0,
    }
}

impl Interleaver {
    /// `audio`: whether an audio stream is expected at all.
    pub fn new(audio: bool, max_wait_ms: u64) -> Self {
        Self {
            video: VecDeque::new(),
            audio: VecDeque::new(),
            audio_open: audio,
            max_wait_ms,
        }
    }

    /// Queue a packet.
    pub fn push(&mut self, p: Packet) {
        match p.kind {
            MediaKind::Video => self.video.push_back(p),
            MediaKind::Audio => self.audio.push_back(p),
        }
    }

    /// No more audio will come (the sound source ended or failed).
    pub fn close_audio(&mut self) {
        self.audio_open = false;
    }

    /// The next packet that can be written now, if any.
    pub fn pop(&mut self) -> Option<Packet> {
        match (self.video.front(), self.audio.front()) {
            (Some(v), Some(a)) => {
                if a.dts_ms <= v.dts_ms {
                    self.audio.pop_front()
                } else {
                    self.video.pop_front()
                }
            }
            (Some(_), None) if !self.audio_open || span(&self.video) > self.max_wait_ms => {
                self.video.pop_front()
            }
            (None, Some(_)) if span(&self.audio) > self.max_wait_ms => self.audio.pop_front(),
            _ => None,
        }
    }

    /// Everything left, in order (end of recording).
    pub fn drain(&mut self) -> Vec<Packet> {
        self.audio_open = false;
        let mut out = Vec::new();
        while let Some(p) = self.pop() {
            out.push(p);
        }
        out.extend(self.audio.drain(..));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(kind: MediaKind, ms: u64) -> Packet {
        Packet {
            kind,
            pts_ms: ms,
            dts_ms: ms,
            keyframe: true,
            data: vec![],
        }
    }

    fn order(il: &mut Interleaver) -> Vec<(char, u64)> {
        std::iter::from_fn(|| il.pop())
            .map(|p| (if p.kind == MediaKind::Video { 'v' } else { 'a' }, p.dts_ms))
            .collect()
    }

    #[test]
    fn merges_by_time_and_waits_for_the_other_stream() {
        let mut il = Interleaver::new(true, 500);
        for ms in [0, 66, 133] {
            il.push(p(MediaKind::Video, ms));
        }
        assert_eq!(order(&mut il), [], "video waits for audio");
        for ms in [0, 21, 42, 64, 85, 106] {
            il.push(p(MediaKind::Audio, ms));
        }
        assert_eq!(
            order(&mut il),
            [
                ('a', 0),
                ('v', 0),
                ('a', 21),
                ('a', 42),
                ('a', 64),
                ('v', 66),
                ('a', 85),
                ('a', 106)
            ]
        );
        assert_eq!(il.drain().len(), 1);
    }

    #[test]
    fn a_silent_sound_card_holds_video_back_only_briefly() {
        let mut il = Interleaver::new(true, 500);
        for ms in (0..=600).step_by(100) {
            il.push(p(MediaKind::Video, ms));
        }
        assert_eq!(order(&mut il), [('v', 0)], "released down to a 500 ms span");
        let mut none = Interleaver::new(false, 500);
        none.push(p(MediaKind::Video, 0));
        assert_eq!(order(&mut none), [('v', 0)], "no audio expected: no wait");
    }
}
