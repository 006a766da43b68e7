//! `txcloudrecord doctor`: what on this machine would stop a class from being
//! recorded or uploaded, each finding with how to fix it. Checks the port,
//! the display and its compositor, the sound device, the recording disk, the
//! storage and the clock, with the same settings the service would use.

mod local;
mod remote;

use std::io::Write;

use serde::Serialize;

use crate::config::{Config, Flags};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Works.
    Ok,
    /// Works, worse than it could (slower, no sound, little room).
    Warn,
    /// A class would not be recorded or uploaded as it should.
    Fail,
    /// Could not be checked here.
    Skip,
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// What was checked: `port`, `display`, `compositor`, `audio`, `disk`,
    /// `storage`, `clock`.
    pub check: &'static str,
    /// How it went.
    pub level: Level,
    /// What was found.
    pub message: String,
    /// How to fix it (for warnings and failures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    fn new(check: &'static str, level: Level, message: impl Into<String>) -> Self {
        Self {
            check,
            level,
            message: message.into(),
            fix: None,
        }
    }

    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// Every check, in order.
pub fn findings(cfg: &Config) -> Vec<Finding> {
    let mut all = vec![local::port(cfg)];
    all.extend(local::display(cfg));
    all.push(local::audio(cfg));
    all.push(local::disk(cfg));
    all.extend(remote::storage_and_clock(cfg));
    all
}

/// Run the checks and print them (`json`: one JSON array); `Ok(false)` when
/// any failed.
pub fn run(flags: &Flags, json: bool) -> anyhow::Result<bool> {
    let cfg = Config::read(flags)?;
    let all = findings(&cfg);
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&all)?)?;
    } else {
        for f in &all {
            let tag = match f.level {
                Level::Ok => "ok  ",
                Level::Warn => "WARN",
                Level::Fail => "FAIL",
                Level::Skip => "skip",
            };
            writeln!(out, "{tag}  {:<10}  {}", f.check, f.message)?;
            if let Some(fix) = &f.fix {
                writeln!(out, "      {:<10}  fix: {fix}", "")?;
            }
        }
    }
    Ok(!all.iter().any(|f| f.level == Level::Fail))
}
