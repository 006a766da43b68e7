use serde_json::{Map, Value};

use crate::ApiError;

/// The command names of the contract, as they appear in the path.
/// The last ones are extensions (README).
pub const COMMANDS: [&str; 9] = [
    "Init",
    "StartRecord",
    "StopRecord",
    "PauseRecord",
    "ResumeRecord",
    "GetState",
    "Exit",
    "GetPreview",
    "AddChapter",
];

/// The extension path (not a command: `GET`, `text/event-stream`) that streams
/// what [`crate::events`] describes.
pub const EVENTS_PATH: &str = "Events";

/// `GetPreview`'s default and largest `MaxWidth`.
pub const PREVIEW_WIDTH: (u32, u32) = (320, 1920);

/// Longest `AddChapter` title, in characters.
pub const MAX_CHAPTER_TITLE: usize = 200;

/// Largest request body accepted; real commands are a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A parsed, validated command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Authenticate.
    Init(Init),
    /// Start recording.
    StartRecord(StartRecord),
    /// Stop recording.
    StopRecord,
    /// Pause.
    PauseRecord,
    /// Resume.
    ResumeRecord,
    /// Read the state.
    GetState,
    /// Stop the service.
    Exit,
    /// Extension: a small picture of what is being recorded.
    GetPreview {
        /// `MaxWidth` in pixels (16…1920, default 320); never scaled up.
        max_width: u32,
    },
    /// Extension: mark the current recording time as a chapter.
    AddChapter {
        /// `Title`: 1…[`MAX_CHAPTER_TITLE`] characters, trimmed.
        title: String,
    },
}

/// Init's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Init {
    /// `SdkAppId`.
    pub sdk_app_id: u64,
    /// `UserId` (a JSON number is accepted and kept as its decimal text).
    pub user_id: String,
    /// `UserSig`.
    pub user_sig: String,
}

/// What to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `Wnd`: a native window id. Wins when both are given.
    Window(u64),
    /// `AppProc`: the process (executable) name.
    Process(String),
}

/// StartRecord's fields, defaults applied.
///
/// A zero (for strings, an empty string) in an optional field means "not
/// set": the TIC C++ client serialises its whole `TEduRecordParam` struct,
/// so every field is always sent, zero where the app did not set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartRecord {
    /// `Wnd` or `AppProc`.
    pub target: Target,
    /// `DstPath`, unresolved.
    pub dst_path: Option<String>,
    /// `x`.
    pub x: u32,
    /// `y`.
    pub y: u32,
    /// `Width` (0 = window width).
    pub width: u32,
    /// `Height` (0 = window height).
    pub height: u32,
    /// `VideoFps`, 1…60, default 15 (absent or 0).
    pub video_fps: u32,
    /// `VideoBps` in bits per second; `None` (absent or 0) = automatic.
    /// Values below 50 000 are kilobits per second, as the TIC C++ client
    /// sends them (its default, 1000, is 1 Mbit/s).
    pub video_bps: Option<u32>,
    /// `EnableAudio`, default true.
    pub enable_audio: bool,
    /// Extension `AudioSources`: which sounds to mix (`["mic","app"]`…);
    /// `None`: the service's default. An empty list records no sound.
    pub audio_sources: Option<Vec<crate::SoundKind>>,
    /// `EnableUpload`, default true.
    pub enable_upload: bool,
    /// `SliceTime` seconds, 1…86400, default 300 (absent or 0).
    pub slice_time: u32,
    /// `ClassId`. Required by the contract, but the contract's own example
    /// body has none, and clients copy it: `None` records as class 0 (the
    /// service logs a warning).
    pub class_id: Option<u64>,
    /// Extension `AutoChapters`: a chapter at each slide change. `None`:
    /// the service's default.
    pub auto_chapters: Option<bool>,
}

/// A `VideoBps` below this is kilobits per second (no video is watchable
/// below 50 kbit/s, and the TIC C++ client's `videoBps` is in kbit/s).
const KBPS_BELOW: i64 = 50_000;

struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => {
                let v = n
                    .as_i64()
                    .or_else(|| {
                        n.as_f64()
                            .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                            .map(|f| f as i64)
                    })
                    .ok_or_else(|| ApiError::invalid(format!("{name} must be a whole number")))?;
                if v < min || v > max {
                    return Err(ApiError::invalid(format!(
                        "{name} must be between {min} and {max}, got {v}"
                    )));
                }
                Ok(Some(v))
            }
            Some(_) => Err(ApiError::invalid(format!("{name} must be a number"))),
        }
    }

    /// An optional whole number where 0 means "not set" (checked against
    /// `min..=max` otherwise).
    fn nonzero_int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        match self.int(name, 0, max)? {
            Some(0) | None => Ok(None),
            Some(v) if v < min => Err(ApiError::invalid(format!(
                "{name} must be 0 (the default) or between {min} and {max}, got {v}"
            ))),
            v => Ok(v),
        }
    }

    fn required_int(&self, name: &str, min: i64, max: i64) -> Result<i64, ApiError> {
        self.int(name, min, max)?
            .ok_or_else(|| ApiError::invalid(format!("{name} is required")))
    }

    fn string(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::invalid(format!("{name} must be a string"))),
        }
    }

    fn sound_kinds(&self, name: &str) -> Result<Option<Vec<crate::SoundKind>>, ApiError> {
        let list = match self.0.get(name) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Array(a)) => a,
            Some(_) => {
                return Err(ApiError::invalid(format!(
                    "{name} must be a list of \"mic\", \"app\", \"system\""
                )))
            }
        };
        let mut kinds = Vec::new();
        for v in list {
            let kind = v
                .as_str()
                .and_then(crate::SoundKind::parse)
                .ok_or_else(|| {
                    let shown: String = v.to_string().chars().take(40).collect();
                    ApiError::invalid(format!(
                        "{name}: {shown} is not one of \"mic\", \"app\", \"system\""
                    ))
                })?;
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        Ok(Some(kinds))
    }

    fn bool(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        Ok(self.opt_bool(name)?.unwrap_or(default))
    }

    fn opt_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::invalid(format!("{name} must be true or false"))),
        }
    }
}

fn body_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::invalid("the request body must be a JSON object")),
        Err(e) => Err(ApiError::invalid(format!(
            "the request body is not valid JSON: {e}"
        ))),
    }
}

fn parse_init(f: &Fields) -> Result<Init, ApiError> {
    let sdk_app_id = f.required_int("SdkAppId", 1, u32::MAX.into())? as u64;
    let user_id = match f.0.get("UserId") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n.to_string(),
        Some(Value::String(_)) => return Err(ApiError::invalid("UserId must not be empty")),
        None | Some(Value::Null) => return Err(ApiError::invalid("UserId is required")),
        Some(_) => return Err(ApiError::invalid("UserId must be a string")),
    };
    if user_id.len() > 256 {
        return Err(ApiError::invalid("UserId is longer than 256 bytes"));
    }
    let user_sig = f
        .string("UserSig")?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::invalid("UserSig is required"))?;
    Ok(Init {
        sdk_app_id,
        user_id,
        user_sig,
    })
}

fn parse_start(f: &Fields) -> Result<StartRecord, ApiError> {
    const DIM: i64 = 16384;
    let wnd = f.nonzero_int("Wnd", 1, i64::MAX)?;
    let app_proc = f.string("AppProc")?.filter(|s| !s.trim().is_empty());
    let target = match (wnd, app_proc) {
        (Some(w), _) => Target::Window(w as u64),
        (None, Some(p)) => Target::Process(p),
        (None, None) => {
            return Err(ApiError::invalid(
                "one of Wnd (a window id, not 0) or AppProc (a process name) is required",
            ))
        }
    };
    Ok(StartRecord {
        target,
        dst_path: f.string("DstPath")?.filter(|s| !s.is_empty()),
        x: f.int("x", 0, DIM)?.unwrap_or(0) as u32,
        y: f.int("y", 0, DIM)?.unwrap_or(0) as u32,
        width: f.int("Width", 0, DIM)?.unwrap_or(0) as u32,
        height: f.int("Height", 0, DIM)?.unwrap_or(0) as u32,
        video_fps: f.nonzero_int("VideoFps", 1, 60)?.unwrap_or(15) as u32,
        video_bps: f
            .nonzero_int("VideoBps", 1, 100_000_000)?
            .map(|b| if b < KBPS_BELOW { b * 1000 } else { b } as u32),
        enable_audio: f.bool("EnableAudio", true)?,
        audio_sources: f.sound_kinds("AudioSources")?,
        enable_upload: f.bool("EnableUpload", true)?,
        slice_time: f.nonzero_int("SliceTime", 1, 86_400)?.unwrap_or(300) as u32,
        class_id: f.int("ClassId", 0, i64::MAX)?.map(|c| c as u64),
        auto_chapters: f.opt_bool("AutoChapters")?,
    })
}

/// Parse the body of command `cmd` (the last path segment). Errors are -10009 for
/// an unknown command, -10000 for everything wrong with the body. Fields the
/// contract does not name are ignored, as the original service does.
pub fn parse_request(cmd: &str, body: &[u8]) -> Result<Request, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::invalid(format!(
            "the request body is larger than {MAX_BODY_BYTES} bytes"
        )));
    }
    if !COMMANDS.contains(&cmd) {
        let shown: String = cmd.chars().take(64).collect();
        return Err(ApiError::new(
            crate::ErrorCode::UnknownCommand,
            format!(
                "unknown command {shown:?}; commands are {}",
                COMMANDS.join(", ")
            ),
        ));
    }
    let obj = body_object(body)?;
    let f = Fields(&obj);
    Ok(match cmd {
        "Init" => Request::Init(parse_init(&f)?),
        "StartRecord" => Request::StartRecord(parse_start(&f)?),
        "StopRecord" => Request::StopRecord,
        "PauseRecord" => Request::PauseRecord,
        "ResumeRecord" => Request::ResumeRecord,
        "GetState" => Request::GetState,
        "GetPreview" => Request::GetPreview {
            max_width: f
                .int("MaxWidth", 16, PREVIEW_WIDTH.1.into())?
                .map_or(PREVIEW_WIDTH.0, |w| w as u32),
        },
        "AddChapter" => Request::AddChapter {
            title: parse_title(&f)?,
        },
        _ => Request::Exit,
    })
}

/// `AddChapter`'s `Title`: required, trimmed, 1…[`MAX_CHAPTER_TITLE`]
/// characters.
fn parse_title(f: &Fields<'_>) -> Result<String, ApiError> {
    let title = f
        .string("Title")?
        .ok_or_else(|| ApiError::invalid("Title is required"))?;
    let title = title.trim();
    if title.is_empty() {
        return Err(ApiError::invalid("Title must not be empty"));
    }
    if title.chars().count() > MAX_CHAPTER_TITLE {
        return Err(ApiError::invalid(format!(
            "Title is longer than {MAX_CHAPTER_TITLE} characters"
        )));
    }
    Ok(title.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests
mod tests {
    use super::*;
    use crate::ErrorCode;

    fn start(body: &str) -> Result<StartRecord, ApiError> {
        match parse_request("StartRecord", body.as_bytes())? {
            Request::StartRecord(s) => Ok(s),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn start_defaults() {
        let s = start(r#"{"AppProc":"chrome.exe","ClassId":1}"#).unwrap();
        assert_eq!(s.target, Target::Process("chrome.exe".into()));
        assert_eq!((s.x, s.y, s.width, s.height), (0, 0, 0, 0));
        assert_eq!((s.video_fps, s.video_bps, s.slice_time), (15, None, 300));
        assert!(s.enable_audio && s.enable_upload);
        assert_eq!(s.dst_path, None);
    }

    #[test]
    fn start_all_fields() {
        let s = start(r#"{"Wnd":12,"AppProc":"x","DstPath":"/r/a.flv","x":1,"y":2,"Width":300,"Height":200,
            "VideoFps":30,"VideoBps":2000000,"EnableAudio":false,"EnableUpload":false,"SliceTime":5,"ClassId":9,"Extra":1}"#)
        .unwrap();
        assert_eq!(s.target, Target::Window(12));
        assert_eq!(s.video_bps, Some(2_000_000));
        assert_eq!(
            (s.slice_time, s.class_id, s.enable_audio),
            (5, Some(9), false)
        );
    }

    #[test]
    fn zero_means_not_set_as_the_cpp_client_sends_it() {
        // Every TEduRecordParam field, zero where the app set nothing, keys
        // sorted and a trailing newline (JsonCpp's FastWriter).
        let s = start("{\"AppProc\":\"TICDemo.exe\",\"ClassId\":7,\"DstPath\":\"a.flv\",\"EnableAudio\":false,\"Height\":0,\"VideoBps\":0,\"VideoFps\":0,\"Wnd\":0,\"Width\":0,\"x\":0,\"y\":0}\n").unwrap();
        assert_eq!(s.target, Target::Process("TICDemo.exe".into()));
        assert_eq!((s.video_fps, s.video_bps, s.slice_time), (15, None, 300));
        assert_eq!((s.width, s.height, s.class_id), (0, 0, Some(7)));
        let s = start(r#"{"Wnd":0,"AppProc":"a","SliceTime":0,"DstPath":"","ClassId":0}"#).unwrap();
        assert_eq!((s.slice_time, s.dst_path, s.class_id), (300, None, Some(0)));
        // The struct's own defaults: 10 fps, 1000 kbit/s, VideoResolution 105.
        let s = start(r#"{"AppProc":"a","VideoBps":1000,"VideoFps":10,"VideoResolution":105}"#)
            .unwrap();
        assert_eq!(
            (s.video_fps, s.video_bps, s.class_id),
            (10, Some(1_000_000), None)
        );
        assert_eq!(
            start(r#"{"Wnd":5,"VideoBps":2000000}"#).unwrap().video_bps,
            Some(2_000_000)
        );
        // The contract's own example body, verbatim: no ClassId.
        let s = start(r#"{"AppProc":"QQMusic.exe", "Wnd": 0, "DstPath":"E:\\test.flv", "x":0, "y":10, "Width":100,"Height": 100}"#).unwrap();
        assert_eq!(s.target, Target::Process("QQMusic.exe".into()));
        assert_eq!((s.y, s.width, s.class_id), (10, 100, None));
        assert_eq!(s.dst_path.as_deref(), Some("E:\\test.flv"));
        // Zero in both targets is the documented "neither given".
        let e = start(r#"{"Wnd":0,"AppProc":"","ClassId":1}"#).unwrap_err();
        assert!(
            e.message.contains("Wnd") && e.message.contains("AppProc"),
            "{}",
            e.message
        );
    }

    #[test]
    fn start_refusals_are_invalid_parameter() {
        for body in [
            r#"{"ClassId":1}"#,
            r#"{"Wnd":0,"ClassId":1}"#,
            r#"{"Wnd":-1,"AppProc":"a","ClassId":1}"#,
            r#"{"Wnd":"1","ClassId":1}"#,
            r#"{"Wnd":1,"ClassId":1,"VideoFps":-1}"#,
            r#"{"Wnd":1,"ClassId":1,"VideoFps":61}"#,
            r#"{"Wnd":1,"ClassId":1,"VideoBps":-5}"#,
            r#"{"Wnd":1,"ClassId":1,"VideoBps":100000001}"#,
            r#"{"Wnd":1,"ClassId":1,"SliceTime":86401}"#,
            r#"{"Wnd":1,"ClassId":1,"VideoFps":15.5}"#,
            r#"{"Wnd":1,"ClassId":1,"x":-1}"#,
            r#"{"Wnd":1,"ClassId":1,"SliceTime":-1}"#,
            r#"{"Wnd":1,"ClassId":1,"EnableAudio":"yes"}"#,
            r#"{"Wnd":1,"ClassId":1,"DstPath":5}"#,
            r#"{"Wnd":1,"ClassId":-3}"#,
            r#"[1,2]"#,
            r#"{"Wnd":1,"#,
            "\u{0}",
        ] {
            let e = start(body).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidParameter, "{body}");
            assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn init_accepts_numeric_user_ids_and_requires_everything() {
        let r = parse_request(
            "Init",
            br#"{"SdkAppId":1400000000,"UserId":42,"UserSig":"s"}"#,
        )
        .unwrap();
        assert_eq!(
            r,
            Request::Init(Init {
                sdk_app_id: 1400000000,
                user_id: "42".into(),
                user_sig: "s".into()
            })
        );
        for body in [
            r#"{"UserId":"u","UserSig":"s"}"#,
            r#"{"SdkAppId":1,"UserSig":"s"}"#,
            r#"{"SdkAppId":1,"UserId":"u"}"#,
            r#"{"SdkAppId":"1","UserId":"u","UserSig":"s"}"#,
            r#"{"SdkAppId":1,"UserId":"","UserSig":"s"}"#,
            r#"{"SdkAppId":1,"UserId":[1],"UserSig":"s"}"#,
        ] {
            assert_eq!(
                parse_request("Init", body.as_bytes()).unwrap_err().code,
                ErrorCode::InvalidParameter,
                "{body}"
            );
        }
    }

    #[test]
    fn parameterless_commands_take_empty_bodies_and_objects() {
        for body in ["", " ", "{}", r#"{"anything":1}"#] {
            assert_eq!(
                parse_request("GetState", body.as_bytes()).unwrap(),
                Request::GetState
            );
        }
        assert_eq!(
            parse_request("StopRecord", b"null").unwrap_err().code,
            ErrorCode::InvalidParameter
        );
    }

    #[test]
    fn add_chapter_takes_a_trimmed_title_of_at_most_200_characters() {
        let title = |body: &str| match parse_request("AddChapter", body.as_bytes()) {
            Ok(Request::AddChapter { title }) => Ok(title),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.message),
        };
        assert_eq!(title(r#"{"Title":"  Fractions "}"#).unwrap(), "Fractions");
        let long: String = "é".repeat(MAX_CHAPTER_TITLE);
        assert_eq!(title(&format!(r#"{{"Title":"{long}"}}"#)).unwrap(), long);
        let too_long = format!(r#"{{"Title":"{long}x"}}"#);
        for (body, why) in [
            ("{}", "Title is required"),
            (r#"{"Title":"   "}"#, "Title must not be empty"),
            (r#"{"Title":7}"#, "Title must be a string"),
            (too_long.as_str(), "Title is longer than 200 characters"),
        ] {
            assert_eq!(title(body).unwrap_err(), why, "{body}");
        }
        let start = start(r#"{"Wnd":1,"AutoChapters":false}"#).unwrap();
        assert_eq!(start.auto_chapters, Some(false));
        assert_eq!(start_default().auto_chapters, None);
    }

    fn start_default() -> StartRecord {
        start(r#"{"Wnd":1}"#).unwrap()
    }

    #[test]
    fn unknown_commands_and_oversized_bodies() {
        assert_eq!(
            parse_request("getstate", b"").unwrap_err().code,
            ErrorCode::UnknownCommand
        );
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(
            parse_request("GetState", &big).unwrap_err().code,
            ErrorCode::InvalidParameter
        );
    }
}

#[cfg(test)]
mod robustness {
    use super::*;

    /// xorshift64: deterministic, no dependency.
    fn rng(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    #[test]
    fn random_and_mutated_bodies_never_panic() {
        let seeds: &[&[u8]] = &[
            br#"{"SdkAppId":1400000000,"UserId":"u","UserSig":"abc"}"#,
            br#"{"Wnd":1,"AppProc":"a","DstPath":"a.flv","x":1,"y":2,"Width":3,"Height":4,"VideoFps":15,"VideoBps":1,"EnableAudio":true,"EnableUpload":false,"SliceTime":5,"ClassId":9}"#,
            b"{}",
        ];
        let cmds: Vec<&str> = COMMANDS.iter().copied().chain(["X"]).collect();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..20_000 {
            let mut body = seeds[i % seeds.len()].to_vec();
            for _ in 0..(rng(&mut seed) % 6) {
                let pos = (rng(&mut seed) as usize) % (body.len() + 1);
                const ALPHABET: &[u8] = b"{}[]\":,0123456789-.eE truefalsnul\\\x00\xff";
                let byte = ALPHABET[(rng(&mut seed) % ALPHABET.len() as u64) as usize];
                match rng(&mut seed) % 3 {
                    0 if pos < body.len() => body[pos] = byte,
                    1 if pos < body.len() => {
                        body.remove(pos);
                    }
                    _ => body.insert(pos, byte),
                }
            }
            let cmd = cmds[(rng(&mut seed) % cmds.len() as u64) as usize];
            // Either a request or an error with a message; never a panic.
            if let Err(e) = parse_request(cmd, &body) {
                assert!(!e.message.is_empty());
            }
        }
    }
}
