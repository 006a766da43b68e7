use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Instant;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample};

use super::{AudioBlock, AudioFormat, AudioSource, BlockSink};
use crate::CaptureError;

fn unavailable(e: impl std::fmt::Display) -> CaptureError {
    CaptureError::Unavailable(format!("audio: {e}"))
}

/// Sound from the system through cpal: the default input (on Linux set it to a
/// sink's monitor source to record what the machine plays), or on Windows a
/// WASAPI loopback of the default output. `device` picks another one by a
/// part of its name or by its cpal id.
///
/// The cpal stream lives on its own thread (it is not `Send` on every host);
/// dropping the source stops it.
#[derive(Debug)]
pub struct CpalSource {
    device: Option<String>,
    format: AudioFormat,
    name: String,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

fn pick_device(
    host: &cpal::Host,
    wanted: Option<&str>,
) -> Result<(cpal::Device, bool), CaptureError> {
    if let Some(w) = wanted {
        let w_lower = w.to_lowercase();
        let all = host.devices().map_err(unavailable)?;
        for d in all {
            let id = d.id().map(|i| i.to_string()).unwrap_or_default();
            let name = d
                .description()
                .map(|n| n.name().to_owned())
                .unwrap_or_default();
            if id == w || name.to_lowercase().contains(&w_lower) {
                let input = d.supports_input();
                return Ok((d, !input));
            }
        }
        return Err(unavailable(format!("no audio device matches {w:?}")));
    }
    if cfg!(windows) {
        // Record what the class app plays: loopback of the default output.
        if let Some(d) = host.default_output_device() {
            return Ok((d, true));
        }
    }
    host.default_input_device()
        .map(|d| (d, false))
        .ok_or_else(|| unavailable("no default input device"))
}

fn build<T>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    sink: BlockSink,
) -> Result<cpal::Stream, CaptureError>
where
    T: SizedSample + Send + 'static,
    f32: FromSample<T>,
{
    device
        .build_input_stream(
            *config,
            move |data: &[T], _: &cpal::InputCallbackInfo| {
                let samples = data.iter().map(|s| s.to_sample::<f32>()).collect();
                sink.push(AudioBlock {
                    samples,
                    captured_at: Instant::now(),
                });
            },
            |e| eprintln!("txcr-capture: audio stream error: {e}"),
            None,
        )
        .map_err(unavailable)
}

impl CpalSource {
    /// Find the device and its format; nothing runs until [`AudioSource::start`].
    pub fn open(device: Option<&str>) -> Result<Self, CaptureError> {
        let host = cpal::default_host();
        let (dev, loopback) = pick_device(&host, device)?;
        let cfg = if loopback {
            dev.default_output_config()
        } else {
            dev.default_input_config()
        }
        .map_err(unavailable)?;
        let name = dev
            .description()
            .map(|d| d.name().to_owned())
            .unwrap_or_else(|_| "audio device".into());
        Ok(Self {
            device: device.map(str::to_owned),
            format: AudioFormat {
                sample_rate: cfg.sample_rate(),
                channels: cfg.channels(),
            },
            name: if loopback {
                format!("{name} (loopback)")
            } else {
                name
            },
            stop: None,
            thread: None,
        })
    }
}

impl AudioSource for CpalSource {
    fn format(&self) -> AudioFormat {
        self.format
    }

    fn describe(&self) -> String {
        format!(
            "{}, {} Hz, {} ch",
            self.name, self.format.sample_rate, self.format.channels
        )
    }

    fn start(&mut self, sink: BlockSink) -> Result<(), CaptureError> {
        let wanted = self.device.clone();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), CaptureError>>();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("txcr-audio-in".into())
            .spawn(move || {
                let run = || -> Result<cpal::Stream, CaptureError> {
                    let host = cpal::default_host();
                    let (dev, loopback) = pick_device(&host, wanted.as_deref())?;
                    let sc = if loopback {
                        dev.default_output_config()
                    } else {
                        dev.default_input_config()
                    }
                    .map_err(unavailable)?;
                    let config = sc.config();
                    let stream = match sc.sample_format() {
                        SampleFormat::F32 => build::<f32>(&dev, &config, sink),
                        SampleFormat::I16 => build::<i16>(&dev, &config, sink),
                        SampleFormat::I32 => build::<i32>(&dev, &config, sink),
                        SampleFormat::U16 => build::<u16>(&dev, &config, sink),
                        other => Err(unavailable(format!("unsupported sample format {other}"))),
                    }?;
                    stream.play().map_err(unavailable)?;
                    Ok(stream)
                };
                match run() {
                    Ok(stream) => {
                        let _ = ready_tx.send(Ok(()));
                        let _ = stop_rx.recv(); // until the source is dropped
                        drop(stream);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })
            .map_err(unavailable)?;
        let ready = ready_rx
            .recv()
            .unwrap_or_else(|_| Err(unavailable("audio thread ended")));
        self.stop = Some(stop_tx);
        self.thread = Some(thread);
        ready
    }
}

impl Drop for CpalSource {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
