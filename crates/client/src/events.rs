use std::io::{BufRead, BufReader};

use txcr_protocol::events::Event;

use crate::ClientError;

/// The live event stream: an iterator that blocks until the next event;
/// `None` once the service ends the stream (it stopped).
#[derive(Debug)]
pub struct Events {
    reader: BufReader<reqwest::blocking::Response>,
}

impl Events {
    pub(crate) fn new(resp: reqwest::blocking::Response) -> Self {
        Self {
            reader: BufReader::new(resp),
        }
    }
}

impl Iterator for Events {
    type Item = Result<Event, ClientError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (mut name, mut data) = (String::new(), String::new());
        let mut line = String::new();
        loop {
            line.clear();
            match self.reader.read_line(&mut line) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => return Some(Err(ClientError::Protocol(format!("event stream: {e}")))),
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if !data.is_empty() {
                    let event = Event::parse(&name, &data);
                    (name, data) = (String::new(), String::new());
                    match event {
                        Some(e) => {
                            return Some(e.map_err(|e| ClientError::Protocol(e.to_string())))
                        }
                        None => continue, // a kind this version does not know
                    }
                }
                continue;
            }
            if line.starts_with(':') {
                continue; // keep-alive comment
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => name = value.to_owned(),
                "data" => {
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(value);
                }
                _ => {}
            }
        }
    }
}
