//! A latency proxy for the local AWS: forwards every connection on a loopback port to the
//! emulator and holds each request back for a fixed delay, as a distant AWS endpoint would.
//! Loopback only; it stops with the value (its threads end when their connections close).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result};

/// A running proxy; dropping it stops accepting connections.
pub struct LatencyProxy {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl LatencyProxy {
    /// Listens on a free loopback port and forwards to `127.0.0.1:upstream`, delaying the first
    /// bytes of every request by `delay`.
    pub fn start(upstream: u16, delay: Duration) -> Result<LatencyProxy> {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding the latency proxy")?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let _ = client.set_nonblocking(false);
                        thread::spawn(move || {
                            let _ = forward(client, upstream, delay);
                        });
                    }
                    Err(_) => thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Ok(LatencyProxy { port, stop })
    }

    /// `http://127.0.0.1:<port>`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Copies both ways; a request's first bytes after a response (or at the start) wait `delay`.
fn forward(client: TcpStream, upstream: u16, delay: Duration) -> std::io::Result<()> {
    let server = TcpStream::connect(SocketAddr::from((Ipv4Addr::LOCALHOST, upstream)))?;
    let answered = Arc::new(AtomicBool::new(true));
    let (mut c_read, mut s_write) = (client.try_clone()?, server.try_clone()?);
    let (mut s_read, mut c_write) = (server, client);
    let flag = answered.clone();
    let up = thread::spawn(move || -> std::io::Result<()> {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = c_read.read(&mut buf)?;
            if n == 0 {
                let _ = s_write.shutdown(std::net::Shutdown::Write);
                return Ok(());
            }
            if flag.swap(false, Ordering::SeqCst) {
                thread::sleep(delay);
            }
            s_write.write_all(&buf[..n])?;
        }
    });
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = s_read.read(&mut buf)?;
        if n == 0 {
            let _ = c_write.shutdown(std::net::Shutdown::Write);
            break;
        }
        answered.store(true, Ordering::SeqCst);
        c_write.write_all(&buf[..n])?;
    }
    let _ = up.join();
    Ok(())
}
