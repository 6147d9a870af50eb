//! TCP Fast Open on the async API (see [`crate::TcpStream::connect_with_data`]).

use std::future::poll_fn;
use std::io;
use std::net::ToSocketAddrs;
use std::sync::Arc;

use super::{TcpListener, TcpStream, poll_op};
use crate::net::sock::{Kind, Sock};
use crate::net::socket::Options;
use crate::net::{NetStack, connect_progress, send_error};

impl TcpStream {
    /// Connects to `addr` with `data` to send, using TCP Fast Open when the stack holds a
    /// cookie from this server (the SYN carries the start of `data`); resolves once
    /// connected with all of `data` queued. See [`crate::TcpStream::connect_with_data`].
    pub async fn connect_with_data(
        net: &NetStack,
        addr: impl ToSocketAddrs,
        data: &[u8],
    ) -> io::Result<TcpStream> {
        TcpStream::connect_with_data_and(net, addr, data, None).await
    }

    /// [`TcpStream::connect_with_data`] with a [`crate::TcpSocket`]'s options, if any.
    pub(crate) async fn connect_with_data_and(
        net: &NetStack,
        addr: impl ToSocketAddrs,
        data: &[u8],
        opts: Option<&Options>,
    ) -> io::Result<TcpStream> {
        let (h, in_syn) = net.start_connect_fast_open(addr, data, opts)?;
        let stream = TcpStream { sock: Arc::new(Sock::new(net, h, Kind::Conn)) };
        poll_fn(|cx| poll_op(net, h, cx, |inner| connect_progress(inner, h))).await?;
        let mut sent = in_syn;
        while sent < data.len() {
            let rest = &data[sent..];
            sent += poll_fn(|cx| {
                poll_op(net, h, cx, |inner| inner.stack.tcp_send(h, rest).map_err(send_error))
            })
            .await?;
        }
        Ok(stream)
    }

    /// Whether the data of the SYN was acknowledged in the handshake (Fast Open accepted).
    pub fn fast_open_accepted(&self) -> io::Result<bool> {
        let inner = self.sock.shared().lock();
        inner.live(self.sock.h)?;
        Ok(inner.stack.tcp_conn(self.sock.h).syn_data_acked())
    }
}

impl TcpListener {
    /// `TCP_FASTOPEN` (see [`crate::TcpListener::set_fastopen`]).
    pub fn set_fastopen(&self, qlen: u32) -> io::Result<()> {
        let mut inner = self.sock.shared().lock();
        inner.live(self.sock.h)?;
        inner.stack.tcp_set_fastopen(self.sock.h, qlen);
        Ok(())
    }
}
