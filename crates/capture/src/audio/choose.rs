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
    /// The PulseAudio protocol: only what the application's processes play.
    PulseApp,
    /// cpal's default input (ALSA without a sound server; WASAPI).
    CpalInput,
    /// cpal's loopback of the default output (WASAPI).
    CpalLoopback,
    /// WASAPI process loopback: only what the application's processes play
    /// (Windows 10 2004 and later).
    WasapiApp,
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

/// The note of an application's sound recorded as the whole system output.
const APP_FALLBACK: &str =
    "recording the whole system output: this platform cannot record one application's sound";
/// The same, when the recorded window's process is not known.
const NO_PID: &str =
    "recording the whole system output: the recorded window's process is not known";
/// The same, when the per-application way failed.
const APP_FAILED: &str =
    "recording the whole system output: the application's own sound could not be recorded";

/// What to try for `of` on `platform`, in order, each with the note it
/// carries when it is the one taken.
fn plan(of: SoundOf, platform: Platform) -> Vec<(Step, Option<&'static str>)> {
    use Step::*;
    let system = |note| match platform {
        Platform::Linux => vec![(Pulse(Some(super::DEFAULT_MONITOR)), note)],
        Platform::Windows => vec![(CpalLoopback, note)],
        Platform::Other => vec![],
    };
    match (of, platform) {
        (SoundOf::Mic, Platform::Linux) => vec![(Pulse(None), None), (CpalInput, None)],
        (SoundOf::Mic, _) => vec![(CpalInput, None)],
        (SoundOf::System, _) => system(None),
        (SoundOf::App { pid: None }, Platform::Linux | Platform::Windows) => system(Some(NO_PID)),
        (SoundOf::App { pid: Some(_) }, Platform::Linux) => {
            let mut steps = vec![(PulseApp, None)];
            steps.extend(system(Some(APP_FAILED)));
            steps
        }
        (SoundOf::App { pid: Some(_) }, Platform::Windows) => {
            let mut steps = vec![(WasapiApp, None)];
            steps.extend(system(Some(APP_FAILED)));
            steps
        }
        (SoundOf::App { .. }, _) => system(Some(APP_FALLBACK)),
    }
}

/// How a sound is named in logs and `GetState`.
#[cfg(target_os = "linux")]
fn label(of: SoundOf) -> &'static str {
    match of {
        SoundOf::Mic => "microphone",
        SoundOf::App { .. } => "class app",
        SoundOf::System => "system sound",
    }
}

fn open_step(
    step: Step,
    of: SoundOf,
    device: Option<&str>,
) -> Result<Box<dyn AudioSource>, CaptureError> {
    #[cfg(target_os = "linux")]
    use super::{PulseSource, PulseTarget};
    match (step, of) {
        #[cfg(target_os = "linux")]
        (Step::Pulse(name), _) => {
            let dev = name.or(device).map(str::to_owned);
            Ok(Box::new(PulseSource::open(
                PulseTarget::Device(dev),
                label(of),
            )?))
        }
        #[cfg(target_os = "linux")]
        (Step::PulseApp, SoundOf::App { pid: Some(pid) }) => Ok(Box::new(PulseSource::open(
            PulseTarget::App(pid),
            label(of),
        )?)),
        #[cfg(not(target_os = "linux"))]
        (Step::Pulse(_), _) => Err(CaptureError::Unavailable(
            "audio: no PulseAudio here".into(),
        )),
        (Step::PulseApp, _) => Err(CaptureError::Unavailable(
            "audio: one application's sound cannot be recorded here".into(),
        )),
        #[cfg(windows)]
        (Step::WasapiApp, SoundOf::App { pid: Some(pid) }) => {
            Ok(Box::new(super::AppLoopback::open(pid)?))
        }
        (Step::WasapiApp, _) => Err(CaptureError::Unavailable(
            "audio: no process loopback here".into(),
        )),
        (Step::CpalInput, _) => Ok(Box::new(CpalSource::microphone(device)?)),
        (Step::CpalLoopback, _) => Ok(Box::new(CpalSource::loopback()?)),
    }
}

/// Open the sound `of` (`device`: the microphone to use, a source name or a
/// part of a device's name; `None`: the default). Never fails: when nothing
/// opens, the source's start fails with every reason, so the recording goes
/// on without that sound and says why.
pub fn open(of: SoundOf, device: Option<&str>) -> Opened {
    let device = if of == SoundOf::Mic { device } else { None };
    let mut why = Vec::new();
    for (step, note) in plan(of, HERE) {
        match open_step(step, of, device) {
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

    fn steps(of: SoundOf, p: Platform) -> Vec<Step> {
        plan(of, p).into_iter().map(|(s, _)| s).collect()
    }

    #[test]
    fn linux_talks_to_the_sound_server_and_falls_back_to_alsa_for_the_microphone() {
        assert_eq!(
            steps(SoundOf::Mic, Platform::Linux),
            [Step::Pulse(None), Step::CpalInput]
        );
        assert_eq!(
            steps(SoundOf::System, Platform::Linux),
            [Step::Pulse(Some("@DEFAULT_MONITOR@"))]
        );
    }

    #[test]
    fn the_app_is_recorded_alone_where_its_process_is_known_else_the_whole_output_says_so() {
        let app = plan(SoundOf::App { pid: Some(7) }, Platform::Linux);
        assert_eq!(app[0], (Step::PulseApp, None));
        assert_eq!(app[1].0, Step::Pulse(Some("@DEFAULT_MONITOR@")));
        assert!(app[1].1.is_some_and(|n| n.contains("whole system output")));
        let unknown = plan(SoundOf::App { pid: None }, Platform::Linux);
        assert_eq!(unknown.len(), 1);
        assert!(unknown[0].1.is_some_and(|n| n.contains("not known")));
    }

    #[test]
    fn windows_records_the_microphone_as_input_and_the_class_app_by_loopback() {
        assert_eq!(steps(SoundOf::Mic, Platform::Windows), [Step::CpalInput]);
        assert_eq!(
            steps(SoundOf::System, Platform::Windows),
            [Step::CpalLoopback]
        );
        // The app's own sound by process loopback; where this Windows cannot
        // (before 10 2004), the whole output, saying so.
        let app = plan(SoundOf::App { pid: Some(4) }, Platform::Windows);
        assert_eq!(app[0], (Step::WasapiApp, None));
        assert_eq!(app[1].0, Step::CpalLoopback);
        assert!(app[1].1.is_some_and(|n| n.contains("whole system output")));
        let unknown = plan(SoundOf::App { pid: None }, Platform::Windows);
        assert_eq!(unknown.len(), 1);
        assert_eq!(unknown[0].0, Step::CpalLoopback);
        assert!(unknown[0].1.is_some_and(|n| n.contains("not known")));
    }
}
