//! The `moov` box, built with `mp4-atom` from the sample tables.

use mp4_atom::{
    esds, Audio, Avc1, Avcc, Co64, Codec, Ctts, Dinf, Dref, Edts, Elst, ElstEntry, Esds, Hdlr,
    Mdhd, Mdia, Minf, Moov, Mp4a, Mvhd, Smhd, Stbl, Stco, Stsc, Stsd, Stss, Stsz, StszSamples,
    Stts, Tkhd, Trak, Url, Visual, Vmhd,
};

use crate::index::Sample;
use crate::tables::{self, Chunk};
use crate::SpliceError;

/// Movie timescale: ms.
pub(crate) const MOVIE_TIMESCALE: u32 = 1000;

/// What the video's sequence header says.
#[derive(Debug, Clone)]
pub(crate) struct VideoCodec {
    pub avcc: Avcc,
    pub width: u32,
    pub height: u32,
}

/// What the audio's AudioSpecificConfig says.
#[derive(Debug, Clone)]
pub(crate) struct AudioCodec {
    pub asc: Vec<u8>,
    pub object_type: u8,
    pub freq_index: u8,
    pub channels: u8,
    pub rate: u32,
}

pub(crate) fn parse_avc(record: &[u8]) -> Result<VideoCodec, SpliceError> {
    use mp4_atom::Atom;
    let bad = |why: String| SpliceError::BadConfig(format!("H.264 configuration: {why}"));
    let avcc = Avcc::decode_body(&mut &record[..]).map_err(|e| bad(e.to_string()))?;
    let sps = avcc
        .sequence_parameter_sets
        .first()
        .ok_or_else(|| bad("no SPS".into()))?;
    let rbsp = h264_reader::rbsp::decode_nal(sps).map_err(|e| bad(e.to_string()))?;
    let sps = h264_reader::nal::sps::SeqParameterSet::from_bits(h264_reader::rbsp::BitReader::new(
        &rbsp[..],
    ))
    .map_err(|e| bad(format!("{e:?}")))?;
    let (width, height) = sps.pixel_dimensions().map_err(|e| bad(format!("{e:?}")))?;
    Ok(VideoCodec {
        avcc,
        width,
        height,
    })
}

pub(crate) fn parse_asc(asc: &[u8]) -> Result<AudioCodec, SpliceError> {
    const RATES: [u32; 13] = [
        96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
    ];
    let bad = || SpliceError::BadConfig("AAC AudioSpecificConfig is not AAC-LC-like".into());
    if asc.len() < 2 {
        return Err(bad());
    }
    let object_type = asc[0] >> 3;
    let freq_index = ((asc[0] & 7) << 1) | (asc[1] >> 7);
    let channels = (asc[1] >> 3) & 0x0f;
    let rate = *RATES.get(freq_index as usize).ok_or_else(bad)?;
    Ok(AudioCodec {
        asc: asc.to_vec(),
        object_type,
        freq_index,
        channels,
        rate,
    })
}

/// One track's part of the moov.
pub(crate) struct TrackIn<'a> {
    pub samples: &'a [Sample],
    pub chunks: Vec<&'a Chunk>,
    /// Where the track starts on the movie timeline, ms.
    pub start_ms: i64,
    pub zero_ms: i64,
}

/// Build the moov. `data_start` is the file offset of the first mdat payload
/// byte; `wide` selects 64-bit chunk offsets.
pub(crate) fn build(
    video: Option<(&VideoCodec, TrackIn<'_>)>,
    audio: Option<(&AudioCodec, TrackIn<'_>)>,
    data_start: u64,
    wide: bool,
) -> (Moov, u64) {
    let mut traks = Vec::new();
    let mut movie_ms = 0u64;
    let mut id = 0;
    if let Some((codec, t)) = video {
        id += 1;
        let (stts, dur) = tables::video_stts(t.samples);
        let codec_entry: Codec = Avc1 {
            visual: Visual {
                data_reference_index: 1,
                width: codec.width as u16,
                height: codec.height as u16,
                horizresolution: 72.into(),
                vertresolution: 72.into(),
                frame_count: 1,
                compressor: "".into(),
                depth: 24,
            },
            avcc: codec.avcc.clone(),
            btrt: None,
            colr: None,
            pasp: None,
            taic: None,
            fiel: None,
            spatial: Default::default(),
        }
        .into();
        let mut stbl = sample_table(&t, codec_entry, stts, data_start, wide);
        stbl.ctts = tables::ctts(t.samples).map(|entries| Ctts { entries });
        let keys: Vec<u32> = (1..)
            .zip(t.samples)
            .filter(|(_, s)| s.key)
            .map(|(i, _)| i)
            .collect();
        stbl.stss = Some(Stss { entries: keys });
        let (trak, end) = trak(
            id,
            &t,
            dur,
            MOVIE_TIMESCALE,
            stbl,
            Some((codec.width, codec.height)),
        );
        movie_ms = movie_ms.max(end);
        traks.push(trak);
    }
    if let Some((codec, t)) = audio {
        id += 1;
        let (stts, dur) = tables::audio_stts(t.samples, codec.rate, t.zero_ms);
        let codec_entry: Codec = Mp4a {
            audio: Audio {
                data_reference_index: 1,
                channel_count: u16::from(codec.channels.max(1)),
                sample_size: 16,
                sample_rate: (codec.rate.min(65535) as u16).into(),
            },
            esds: Esds {
                es_desc: esds::EsDescriptor {
                    es_id: id as u16,
                    dec_config: esds::DecoderConfig {
                        object_type_indication: 0x40,
                        stream_type: 5,
                        dec_specific: Some(esds::DecoderSpecific {
                            profile: codec.object_type,
                            freq_index: codec.freq_index,
                            chan_conf: codec.channels,
                            raw: codec.asc.clone(),
                        }),
                        ..Default::default()
                    },
                    ..Default::default()
                },
            },
            btrt: None,
            taic: None,
        }
        .into();
        let stbl = sample_table(&t, codec_entry, stts, data_start, wide);
        let (trak, end) = trak(id, &t, dur, codec.rate, stbl, None);
        movie_ms = movie_ms.max(end);
        traks.push(trak);
    }
    let moov = Moov {
        mvhd: Mvhd {
            timescale: MOVIE_TIMESCALE,
            duration: movie_ms,
            rate: 1.into(),
            volume: 1.into(),
            next_track_id: id + 1,
            ..Default::default()
        },
        trak: traks,
        ..Default::default()
    };
    (moov, movie_ms)
}

fn sample_table(
    t: &TrackIn<'_>,
    codec: Codec,
    stts: Vec<mp4_atom::SttsEntry>,
    data_start: u64,
    wide: bool,
) -> Stbl {
    let owned: Vec<Chunk> = t.chunks.iter().map(|c| **c).collect();
    let offsets = t.chunks.iter().map(|c| data_start + c.rel_offset);
    let (stco, co64) = if wide {
        (
            None,
            Some(Co64 {
                entries: offsets.collect(),
            }),
        )
    } else {
        (
            Some(Stco {
                entries: offsets.map(|o| o as u32).collect(),
            }),
            None,
        )
    };
    Stbl {
        stsd: Stsd {
            codecs: vec![codec],
        },
        stts: Stts { entries: stts },
        stsc: Stsc {
            entries: tables::stsc(&owned),
        },
        stsz: Stsz {
            samples: StszSamples::Different {
                sizes: t.samples.iter().map(|s| s.size).collect(),
            },
        },
        stco,
        co64,
        ..Default::default()
    }
}

/// A trak; returns it and where it ends on the movie timeline (ms).
fn trak(
    id: u32,
    t: &TrackIn<'_>,
    media_dur: u64,
    timescale: u32,
    stbl: Stbl,
    // Picture size for a video track, `None` for sound.
    picture: Option<(u32, u32)>,
) -> (Trak, u64) {
    let video = picture.is_some();
    let (width, height) = picture.unwrap_or_default();
    let dur_ms = media_dur * u64::from(MOVIE_TIMESCALE) / u64::from(timescale.max(1));
    let delay_ms = (t.start_ms - t.zero_ms).max(0) as u64;
    // A track that starts after the other gets an empty edit first, so the two
    // stay in sync.
    let edts = (delay_ms > 0).then(|| Edts {
        elst: Some(Elst {
            entries: vec![
                ElstEntry {
                    segment_duration: delay_ms,
                    media_time: None,
                    media_rate: 1.into(),
                },
                ElstEntry {
                    segment_duration: dur_ms,
                    media_time: Some(0),
                    media_rate: 1.into(),
                },
            ],
        }),
    });
    let trak = Trak {
        tkhd: Tkhd {
            track_id: id,
            duration: delay_ms + dur_ms,
            enabled: true,
            in_movie: true,
            volume: if video { 0.into() } else { 1.into() },
            width: (width as u16).into(),
            height: (height as u16).into(),
            ..Default::default()
        },
        edts,
        mdia: Mdia {
            mdhd: Mdhd {
                timescale,
                duration: media_dur,
                language: "und".into(),
                ..Default::default()
            },
            hdlr: Hdlr {
                handler: if video {
                    b"vide".into()
                } else {
                    b"soun".into()
                },
                name: if video {
                    "VideoHandler"
                } else {
                    "SoundHandler"
                }
                .into(),
            },
            minf: Minf {
                vmhd: video.then(Vmhd::default),
                smhd: (!video).then(Smhd::default),
                dinf: Dinf {
                    dref: Dref {
                        entries: vec![Url {
                            location: "".into(),
                        }
                        .into()],
                    },
                },
                stbl,
                ..Default::default()
            },
        },
        ..Default::default()
    };
    (trak, delay_ms + dur_ms)
}
