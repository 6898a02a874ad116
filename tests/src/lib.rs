//! rig's end-to-end test support.
//!
//! [`LocalAws`] runs the pinned moto server with rig's documented extensions
//! (`tests/support/moto/rig_moto.py`, see the README there) on a free loopback port, for tests and
//! the demo to point the AWS SDK at through [`LocalAws::env`]. [`matrix`] is the end-to-end matrix.

pub mod apps;
pub mod latency;
pub mod matrix;
pub mod releases;

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// How long the server may take to answer after it was spawned.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one request to the server may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The launcher, relative to the repository root.
const LAUNCHER: &str = "tests/support/moto/rig_moto.py";

/// The repository root (the parent of this crate's directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives inside the repository")
        .to_path_buf()
}

/// The project's Python venv with the pinned emulator, created on first use by `.ci/venv.sh`
/// (once per process; later calls reuse the answer).
pub fn venv() -> Result<PathBuf> {
    static VENV: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    VENV.get_or_init(|| create_venv().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!(e))
}

fn create_venv() -> Result<PathBuf> {
    let out = Command::new("bash")
        .arg(".ci/venv.sh")
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .output()
        .context("running `bash .ci/venv.sh`")?;
    if !out.status.success() {
        bail!(
            "`bash .ci/venv.sh` failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let path = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| PathBuf::from(l.trim()))
        .ok_or_else(|| anyhow!("`bash .ci/venv.sh` printed no venv path"))?;
    if !path.join("bin").join("python").exists() {
        bail!("{} has no bin/python", path.display());
    }
    Ok(path)
}

/// A free TCP port on 127.0.0.1 (bound, read, released).
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// The local AWS emulator: moto 5.2.5 with rig's extensions, on `http://127.0.0.1:<port>`.
/// Stopped (killed by PID, then reaped) when dropped.
pub struct LocalAws {
    child: Child,
    /// Held open: the server exits when it closes, should this process die without dropping us.
    _stdin: Option<ChildStdin>,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl LocalAws {
    /// Starts a server on a free loopback port and waits (at most 30 s) until it answers.
    pub fn start() -> Result<LocalAws> {
        Self::start_with(false)
    }

    /// Starts moto without rig's extensions, to show how rig copes with an endpoint that lacks
    /// an operation.
    pub fn start_plain() -> Result<LocalAws> {
        Self::start_with(true)
    }

    fn start_with(plain: bool) -> Result<LocalAws> {
        let python = venv()?.join("bin").join("python");
        let mut last = None;
        // The port is free when picked; another process may take it before moto binds it.
        for _ in 0..3 {
            match Self::spawn(&python, free_port()?, plain) {
                Ok(aws) => return Ok(aws),
                Err(e) if format!("{e:#}").contains("Address already in use") => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("three attempts were made"))
    }

    fn spawn(python: &Path, port: u16, plain: bool) -> Result<LocalAws> {
        let dir = tempfile::Builder::new()
            .prefix("rig-local-aws-")
            .tempdir()?;
        let log = dir.path().join("moto.log");
        let stderr = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut command = Command::new(python);
        if plain {
            command.args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ]);
        } else {
            command.arg(LAUNCHER).args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--exit-when-stdin-closes",
            ]);
        }
        let mut child = command
            .current_dir(repo_root())
            .env("MOTO_ECS_SERVICE_RUNNING", "1")
            // ACM issues a requested certificate at once (not after 60 s), as `rig check` wants ISSUED.
            .env("MOTO_ACM_VALIDATION_WAIT", "0")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("spawning {} {LAUNCHER}", python.display()))?;
        let stdin = child.stdin.take();
        let mut aws = LocalAws {
            child,
            _stdin: stdin,
            port,
            log,
            _dir: dir,
        };
        aws.wait_ready()?;
        Ok(aws)
    }

    fn wait_ready(&mut self) -> Result<()> {
        let started = Instant::now();
        let mut delay = Duration::from_millis(20);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "the local AWS server exited ({status}) before it answered{}",
                    self.log_tail()
                );
            }
            if let Ok((200, _)) = self.request("GET", "/moto-api/") {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                bail!(
                    "the local AWS server did not answer on port {} within {}s{}",
                    self.port,
                    START_TIMEOUT.as_secs(),
                    self.log_tail()
                );
            }
            sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(200));
        }
    }

    /// `http://127.0.0.1:<port>`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The environment that points the AWS SDK (and CLI) at this server with dummy credentials.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint().as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// Forgets every resource in every account and region (`POST /moto-api/reset`).
    pub fn reset(&self) -> Result<()> {
        match self.request("POST", "/moto-api/reset") {
            Ok((200, _)) => Ok(()),
            Ok((status, body)) => bail!("reset answered HTTP {status}: {body}{}", self.log_tail()),
            Err(e) => Err(e.context(format!("resetting the local AWS server{}", self.log_tail()))),
        }
    }

    /// One plain HTTP/1.1 request without a body; returns the status code and the body.
    pub fn request(&self, method: &str, path: &str) -> Result<(u16, String)> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
        stream.set_write_timeout(Some(REQUEST_TIMEOUT))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response)?;
        let response = String::from_utf8_lossy(&response);
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow!("not an HTTP response: {head:?}"))?;
        Ok((status, body.to_string()))
    }

    /// Sets the fault and latency layer (tests/support/moto/README.md §27), e.g.
    /// `rate=0.1&seed=7&kinds=throttle,500` or `latency_ms=20&hold=foundation:1.8`; the
    /// request counts start again from zero.
    pub fn faults(&self, query: &str) -> Result<()> {
        match self.request("POST", &format!("/_rig/faults?{query}"))? {
            (200, _) => Ok(()),
            (status, body) => bail!("/_rig/faults?{query} answered HTTP {status}: {body}"),
        }
    }

    /// What the fault layer counted since it was last set: `requests` per `service:Operation`,
    /// `total`, `mutating`, `injected` per kind (and the other keys README §27 lists).
    pub fn requests(&self) -> Result<serde_json::Value> {
        match self.request("GET", "/_rig/requests")? {
            (200, body) => Ok(serde_json::from_str(&body)?),
            (status, body) => bail!("/_rig/requests answered HTTP {status}: {body}"),
        }
    }

    /// The server's log (its stderr).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The last lines of the server's log, formatted for an error message.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        if tail.is_empty() {
            String::new()
        } else {
            format!("\n--- last lines of {} ---\n{tail}", self.log.display())
        }
    }
}

impl Drop for LocalAws {
    fn drop(&mut self) {
        // Kill by PID and reap, so that the port is free once the value is gone.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
