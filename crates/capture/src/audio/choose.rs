//! Which backend records which sound of the class, and the fallbacks: the
//! one place the platform is chosen (as cpal chooses its host), so
//! applications pass only what they want.

use super::{unavailable, AudioSource, CpalSource};
use crate::CaptureError;

/// A sound of the class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoundOf {
    /// The teacher's microphone: the default input, or the device named.
    Mic,
    /// What the recorded application plays (the students, a video shown in
    /// class): only its process tree where the platform allows, else the
    /// whole system output.
    App {
        /// The recorded window's process, when known.
        pid: Option<u32>,
    },
    /// Everything the machine plays.
    System,
}

/// An opened source and, when it is not quite what was asked for, why.
pub struct Opened {
    /// The source (one whose start fails with the reason when nothing could
    /// be opened).
    pub source: Box<dyn AudioSource>,
    /// Set when a fallback was taken, e.g. the whole system output in place
    /// of one application's sound.
    pub note: Option<String>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("source", &self.source.describe())
            .field("note", &self.note)
            .finish()
    }
}

/// A way of recording a sound, in the order tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The PulseAudio protocol (PulseAudio, PipeWire); `None`: the default
    /// source, else this source name.
    Pulse(Option<&'static str>),
    /// cpal's default input (ALSA without a sound server; WASAPI).
    CpalInput,
    /// cpal's loopback of the default output (WASAPI).
    CpalLoopback,
}

/// The platform of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Platform {
    Linux,
    Windows,
    Other,
}

const HERE: Platform = if cfg!(windows) {
    Platform::Windows
} else if cfg!(target_os = "linux") {
    Platform::Linux
} else {
    Platform::Other
};

/// Per-application capture is not built yet on any platform: the application's
/// sound is the whole system output, and the note says so.
const APP_FALLBACK: &str =
    "recording the whole system output: per-application sound capture is not available on this platform yet";

/// What to try for `of` on `platform`, and the note a fallback carries.
fn plan(of: SoundOf, platform: Platform) -> (&'static [Step], Option<&'static str>) {
    use Step::*;
    match (of, platform) {
        (SoundOf::Mic, Platform::Linux) => (&[Pulse(None), CpalInput], None),
        (SoundOf::Mic, _) => (&[CpalInput], None),
        (SoundOf::System, Platform::Linux) => (&[Pulse(Some(super::DEFAULT_MONITOR))], None),
        (SoundOf::System, Platform::Windows) => (&[CpalLoopback], None),
        (SoundOf::System, Platform::Other) => (&[], None),
        (SoundOf::App { .. }, p) => (plan(SoundOf::System, p).0, Some(APP_FALLBACK)),
    }
}

fn open_step(step: Step, device: Option<&str>) -> Result<Box<dyn AudioSource>, CaptureError> {
    match step {
        #[cfg(target_os = "linux")]
        Step::Pulse(name) => {
            let label = if name.is_some() {
                "system sound"
            } else {
                "microphone"
            };
            Ok(Box::new(super::PulseSource::open(name.or(device), label)?))
        }
        #[cfg(not(target_os = "linux"))]
        Step::Pulse(_) => Err(CaptureError::Unavailable(
            "audio: no PulseAudio here".into(),
        )),
        Step::CpalInput => Ok(Box::new(CpalSource::microphone(device)?)),
        Step::CpalLoopback => Ok(Box::new(CpalSource::loopback()?)),
    }
}

/// Open the sound `of` (`device`: the microphone to use, a source name or a
/// part of a device's name; `None`: the default). Never fails: when nothing
/// opens, the source's start fails with every reason, so the recording goes
/// on without that sound and says why.
pub fn open(of: SoundOf, device: Option<&str>) -> Opened {
    let (steps, note) = plan(of, HERE);
    let device = if of == SoundOf::Mic { device } else { None };
    let mut why = Vec::new();
    for &step in steps {
        match open_step(step, device) {
            Ok(source) => {
                return Opened {
                    source,
                    note: note.map(str::to_owned),
                }
            }
            Err(e) => why.push(e.to_string()),
        }
    }
    if why.is_empty() {
        why.push("no way to record this sound on this platform".into());
    }
    Opened {
        source: unavailable(why.join("; ")),
        note: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_talks_to_the_sound_server_and_falls_back_to_alsa_for_the_microphone() {
        let (steps, note) = plan(SoundOf::Mic, Platform::Linux);
        assert_eq!(steps, [Step::Pulse(None), Step::CpalInput]);
        assert_eq!(note, None);
        let (steps, _) = plan(SoundOf::System, Platform::Linux);
        assert_eq!(steps, [Step::Pulse(Some("@DEFAULT_MONITOR@"))]);
    }

    #[test]
    fn windows_records_the_microphone_as_input_and_the_class_app_by_loopback() {
        assert_eq!(plan(SoundOf::Mic, Platform::Windows).0, [Step::CpalInput]);
        assert_eq!(
            plan(SoundOf::System, Platform::Windows).0,
            [Step::CpalLoopback]
        );
        let (steps, note) = plan(SoundOf::App { pid: Some(4) }, Platform::Windows);
        assert_eq!(steps, [Step::CpalLoopback]);
        assert!(note.is_some_and(|n| n.contains("whole system output")));
    }
}
