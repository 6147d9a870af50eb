//! TCP Fast Open (RFC 7413, SPEC S6) and `TCP_DEFER_ACCEPT` (SPEC S7) on the blocking API:
//! connect-with-data, the equivalent of `sendto(MSG_FASTOPEN)` / `TCP_FASTOPEN_CONNECT`, and
//! the listener options.

use std::io::{self, Write};
use std::net::ToSocketAddrs;
use std::time::Duration;

use super::{TcpListener, TcpStream, blocking};
use crate::net::socket::Options;
use crate::net::{NetStack, connect_progress};

impl TcpStream {
    /// Connects to `addr` with `data` to send, using TCP Fast Open: when the stack holds a
    /// cookie from this server, the SYN carries the start of `data` (at most the server's MSS
    /// less 40 bytes) and the server can answer it one round trip earlier; otherwise the SYN
    /// asks for a cookie for the next time and `data` follows the handshake. Returns once
    /// connected with all of `data` queued, like `connect` then `write_all`. Fails with
    /// `Unsupported` when the stack's `tcp_fastopen` lacks the client bit (0x1).
    pub fn connect_with_data(
        net: &NetStack,
        addr: impl ToSocketAddrs,
        data: &[u8],
    ) -> io::Result<TcpStream> {
        TcpStream::connect_with_data_and(net, addr, data, None)
    }

    /// [`TcpStream::connect_with_data`] with a [`crate::TcpSocket`]'s options, if any.
    pub(crate) fn connect_with_data_and(
        net: &NetStack,
        addr: impl ToSocketAddrs,
        data: &[u8],
        opts: Option<&Options>,
    ) -> io::Result<TcpStream> {
        let (h, in_syn) = net.start_connect_fast_open(addr, data, opts)?;
        let mut stream = TcpStream::from_handle(net, h);
        blocking(&net.shared, h, None, |inner| connect_progress(inner, h))?;
        stream.write_all(&data[in_syn..])?;
        Ok(stream)
    }

    /// Whether the data of the SYN was acknowledged in the handshake: a Fast Open the server
    /// accepted, on either side (Linux's `TCPI_OPT_SYN_DATA`).
    pub fn fast_open_accepted(&self) -> io::Result<bool> {
        let inner = self.sock.shared().lock();
        inner.live(self.sock.h)?;
        Ok(inner.stack.tcp_conn(self.sock.h).syn_data_acked())
    }
}

impl TcpListener {
    /// `TCP_FASTOPEN`: take data in SYNs that carry a valid cookie, with at most `qlen`
    /// connections in their handshake at once (0 turns it off). The stack's `tcp_fastopen`
    /// must have the server bit (0x2): set it in [`crate::NetConfig`]'s `stack`.
    pub fn set_fastopen(&self, qlen: u32) -> io::Result<()> {
        let mut inner = self.sock.shared().lock();
        inner.live(self.sock.h)?;
        inner.stack.tcp_set_fastopen(self.sock.h, qlen);
        Ok(())
    }

    /// Applies a [`crate::TcpSocket`]'s listener options.
    pub(crate) fn with_listen_options(self, opts: &Options) -> io::Result<TcpListener> {
        if let Some(qlen) = opts.fastopen {
            self.set_fastopen(qlen)?;
        }
        if let Some(wait) = opts.defer_accept {
            self.set_defer_accept(wait)?;
        }
        Ok(self)
    }

    /// `TCP_DEFER_ACCEPT`: hand out connections only once data has arrived on them, or when
    /// `wait` (rounded up to whole SYN-ACK retransmissions, as Linux does) has passed.
    pub fn set_defer_accept(&self, wait: Duration) -> io::Result<()> {
        let mut inner = self.sock.shared().lock();
        inner.live(self.sock.h)?;
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        inner.stack.tcp_set_defer_accept(self.sock.h, i64::try_from(secs).unwrap_or(i64::MAX));
        Ok(())
    }
}
