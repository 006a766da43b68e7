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
    order: &'static [DefaultSound],
    format: AudioFormat,
    name: String,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Where the default sound comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DefaultSound {
    /// A loopback of the default output: what the class app plays (WASAPI).
    OutputLoopback,
    /// The default input device.
    Input,
}

/// The defaults to try, in order. Windows records what the class app plays
/// (WASAPI loopback of the default output), falling back to the microphone
/// when there is no output device; elsewhere the default input (on Linux a
/// sink's monitor can be made the default to record what the machine plays).
fn default_order(windows: bool) -> &'static [DefaultSound] {
    if windows {
        &[DefaultSound::OutputLoopback, DefaultSound::Input]
    } else {
        &[DefaultSound::Input]
    }
}

/// Whether device (`id`, `name`) is the one asked for: its cpal id exactly,
/// or a part of its name, case-blind.
fn is_wanted(wanted: &str, id: &str, name: &str) -> bool {
    id == wanted || name.to_lowercase().contains(&wanted.to_lowercase())
}

fn pick_device(
    host: &cpal::Host,
    wanted: Option<&str>,
    order: &[DefaultSound],
) -> Result<(cpal::Device, bool), CaptureError> {
    if let Some(w) = wanted {
        let all = host.devices().map_err(unavailable)?;
        for d in all {
            let id = d.id().map(|i| i.to_string()).unwrap_or_default();
            let name = d
                .description()
                .map(|n| n.name().to_owned())
                .unwrap_or_default();
            if is_wanted(w, &id, &name) {
                let input = d.supports_input();
                return Ok((d, !input));
            }
        }
        return Err(unavailable(format!("no audio device matches {w:?}")));
    }
    for choice in order {
        let found = match choice {
            DefaultSound::OutputLoopback => host.default_output_device().map(|d| (d, true)),
            DefaultSound::Input => host.default_input_device().map(|d| (d, false)),
        };
        if let Some(found) = found {
            return Ok(found);
        }
    }
    Err(unavailable(match order.first() {
        Some(DefaultSound::OutputLoopback) => "no default output device",
        _ => "no default input device",
    }))
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
        Self::open_from(device, default_order(cfg!(windows)))
    }

    /// The default input (the microphone), or `device`.
    pub fn microphone(device: Option<&str>) -> Result<Self, CaptureError> {
        Self::open_from(device, &[DefaultSound::Input])
    }

    /// A loopback of the default output: what the machine plays (WASAPI;
    /// other hosts have no loopback and refuse).
    pub fn loopback() -> Result<Self, CaptureError> {
        Self::open_from(None, &[DefaultSound::OutputLoopback])
    }

    fn open_from(
        device: Option<&str>,
        order: &'static [DefaultSound],
    ) -> Result<Self, CaptureError> {
        let host = cpal::default_host();
        let (dev, loopback) = pick_device(&host, device, order)?;
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
            order,
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
        let order = self.order;
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), CaptureError>>();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("txcr-audio-in".into())
            .spawn(move || {
                let run = || -> Result<cpal::Stream, CaptureError> {
                    let host = cpal::default_host();
                    let (dev, loopback) = pick_device(&host, wanted.as_deref(), order)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_records_what_the_class_app_plays_and_falls_back_to_the_microphone() {
        assert_eq!(
            default_order(true),
            [DefaultSound::OutputLoopback, DefaultSound::Input]
        );
        assert_eq!(default_order(false), [DefaultSound::Input]);
    }

    #[test]
    fn a_device_is_named_by_its_id_or_a_part_of_its_name() {
        assert!(is_wanted(
            "Monitor of",
            "pulse:3",
            "Monitor of Built-in Audio"
        ));
        assert!(is_wanted(
            "speakers",
            "{0.0.0.00000000}.{abc}",
            "Speakers (Realtek(R) Audio)"
        ));
        assert!(is_wanted(
            "{0.0.0.00000000}.{abc}",
            "{0.0.0.00000000}.{abc}",
            "Speakers"
        ));
        assert!(!is_wanted("USB", "hw:0", "Built-in Audio"));
    }
}
