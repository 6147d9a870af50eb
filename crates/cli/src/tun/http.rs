//! The `http` service: HTTP/1.1 with keep-alive, hyper over ustack's tokio API.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

const PAGE: &str =
    "<!doctype html>\n<title>ustack</title>\n<p>Hello from ustack, a userspace TCP/IP stack.</p>\n";

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, body) = match (req.method(), req.uri().path()) {
        (&Method::GET | &Method::HEAD, "/") => (StatusCode::OK, PAGE),
        (&Method::GET | &Method::HEAD, _) => (StatusCode::NOT_FOUND, "not found\n"),
        _ => (StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n"),
    };
    let resp = Response::builder()
        .status(status)
        .header(
            "content-type",
            if status == StatusCode::OK { "text/html; charset=utf-8" } else { "text/plain" },
        )
        .header("server", "ustack")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .expect("a valid response");
    Ok(resp)
}

pub(crate) fn serve(l: ustack::tokio::TcpListener, stop: Arc<AtomicBool>) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async move {
        while !stop.load(Ordering::SeqCst) {
            let Ok((stream, _peer)) = l.accept().await else { break };
            tokio::task::spawn(async move {
                let io = TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(io, hyper::service::service_fn(handle))
                    .await;
            });
        }
        Ok(())
    })
}
