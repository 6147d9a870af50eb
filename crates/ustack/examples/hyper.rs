//! hyper client and server on ustack, without root: two stacks joined by an in-memory link;
//! a hyper HTTP/1.1 server on one (the tokio API and `hyper_util::rt::TokioIo`), hyper's
//! pooled client on the other (`ustack::hyper::Connector`). Ten requests reuse one pooled
//! connection; the example checks every answer and exits non-zero if one is wrong.
//!
//! `cargo run -p ustack --example hyper --features hyper`

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::convert::Infallible;
use std::net::Ipv4Addr;

use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use ustack::device::MemoryLink;
use ustack::{NetConfig, NetStack};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 66, 0, 2);

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!("hello from ustack, you asked for {}\n", req.uri().path());
    Ok(Response::new(Full::new(Bytes::from(body))))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (dev_c, dev_s) = MemoryLink::pair(1500, 1024);
    let client_net = NetStack::spawn(dev_c, NetConfig::new("10.66.0.1/24".parse()?))?;
    let server_net = NetStack::spawn(dev_s, NetConfig::new("10.66.0.2/24".parse()?))?;

    // The server: accept on ustack, serve each connection with hyper.
    let listener = ustack::tokio::TcpListener::bind(&server_net, (SERVER, 8080))?;
    let server = tokio::spawn(async move {
        let mut connections = 0;
        while let Ok((stream, _peer)) = listener.accept().await {
            connections += 1;
            tokio::spawn(async move {
                let service = hyper::service::service_fn(hello);
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                let _ = conn.await;
            });
            if connections == 1 {
                eprintln!("server: first connection accepted");
            }
        }
    });

    // The client: hyper's pooled client over ustack.
    let client = Client::builder(TokioExecutor::new())
        .build::<_, Empty<Bytes>>(ustack::hyper::Connector::new(&client_net));
    for i in 0..10 {
        let uri = format!("http://{SERVER}:8080/page/{i}").parse()?;
        let response =
            tokio::time::timeout(std::time::Duration::from_secs(10), client.get(uri)).await??;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        let want = format!("hello from ustack, you asked for /page/{i}\n");
        if !status.is_success() || body != want.as_bytes() {
            return Err(format!("request {i}: {status} {body:?}").into());
        }
        print!("{status} {}", String::from_utf8_lossy(&body));
    }
    let connections = client_net
        .netstat()
        .sockets
        .iter()
        .filter(|s| s.peer.is_some_and(|p| p.ip() == SERVER))
        .count();
    println!("10 requests on {connections} pooled connection(s)");
    if connections != 1 {
        return Err(format!("expected one pooled connection, found {connections}").into());
    }
    server.abort();
    Ok(())
}
