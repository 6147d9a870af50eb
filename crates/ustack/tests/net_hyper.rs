//! `ustack::hyper::Connector` under hyper-util's pooled client, against a hyper server on
//! another stack: requests on a kept-alive pooled connection, names through a resolver,
//! and the scheme check `HttpConnector` makes.
#![cfg(feature = "hyper")]

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::Connection;
use hyper_util::rt::{TokioExecutor, TokioIo};
use ustack::device::MemoryLink;
use ustack::hyper::{ConnectionInfo, Connector};
use ustack::{NetConfig, NetStack};

const C: Ipv4Addr = Ipv4Addr::new(10, 67, 0, 1);
const S: Ipv4Addr = Ipv4Addr::new(10, 67, 0, 2);

async fn echo_path(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from(req.uri().path().to_string()))))
}

fn stacks() -> (NetStack, NetStack) {
    let (dc, ds) = MemoryLink::pair(1500, 1024);
    let c = NetStack::spawn(dc, NetConfig::new("10.67.0.1/24".parse().unwrap())).unwrap();
    let s = NetStack::spawn(ds, NetConfig::new("10.67.0.2/24".parse().unwrap())).unwrap();
    (c, s)
}

fn serve(net: &NetStack) {
    let l = ustack::tokio::TcpListener::bind(net, (S, 80)).unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = l.accept().await {
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), hyper::service::service_fn(echo_path))
                    .await;
            });
        }
    });
}

#[tokio::test(flavor = "current_thread")]
async fn pooled_client_reuses_one_connection_and_resolves_names() {
    let (cn, sn) = stacks();
    serve(&sn);
    let mut connector = Connector::new(&cn);
    connector.set_resolver(Arc::new(|name: &str| match name {
        "server.test" => Ok(vec![IpAddr::V4(S)]),
        _ => Err(std::io::Error::new(std::io::ErrorKind::NotFound, "unknown")),
    }));
    let client = Client::builder(TokioExecutor::new()).build::<_, Empty<Bytes>>(connector);
    for (i, uri) in ["http://server.test/a", "http://server.test/b", "http://server.test/c"]
        .into_iter()
        .enumerate()
    {
        let resp = tokio::time::timeout(Duration::from_secs(10), client.get(uri.parse().unwrap()))
            .await
            .expect("timed out")
            .unwrap_or_else(|e| panic!("{uri}: {e:?}"));
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, ["/a", "/b", "/c"][i]);
    }
    let conns = cn.netstat().sockets.iter().filter(|s| s.peer.is_some()).count();
    assert_eq!(conns, 1, "the pool kept one connection alive for all three requests");
    // A literal address is another pool key (hyper pools by scheme and authority).
    let resp = client.get("http://10.67.0.2/d".parse().unwrap()).await.unwrap();
    assert_eq!(resp.into_body().collect().await.unwrap().to_bytes(), "/d");
    let err = client.get("http://nowhere.test/".parse().unwrap()).await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn https_is_refused_unless_enforce_http_is_off_and_connected_reports_addresses() {
    use tower_service::Service;
    let (cn, sn) = stacks();
    serve(&sn);
    let mut connector = Connector::new(&cn);
    let e = connector.call("https://10.67.0.2/".parse().unwrap()).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    connector.enforce_http(false);
    // No TLS server there: the TCP connection to 443 is refused, so the scheme passed.
    let e = connector.call("https://10.67.0.2/".parse().unwrap()).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
    let io = connector.call("http://10.67.0.2/".parse().unwrap()).await.unwrap();
    let info = io.inner().connected();
    let mut ext = hyper::http::Extensions::new();
    info.get_extras(&mut ext);
    let info = ext.get::<ConnectionInfo>().expect("the addresses in the extras");
    assert_eq!(info.remote_addr, (S, 80).into());
    assert_eq!(info.local_addr.ip(), IpAddr::V4(C));
}
