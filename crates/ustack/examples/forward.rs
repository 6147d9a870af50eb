//! A tun2socks-style forwarder in about a hundred lines, on the blocking API: the stack in
//! transparent mode on a TUN device takes every TCP connection and UDP flow the kernel routes
//! into it, whatever the destination, and relays each to that destination through the
//! host's own sockets. The host sockets carry the mark 0x1 so a routing rule can keep them
//! out of the device (README, "Use it from Rust", runs it). `ustack tun ... forward` is the
//! full version (SOCKS5, idle timeouts, loop detection).
//!
//! Needs CAP_NET_ADMIN (root, or `unshare -Urn`):
//! `cargo run -p ustack --example forward`

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use ustack::device::{Tun, TunConfig};
use ustack::{NetConfig, NetStack, TcpListener, TcpStream, UdpSocket};

const MARK: u32 = 0x1;

/// A host socket with the mark, so the kernel's routing rule sends it past the device.
fn host_socket(ty: Type, proto: Protocol) -> io::Result<Socket> {
    let s = Socket::new(Domain::IPV4, ty, Some(proto))?;
    s.set_mark(MARK)?;
    Ok(s)
}

/// A marked host UDP socket connected to `dst`.
fn udp_to(dst: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let s = host_socket(Type::DGRAM, Protocol::UDP)?;
    s.bind(&SocketAddr::from(([0, 0, 0, 0], 0)).into())?;
    s.connect(&dst.into())?;
    Ok(s.into())
}

/// Copies `from` into `to` until the end, then passes the FIN on.
fn pipe(mut from: impl Read, mut to: impl Write, shut: impl FnOnce()) {
    let _ = io::copy(&mut from, &mut to);
    shut();
}

fn relay_tcp(client: TcpStream) -> io::Result<()> {
    let dst = client.local_addr()?; // what the client dialled
    let host = host_socket(Type::STREAM, Protocol::TCP)?;
    if let Err(e) = host.connect_timeout(&dst.into(), Duration::from_secs(10)) {
        client.set_linger(Some(Duration::ZERO))?; // reset the client: nothing there
        return Err(e);
    }
    let upstream: std::net::TcpStream = host.into();
    let (c2, u2) = (client.try_clone()?, upstream.try_clone()?);
    let up = thread::spawn(move || pipe(&c2, &u2, || drop(u2.shutdown(Shutdown::Write))));
    pipe(&upstream, &client, || drop(client.shutdown(Shutdown::Write)));
    let _ = up.join();
    println!("tcp {} -> {dst} done", client.peer_addr()?);
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut tun_config = TunConfig::new("ustk%d");
    tun_config.host_addr = Some("10.98.0.1/24".parse()?);
    let tun = Tun::create(&tun_config)?;
    println!("device {} up", tun.name());
    let mut cfg = NetConfig::new("10.98.0.2/24".parse()?);
    cfg.transparent = true;
    let net = NetStack::spawn(tun, cfg)?;

    // UDP: one host socket per (client, destination), replies sent back from the destination.
    let any_udp = Arc::new(UdpSocket::bind_any(&net)?);
    thread::spawn(move || {
        let flows: Mutex<HashMap<(SocketAddr, SocketAddr), Arc<std::net::UdpSocket>>> =
            Mutex::default();
        let mut buf = vec![0u8; 65_536];
        while let Ok((n, client, dst)) = any_udp.recv_from_to(&mut buf) {
            let mut flows = flows.lock().expect("flows");
            let host = match flows.get(&(client, dst)) {
                Some(h) => Arc::clone(h),
                None => {
                    let Ok(s) = udp_to(dst) else { continue };
                    let s = Arc::new(s);
                    let (back, replies) = (Arc::clone(&any_udp), Arc::clone(&s));
                    thread::spawn(move || {
                        let mut buf = vec![0u8; 65_536];
                        while let Ok(n) = replies.recv(&mut buf) {
                            let _ = back.send_from_to(&buf[..n], dst, client);
                        }
                    });
                    flows.insert((client, dst), Arc::clone(&s));
                    s
                }
            };
            let _ = host.send(&buf[..n]);
        }
    });

    // TCP: the any-IP listener takes every connection; a thread relays each.
    let listener = TcpListener::bind_any(&net)?;
    for client in listener.incoming() {
        let client = client?;
        thread::spawn(move || {
            if let Err(e) = relay_tcp(client) {
                eprintln!("tcp: {e}");
            }
        });
    }
    Ok(())
}
