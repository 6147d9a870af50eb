//! The services `ustack tun` runs on the stack.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use ustack::{NetStack, TcpListener, TcpStream, UdpSocket};

/// What to run on the stack.
#[derive(clap::Subcommand, Clone)]
pub(crate) enum Service {
    /// TCP echo (RFC 862): everything received is sent back; any number of connections.
    Echo {
        /// Port to listen on.
        #[arg(long)]
        port: u16,
    },
    /// Reads and drops; prints the bytes and throughput as each connection ends.
    Discard {
        /// Port to listen on.
        #[arg(long)]
        port: u16,
    },
    /// Sends N bytes (byte i has value i % 251) to each client, then closes.
    Source {
        /// Port to listen on.
        #[arg(long)]
        port: u16,
        /// Bytes to send to each client.
        #[arg(long)]
        bytes: u64,
    },
    /// UDP echo: every datagram goes back to its sender.
    UdpEcho {
        /// Port to bind.
        #[arg(long)]
        port: u16,
    },
    /// HTTP/1.1 with keep-alive (hyper on the tokio API): GET / answers 200.
    Http {
        /// Port to listen on.
        #[arg(long)]
        port: u16,
    },
    /// Accepts connections and never reads or closes them: a leaked socket, to show
    /// CLOSE-WAIT in `ustack ss` (SPEC S10).
    Hold {
        /// Port to listen on.
        #[arg(long)]
        port: u16,
    },
    /// Like netcat: stdin to the connection, the connection to stdout; shutdown(Write) at
    /// stdin's end; exits 0 when the peer has closed.
    Connect {
        /// Where to connect, HOST:PORT.
        target: String,
    },
}

impl Service {
    pub(crate) fn describe(&self) -> String {
        match self {
            Service::Echo { port } => format!("echo on port {port}"),
            Service::Discard { port } => format!("discard on port {port}"),
            Service::Source { port, bytes } => format!("source of {bytes} bytes on port {port}"),
            Service::UdpEcho { port } => format!("udp-echo on port {port}"),
            Service::Http { port } => format!("http on port {port}"),
            Service::Hold { port } => format!("hold (never read, never close) on port {port}"),
            Service::Connect { target } => format!("connecting to {target}"),
        }
    }
}

/// The outcome of a service that ends on its own.
#[derive(Clone, Default)]
pub(crate) struct Done(Arc<Mutex<Option<Result<(), String>>>>);

impl Done {
    fn set(&self, r: Result<(), String>) {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(r);
    }

    pub(crate) fn try_take(&self) -> Option<Result<(), String>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }
}

pub(crate) fn start(
    net: &NetStack,
    service: &Service,
    stop: Arc<AtomicBool>,
) -> Result<Done, String> {
    let done = Done::default();
    let any = |port| (Ipv4Addr::UNSPECIFIED, port);
    match service.clone() {
        Service::Echo { port } => {
            let l = listen(net, any(port))?;
            spawn_acceptor(l, stop, echo);
        }
        Service::Discard { port } => {
            let l = listen(net, any(port))?;
            spawn_acceptor(l, stop, discard);
        }
        Service::Source { port, bytes } => {
            let l = listen(net, any(port))?;
            spawn_acceptor(l, stop, move |s, peer| source(s, peer, bytes));
        }
        Service::UdpEcho { port } => {
            let sock = UdpSocket::bind(net, any(port))
                .map_err(|e| format!("udp-echo: bind port {port}: {e}"))?;
            thread::spawn(move || udp_echo(&sock, &stop));
        }
        Service::Http { port } => {
            let net = net.clone();
            let d = done.clone();
            // Bind first so an error (port in use) is reported before "up".
            let l = ustack::tokio::TcpListener::bind(&net, any(port))
                .map_err(|e| format!("http: listen on port {port}: {e}"))?;
            thread::spawn(move || {
                if let Err(e) = super::http::serve(l, stop) {
                    d.set(Err(format!("http: {e}")));
                }
            });
        }
        Service::Hold { port } => {
            let l = listen(net, any(port))?;
            // The streams stay here, unread and open, until the stack stops.
            let held = Arc::new(Mutex::new(Vec::new()));
            spawn_acceptor(l, stop, move |s, peer| {
                eprintln!("ustack: holding the connection from {peer}");
                held.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(s);
                Ok(())
            });
        }
        Service::Connect { target } => {
            let addr = target
                .to_socket_addrs()
                .map_err(|e| format!("connect: {target}: {e}"))?
                .find(SocketAddr::is_ipv4)
                .ok_or_else(|| format!("connect: {target} has no IPv4 address"))?;
            let net = net.clone();
            let d = done.clone();
            thread::spawn(move || d.set(connect(&net, addr)));
        }
    }
    Ok(done)
}

fn listen(net: &NetStack, addr: (Ipv4Addr, u16)) -> Result<TcpListener, String> {
    TcpListener::bind(net, addr).map_err(|e| format!("listen on port {}: {e}", addr.1))
}

/// Accepts until the stack stops; each connection gets a thread running `handle`. Errors
/// are reported, except those of a stop (every call fails once the stack shuts down).
fn spawn_acceptor(
    l: TcpListener,
    stop: Arc<AtomicBool>,
    handle: impl Fn(TcpStream, SocketAddr) -> io::Result<()> + Send + Sync + Clone + 'static,
) {
    thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            match l.accept() {
                Ok((s, peer)) => {
                    let h = handle.clone();
                    let stop = Arc::clone(&stop);
                    thread::spawn(move || {
                        if let Err(e) = h(s, peer)
                            && !stop.load(Ordering::SeqCst)
                        {
                            eprintln!("ustack: {peer}: {e}");
                        }
                    });
                }
                Err(_) => break, // the stack stopped
            }
        }
    });
}

fn echo(mut s: TcpStream, _peer: SocketAddr) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        s.write_all(&buf[..n])?;
    }
    s.shutdown(Shutdown::Write)
}

fn discard(mut s: TcpStream, peer: SocketAddr) -> io::Result<()> {
    let start = Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total: u64 = 0;
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "discard: {peer}: {total} bytes in {secs:.3} s ({})",
        crate::units::rate(total as f64 * 8.0 / secs.max(1e-9))
    );
    Ok(())
}

fn source(mut s: TcpStream, _peer: SocketAddr, bytes: u64) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut sent: u64 = 0;
    while sent < bytes {
        let n = (bytes - sent).min(buf.len() as u64) as usize;
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = ((sent + i as u64) % 251) as u8;
        }
        s.write_all(&buf[..n])?;
        sent += n as u64;
    }
    Ok(())
}

fn udp_echo(sock: &UdpSocket, stop: &AtomicBool) {
    let mut buf = vec![0u8; 65_536];
    while !stop.load(Ordering::SeqCst) {
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                if let Err(e) = sock.send_to(&buf[..n], from)
                    && !stop.load(Ordering::SeqCst)
                {
                    eprintln!("ustack: udp-echo to {from}: {e}");
                }
            }
            Err(_) => break, // the stack stopped
        }
    }
}

/// netcat: stdin → connection (then shutdown(Write)), connection → stdout; done when the peer
/// has closed. Reports who closed first and the state the connection was left in.
fn connect(net: &NetStack, addr: SocketAddr) -> Result<(), String> {
    let s = TcpStream::connect(net, addr).map_err(|e| format!("connect to {addr}: {e}"))?;
    let local = s.local_addr().map_err(|e| e.to_string())?;
    eprintln!("ustack: connected {local} -> {addr}");
    let stdin_done = Arc::new(AtomicBool::new(false));
    thread::scope(|scope| {
        let flag = Arc::clone(&stdin_done);
        let s_ref = &s;
        scope.spawn(move || {
            let mut stdin = io::stdin().lock();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if (&*s_ref).write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = s_ref.shutdown(Shutdown::Write);
            flag.store(true, Ordering::SeqCst);
        });
        let mut stdout = io::stdout().lock();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match (&s).read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    stdout.write_all(&buf[..n]).map_err(|e| format!("stdout: {e}"))?;
                    stdout.flush().map_err(|e| format!("stdout: {e}"))?;
                }
                Err(e) => return Err(format!("connection to {addr}: {e}")),
            }
        }
        // The peer closed. If stdin is still open, stop reading it: netcat exits here.
        if !stdin_done.load(Ordering::SeqCst) {
            let _ = s.shutdown(Shutdown::Write);
            // The stdin thread stays blocked in read(); the process exits without it, unless
            // a signal is stopping the stack: then the main thread finishes the stop and exits.
            match finish(net, &s) {
                Some(code) => std::process::exit(i32::from(crate::exit_code(code))),
                None => loop {
                    thread::park();
                },
            }
        }
        Ok(())
    })?;
    match finish(net, &s) {
        Some(0) | None => Ok(()),
        Some(_) => Err("connection did not close cleanly".into()),
    }
}

/// Lets the FIN exchange finish and reports the connection's final state (TIME-WAIT when we
/// closed first, SPEC S26). Returns the exit code, 0 when it finished; `None` when the stack
/// is being shut down (a signal), which ends the connection its own way.
fn finish(net: &NetStack, s: &TcpStream) -> Option<u8> {
    let h = s.handle();
    let deadline = Instant::now() + std::time::Duration::from_secs(5);
    loop {
        // Fails once the stack is shut down, which releases the handle.
        s.local_addr().ok()?;
        let state = net.with_stack(|st, _| st.contains(h).then(|| st.tcp_conn(h).state()))?;
        use ustack::core::tcp_engine::TcpState::*;
        match state {
            TimeWait | Closed => {
                eprintln!("ustack: connection closed, state {}", state.rfc_name());
                let _ = io::stdout().flush();
                return Some(0);
            }
            _ if Instant::now() > deadline => {
                eprintln!("ustack: connection still in {} after 5 s", state.rfc_name());
                return Some(1);
            }
            _ => thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
}
