//! The BVH text format: HIERARCHY and MOTION sections, line-numbered errors, and the
//! limits that keep a hostile file from exhausting memory.

use std::path::Path;

use super::{BvhError, BvhFile, BvhNode, Channel, MAX_DEPTH, MAX_FRAME_TIME_S, MAX_NODES, MIN_FRAME_TIME_S};

/// Parse BVH text. Errors name `path` and the line.
pub fn parse_bvh(text: &str, path: &Path) -> Result<BvhFile, BvhError> {
    let mut p = Parser {
        path,
        lines: text.lines().enumerate().peekable(),
        tokens: Vec::new(),
        last_line: 1,
    };
    p.expect("HIERARCHY")?;
    let mut nodes = Vec::new();
    let mut num_channels = 0;
    p.expect("ROOT")?;
    p.joint(None, 0, &mut nodes, &mut num_channels)?;
    if p.peek()?.is_some_and(|t| t.eq_ignore_ascii_case("ROOT")) {
        return Err(p.syntax("a second ROOT: only single-skeleton files are supported"));
    }

    match p.next_token()? {
        Some(t) if t.eq_ignore_ascii_case("MOTION") => {}
        Some(t) => return Err(p.syntax(&format!("expected MOTION, found {t:?}"))),
        None => {
            return Err(BvhError::MissingMotion {
                path: path.to_path_buf(),
            });
        }
    }
    // Header lines: `Frames: N` and `Frame Time: t`, each on its own line.
    let (frames_line, frames_text) = p.header_line("Frames:")?;
    let declared: usize = frames_text.parse().map_err(|_| BvhError::Syntax {
        path: path.to_path_buf(),
        line: frames_line,
        message: format!("frame count {frames_text:?} is not a non-negative integer"),
    })?;
    let (time_line, time_text) = p.header_line("Frame Time:")?;
    let frame_time_s: f64 = time_text.parse().map_err(|_| BvhError::BadNumber {
        path: path.to_path_buf(),
        line: time_line,
        column: 1,
        text: time_text.to_string(),
    })?;
    if !(MIN_FRAME_TIME_S..=MAX_FRAME_TIME_S).contains(&frame_time_s) {
        return Err(BvhError::BadFrameTime {
            path: path.to_path_buf(),
            line: time_line,
            value: frame_time_s,
        });
    }

    // Each value takes at least two characters: never reserve more than the text holds.
    let mut values = Vec::with_capacity(declared.saturating_mul(num_channels).min(text.len() / 2));
    let mut found = 0usize;
    let mut last_line = time_line;
    while let Some((i, line)) = p.lines.next() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        if found == declared {
            return Err(BvhError::ExtraFrames {
                path: path.to_path_buf(),
                line: line_no,
                declared,
            });
        }
        let start = values.len();
        for (col, tok) in line.split_whitespace().enumerate() {
            let v: f64 = tok.parse().map_err(|_| BvhError::BadNumber {
                path: path.to_path_buf(),
                line: line_no,
                column: col + 1,
                text: tok.to_string(),
            })?;
            if !v.is_finite() {
                let (joint, channel) = channel_at(&nodes, col);
                return Err(BvhError::NonFinite {
                    path: path.to_path_buf(),
                    line: line_no,
                    column: col + 1,
                    joint,
                    channel,
                    value: v,
                });
            }
            values.push(v);
        }
        let got = values.len() - start;
        if got < num_channels && p.lines.peek().is_none() {
            // A file cut off inside its last frame.
            return Err(BvhError::TruncatedMotion {
                path: path.to_path_buf(),
                line: line_no,
                declared,
                found,
            });
        }
        if got != num_channels {
            return Err(BvhError::ChannelCountMismatch {
                path: path.to_path_buf(),
                line: line_no,
                expected: num_channels,
                found: got,
            });
        }
        found += 1;
        last_line = line_no;
    }
    if found < declared || declared == 0 {
        return Err(BvhError::TruncatedMotion {
            path: path.to_path_buf(),
            line: last_line,
            declared,
            found,
        });
    }
    Ok(BvhFile {
        path: path.to_path_buf(),
        nodes,
        frame_time_s,
        num_channels,
        values,
    })
}

fn channel_at(nodes: &[BvhNode], col: usize) -> (String, &'static str) {
    nodes
        .iter()
        .find(|n| col >= n.channel_start && col < n.channel_start + n.channels.len())
        .map(|n| (n.name.clone(), n.channels[col - n.channel_start].name()))
        .unwrap_or_else(|| ("?".into(), "?"))
}

struct Parser<'a, I: Iterator<Item = (usize, &'a str)>> {
    path: &'a Path,
    lines: std::iter::Peekable<I>,
    /// Tokens left on the current line, reversed.
    tokens: Vec<&'a str>,
    last_line: usize,
}

impl<'a, I: Iterator<Item = (usize, &'a str)>> Parser<'a, I> {
    fn syntax(&self, message: &str) -> BvhError {
        BvhError::Syntax {
            path: self.path.to_path_buf(),
            line: self.last_line,
            message: message.to_string(),
        }
    }

    fn fill(&mut self) {
        while self.tokens.is_empty() {
            let Some((i, line)) = self.lines.next() else { return };
            self.last_line = i + 1;
            self.tokens = line.split_whitespace().rev().collect();
        }
    }

    fn peek(&mut self) -> Result<Option<&'a str>, BvhError> {
        self.fill();
        Ok(self.tokens.last().copied())
    }

    fn next_token(&mut self) -> Result<Option<&'a str>, BvhError> {
        self.fill();
        Ok(self.tokens.pop())
    }

    fn token(&mut self, what: &str) -> Result<&'a str, BvhError> {
        self.next_token()?
            .ok_or_else(|| self.syntax(&format!("file ends in the hierarchy, expected {what}")))
    }

    fn expect(&mut self, word: &str) -> Result<(), BvhError> {
        let t = self.token(word)?;
        if t.eq_ignore_ascii_case(word) {
            Ok(())
        } else {
            Err(self.syntax(&format!("expected {word}, found {t:?}")))
        }
    }

    fn number(&mut self, what: &str) -> Result<f64, BvhError> {
        let t = self.token(what)?;
        match t.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(self.syntax(&format!("{what} {t:?} is not a finite number"))),
        }
    }

    /// After the hierarchy, a header line such as `Frame Time: 0.0333`.
    fn header_line(&mut self, label: &str) -> Result<(usize, &'a str), BvhError> {
        if !self.tokens.is_empty() {
            return Err(self.syntax(&format!("unexpected text before {label:?}")));
        }
        for (i, line) in self.lines.by_ref() {
            let trimmed = line.trim();
            if trimmed.is_empty() {
                continue;
            }
            self.last_line = i + 1;
            return match trimmed.get(..label.len()) {
                Some(head) if head.eq_ignore_ascii_case(label) => Ok((i + 1, trimmed[label.len()..].trim())),
                _ => Err(self.syntax(&format!("expected {label:?}, found {trimmed:?}"))),
            };
        }
        Err(BvhError::TruncatedMotion {
            path: self.path.to_path_buf(),
            line: self.last_line,
            declared: 0,
            found: 0,
        })
    }

    /// `<name> { OFFSET x y z CHANNELS n ... (JOINT ... | End Site {...})* }`, after ROOT/JOINT.
    fn joint(
        &mut self,
        parent: Option<usize>,
        depth: usize,
        nodes: &mut Vec<BvhNode>,
        num_channels: &mut usize,
    ) -> Result<(), BvhError> {
        if depth >= MAX_DEPTH || nodes.len() >= MAX_NODES {
            return Err(BvhError::TooLarge {
                path: self.path.to_path_buf(),
                line: self.last_line,
                what: if depth >= MAX_DEPTH {
                    "joint nesting depth"
                } else {
                    "number of joints and End Sites"
                },
                limit: if depth >= MAX_DEPTH { MAX_DEPTH } else { MAX_NODES },
            });
        }
        // Names may contain spaces (`Bip01 L Thigh`): everything up to `{` on the line.
        let mut name_parts = Vec::new();
        loop {
            let t = self.token("a joint name")?;
            if t == "{" {
                break;
            }
            name_parts.push(t);
        }
        if name_parts.is_empty() {
            return Err(self.syntax("joint without a name"));
        }
        let index = nodes.len();
        nodes.push(BvhNode {
            name: name_parts.join(" "),
            parent,
            offset: [0.0; 3],
            channels: Vec::new(),
            channel_start: *num_channels,
            end_site: false,
        });
        let mut seen_offset = false;
        loop {
            let t = self.token("}")?;
            match t.to_ascii_uppercase().as_str() {
                "OFFSET" => {
                    let o = [
                        self.number("OFFSET x")?,
                        self.number("OFFSET y")?,
                        self.number("OFFSET z")?,
                    ];
                    nodes[index].offset = o;
                    seen_offset = true;
                }
                "CHANNELS" => {
                    if !nodes[index].channels.is_empty() {
                        return Err(self.syntax(&format!("joint {:?} declares CHANNELS twice", nodes[index].name)));
                    }
                    let n = self.token("channel count")?;
                    let n: usize = n
                        .parse()
                        .ok()
                        .filter(|n| *n <= 6)
                        .ok_or_else(|| self.syntax(&format!("channel count {n:?} is not 0..6")))?;
                    for _ in 0..n {
                        let c = self.token("a channel name")?;
                        let ch = Channel::parse(c).ok_or_else(|| BvhError::UnknownChannel {
                            path: self.path.to_path_buf(),
                            line: self.last_line,
                            channel: c.to_string(),
                        })?;
                        nodes[index].channels.push(ch);
                    }
                    nodes[index].channel_start = *num_channels;
                    *num_channels += n;
                }
                "JOINT" => self.joint(Some(index), depth + 1, nodes, num_channels)?,
                "END" => {
                    self.expect("Site")?;
                    self.expect("{")?;
                    self.expect("OFFSET")?;
                    let o = [
                        self.number("OFFSET x")?,
                        self.number("OFFSET y")?,
                        self.number("OFFSET z")?,
                    ];
                    self.expect("}")?;
                    if nodes.len() >= MAX_NODES {
                        return Err(BvhError::TooLarge {
                            path: self.path.to_path_buf(),
                            line: self.last_line,
                            what: "number of joints and End Sites",
                            limit: MAX_NODES,
                        });
                    }
                    let name = format!("{}_EndSite", nodes[index].name);
                    nodes.push(BvhNode {
                        name,
                        parent: Some(index),
                        offset: o,
                        channels: Vec::new(),
                        channel_start: *num_channels,
                        end_site: true,
                    });
                }
                "}" => break,
                _ => return Err(self.syntax(&format!("unexpected {t:?} in joint {:?}", nodes[index].name))),
            }
        }
        if !seen_offset {
            return Err(self.syntax(&format!("joint {:?} has no OFFSET", nodes[index].name)));
        }
        Ok(())
    }
}
