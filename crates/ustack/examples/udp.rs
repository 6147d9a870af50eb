//! UDP on ustack with the blocking API, without root: two stacks on an in-memory link; a
//! server answers each datagram with its length and contents reversed; the client sends
//! five, with a receive timeout, peeks at the first answer before reading it, and checks
//! every answer. Exits non-zero on a wrong answer.
//!
//! `cargo run -p ustack --example udp`

#![allow(clippy::print_stdout)]

use std::net::Ipv4Addr;
use std::thread;
use std::time::Duration;

use ustack::device::MemoryLink;
use ustack::{NetConfig, NetStack, UdpSocket};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn answer(query: &[u8]) -> Vec<u8> {
    let mut a = format!("{}:", query.len()).into_bytes();
    a.extend(query.iter().rev());
    a
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (client_dev, server_dev) = MemoryLink::pair(1500, 1024);
    let client_net = NetStack::spawn(client_dev, NetConfig::new("10.0.0.1/24".parse()?))?;
    let server_net = NetStack::spawn(server_dev, NetConfig::new("10.0.0.2/24".parse()?))?;

    let server = UdpSocket::bind(&server_net, (SERVER, 5353))?;
    thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = server.recv_from(&mut buf) {
            let _ = server.send_to(&answer(&buf[..n]), from);
        }
    });

    let client = UdpSocket::bind(&client_net, "0.0.0.0:0")?;
    client.connect((SERVER, 5353))?;
    client.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut buf = [0u8; 1500];
    for (i, query) in ["ustack", "udp", "example", "datagram", "reversed"].iter().enumerate() {
        client.send(query.as_bytes())?;
        if i == 0 {
            let (n, from) = client.peek_from(&mut buf)?;
            println!("peeked {n} bytes from {from}");
        }
        let n = client.recv(&mut buf)?;
        let got = &buf[..n];
        println!("{query} -> {}", String::from_utf8_lossy(got));
        if got != answer(query.as_bytes()) {
            return Err(format!("wrong answer to {query}").into());
        }
    }
    Ok(())
}
