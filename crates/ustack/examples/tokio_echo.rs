//! A tokio echo server and client on ustack, without root: two stacks joined by an in-memory
//! link in one process. The server splits each connection into halves and copies one into
//! the other; ten clients at once send 256 KiB each and check the echo byte for byte. Exits
//! non-zero if a byte is wrong.
//!
//! `cargo run -p ustack --example tokio_echo`

#![allow(clippy::print_stdout)]

use std::net::Ipv4Addr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use ustack::device::MemoryLink;
use ustack::tokio::{TcpListener, TcpStream};
use ustack::{NetConfig, NetStack};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (client_dev, server_dev) = MemoryLink::pair(1500, 1024);
    let client_net = NetStack::spawn(client_dev, NetConfig::new("10.0.0.1/24".parse()?))?;
    let server_net = NetStack::spawn(server_dev, NetConfig::new("10.0.0.2/24".parse()?))?;

    let listener = TcpListener::bind(&server_net, (SERVER, 7))?;
    tokio::spawn(async move {
        while let Ok((stream, _peer)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut rd, mut wr) = stream.into_split();
                // Dropping the write half at the end sends our FIN.
                let _ = tokio::io::copy(&mut rd, &mut wr).await;
            });
        }
    });

    let mut clients = Vec::new();
    for i in 0..10u8 {
        let net = client_net.clone();
        clients.push(tokio::spawn(async move {
            let data: Vec<u8> = (0..256 * 1024u32).map(|b| (b as u8) ^ i).collect();
            let stream = TcpStream::connect(&net, (SERVER, 7)).await?;
            let (mut rd, mut wr) = stream.into_split();
            let sent = data.clone();
            let writer = tokio::spawn(async move {
                wr.write_all(&sent).await?;
                wr.shutdown().await
            });
            let mut echoed = Vec::new();
            rd.read_to_end(&mut echoed).await?;
            writer.await.map_err(std::io::Error::other)??;
            Ok::<bool, std::io::Error>(echoed == data)
        }));
    }
    let mut ok = 0;
    for c in clients {
        if c.await?? {
            ok += 1;
        }
    }
    println!("{ok} of 10 connections echoed 256 KiB byte for byte");
    if ok != 10 {
        return Err("an echo differed".into());
    }
    Ok(())
}
