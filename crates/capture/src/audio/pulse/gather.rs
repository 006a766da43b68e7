//! Several record streams summed into one run of blocks. Sans-I/O: the
//! caller passes each stream's samples.
//!
//! A class app may play through several streams at once (a call's voices
//! and a video), each monitored separately; they all follow the sound
//! server's clock, so they are summed block by block as the fullest one
//! fills. While the app plays nothing there is nothing to hand out: the
//! recorder's mix is silence wherever a source delivered nothing.

use std::collections::{BTreeMap, VecDeque};

/// Interleaved samples a block holds (20 ms of 48 kHz stereo).
pub const BLOCK: usize = 960 * 2;
/// A stream more than this many blocks ahead of the others loses the excess.
const MAX_AHEAD: usize = 10;

/// Streams' samples waiting to be summed.
#[derive(Debug, Default)]
pub struct Gather {
    fifos: BTreeMap<u32, VecDeque<f32>>,
}

impl Gather {
    /// Samples of stream `key`.
    pub fn push(&mut self, key: u32, samples: impl IntoIterator<Item = f32>) {
        let fifo = self.fifos.entry(key).or_default();
        fifo.extend(samples);
        let excess = fifo.len().saturating_sub(MAX_AHEAD * BLOCK);
        fifo.drain(..excess);
    }

    /// Stream `key` is gone.
    pub fn remove(&mut self, key: u32) {
        self.fifos.remove(&key);
    }

    /// Hand out every whole block there is, summed.
    pub fn blocks(&mut self, out: &mut Vec<Vec<f32>>) {
        while self.fifos.values().any(|f| f.len() >= BLOCK) {
            let mut block = vec![0.0f32; BLOCK];
            for fifo in self.fifos.values_mut() {
                let n = fifo.len().min(BLOCK);
                for (b, s) in block.iter_mut().zip(fifo.drain(..n)) {
                    *b += s;
                }
            }
            out.push(block);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_streams_are_summed_block_by_block() {
        let mut g = Gather::default();
        g.push(1, std::iter::repeat_n(0.25, BLOCK + 10));
        g.push(2, std::iter::repeat_n(0.5, BLOCK / 2));
        let mut out = Vec::new();
        g.blocks(&mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0][0], 0.75);
        assert_eq!(
            out[0][BLOCK - 1],
            0.25,
            "the slower stream had only half a block"
        );
        g.remove(1);
        g.blocks(&mut out);
        assert_eq!(out.len(), 1, "nothing whole is left");
    }

    #[test]
    fn a_stream_far_ahead_loses_its_excess() {
        let mut g = Gather::default();
        g.push(1, std::iter::repeat_n(0.1, BLOCK * 30));
        let mut out = Vec::new();
        g.blocks(&mut out);
        assert_eq!(out.len(), MAX_AHEAD);
    }
}
