//! The serial line as the bench sees it: a TCP connection to QEMU's chardev socket (UART0).
//! A reader thread splits the byte stream at delimiters and decodes each `Decision`; every
//! decision is logged in the order it arrived.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use a4mer_firmware::link::decision::{Decision, decode_decision};
use anyhow::{Context, Result, bail};

#[derive(Default)]
pub struct Log {
    pub decisions: Vec<Decision>,
    /// Byte runs between delimiters that were not a decision (e.g. torn by a line cut).
    pub undecodable: u32,
}

pub struct Line {
    port: u16,
    stream: Option<TcpStream>,
    pub log: Arc<Mutex<Log>>,
}

impl Line {
    pub fn open(port: u16) -> Result<Self> {
        let mut line = Self {
            port,
            stream: None,
            log: Arc::default(),
        };
        line.connect()?;
        Ok(line)
    }

    /// Connects (again), retrying while QEMU starts.
    pub fn connect(&mut self) -> Result<()> {
        let start = Instant::now();
        let stream = loop {
            match TcpStream::connect(("127.0.0.1", self.port)) {
                Ok(s) => break s,
                Err(e) if start.elapsed() < Duration::from_secs(20) => {
                    let _ = e;
                    thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(e).with_context(|| format!("connecting to QEMU's UART0 on port {}", self.port)),
            }
        };
        stream.set_nodelay(true)?;
        let mut reader = stream.try_clone()?;
        let log = Arc::clone(&self.log);
        thread::spawn(move || {
            let mut pending = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                for &b in &buf[..n] {
                    if b != 0 {
                        pending.push(b);
                        continue;
                    }
                    if pending.is_empty() {
                        continue;
                    }
                    let decoded = decode_decision(&mut pending);
                    pending.clear();
                    let Ok(mut log) = log.lock() else { return };
                    match decoded {
                        Ok(d) => log.decisions.push(d),
                        Err(_) => log.undecodable += 1,
                    }
                }
            }
        });
        self.stream = Some(stream);
        Ok(())
    }

    /// Cuts the line: the board's TX goes nowhere until `connect`.
    pub fn cut(&mut self) {
        if let Some(s) = self.stream.take() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    pub fn send(&mut self, bytes: &[u8]) -> Result<()> {
        let Some(s) = self.stream.as_mut() else {
            bail!("the line is cut")
        };
        s.write_all(bytes)?;
        s.flush()?;
        Ok(())
    }

    /// How many decisions have arrived so far.
    pub fn mark(&self) -> usize {
        self.log.lock().map(|l| l.decisions.len()).unwrap_or(0)
    }

    /// The decisions that arrived since `mark`.
    pub fn since(&self, mark: usize) -> Vec<Decision> {
        self.log
            .lock()
            .map(|l| l.decisions.get(mark..).unwrap_or_default().to_vec())
            .unwrap_or_default()
    }

    /// Waits until a decision satisfying `pred` has arrived since `mark`, or `timeout`.
    pub fn wait_for(&self, mark: usize, timeout: Duration, pred: impl Fn(&Decision) -> bool) -> Option<Decision> {
        let start = Instant::now();
        loop {
            if let Some(d) = self.since(mark).into_iter().find(|d| pred(d)) {
                return Some(d);
            }
            if start.elapsed() > timeout {
                return None;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}
