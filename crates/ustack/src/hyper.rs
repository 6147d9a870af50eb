//! hyper on ustack (feature `hyper`): [`Connector`] is a hyper-util connector, so hyper's
//! pooled client (`hyper_util::client::legacy::Client`) opens its connections on a
//! [`NetStack`] with no glue code:
//!
//! ```no_run
//! # async fn run(net: ustack::NetStack) -> Result<(), Box<dyn std::error::Error>> {
//! use http_body_util::Empty;
//! use hyper::body::Bytes;
//! use hyper_util::client::legacy::Client;
//! use hyper_util::rt::TokioExecutor;
//!
//! let client = Client::builder(TokioExecutor::new())
//!     .build::<_, Empty<Bytes>>(ustack::hyper::Connector::new(&net));
//! let response = client.get("http://10.77.0.1:8080/".parse()?).await?;
//! println!("{}", response.status());
//! # Ok(()) }
//! ```
//!
//! A server needs nothing more than the tokio API: accept with
//! [`crate::tokio::TcpListener`] and hand each stream to hyper through
//! `hyper_util::rt::TokioIo` (`crates/ustack/examples/hyper.rs` does both ends).

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;

use crate::NetStack;
use crate::tokio::TcpStream;

/// Resolves a host name to addresses (the port is the URI's).
pub type Resolver = Arc<dyn Fn(&str) -> io::Result<Vec<IpAddr>> + Send + Sync>;

/// A hyper-util connector that opens TCP connections on a [`NetStack`]
/// (`hyper_util::client::legacy::connect::HttpConnector`'s counterpart). Cloning is cheap.
///
/// Hosts that are address literals (`10.0.0.2`, `[2001:db8::2]`) are dialled as they are; names go to the resolver, by
/// default the host's own (`getaddrinfo` on a blocking thread: `/etc/hosts`, and DNS over
/// the kernel's network, not over ustack), or one given with [`Connector::set_resolver`].
/// As `HttpConnector` does, it refuses URIs whose scheme is not `http` unless
/// [`Connector::enforce_http`] is turned off (to put a TLS connector on top of it).
#[derive(Clone)]
pub struct Connector {
    net: NetStack,
    enforce_http: bool,
    nodelay: bool,
    resolver: Option<Resolver>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("enforce_http", &self.enforce_http)
            .field("nodelay", &self.nodelay)
            .field("custom_resolver", &self.resolver.is_some())
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// A connector on `net`: `http` URIs only, Nagle's algorithm on.
    pub fn new(net: &NetStack) -> Connector {
        Connector { net: net.clone(), enforce_http: true, nodelay: false, resolver: None }
    }

    /// Refuse URIs whose scheme is not `http` (default true).
    pub fn enforce_http(&mut self, enforce: bool) {
        self.enforce_http = enforce;
    }

    /// `TCP_NODELAY` on every connection it opens (default false).
    pub fn set_nodelay(&mut self, nodelay: bool) {
        self.nodelay = nodelay;
    }

    /// Resolves host names with `resolver` instead of the host's resolver.
    pub fn set_resolver(&mut self, resolver: Resolver) {
        self.resolver = Some(resolver);
    }

    async fn connect(self, uri: Uri) -> io::Result<TokioIo<TcpStream>> {
        let invalid =
            |why: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{uri}: {why}"));
        let scheme = uri.scheme_str();
        if self.enforce_http && scheme != Some("http") {
            return Err(invalid("the scheme is not http"));
        }
        let host = uri.host().ok_or_else(|| invalid("no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let port = match (uri.port_u16(), scheme) {
            (Some(p), _) => p,
            (None, Some("https")) => 443,
            _ => 80,
        };
        let addrs: Vec<IpAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => match &self.resolver {
                Some(r) => r(&host)?,
                None => {
                    let name = host.clone();
                    tokio::task::spawn_blocking(move || {
                        (name.as_str(), port).to_socket_addrs().map(|a| a.map(|s| s.ip()).collect())
                    })
                    .await
                    .map_err(io::Error::other)??
                }
            },
        };
        let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{host}: no address"));
        for ip in addrs {
            match TcpStream::connect(&self.net, SocketAddr::new(ip, port)).await {
                Ok(s) => {
                    if self.nodelay {
                        s.set_nodelay(true)?;
                    }
                    return Ok(TokioIo::new(s));
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

/// What hyper-util learns of a connection: its addresses, in the connection's extras
/// (`hyper_util::client::legacy::connect::Connected::extra`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// Our address.
    pub local_addr: SocketAddr,
    /// The server's.
    pub remote_addr: SocketAddr,
}

impl Connection for TcpStream {
    fn connected(&self) -> Connected {
        let connected = Connected::new();
        match (self.local_addr(), self.peer_addr()) {
            (Ok(local_addr), Ok(remote_addr)) => {
                connected.extra(ConnectionInfo { local_addr, remote_addr })
            }
            _ => connected,
        }
    }
}

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<TcpStream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<TokioIo<TcpStream>>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(self.clone().connect(uri))
    }
}
