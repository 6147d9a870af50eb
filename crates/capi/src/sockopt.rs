//! `setsockopt` and `getsockopt`: the options of docs/c-api.md, with Linux's checks and
//! errno values (`sock_setsockopt`, `do_tcp_setsockopt`, `do_tcp_getsockopt`). Options
//! ustack does not implement fail with `ENOPROTOOPT` rather than pretend to take effect.

use core::time::Duration;

use libc::c_int;
use ustack_core::tcp_engine::tfo::{FastOpenKey, FastOpenKeys};
use ustack_core::tcp_engine::{CcName, TcpConfig, cc};
use ustack_core::{Instant, SocketHandle};

use crate::errno::Errno;
use crate::host::{Host, Phase, Proto};
use crate::tcp_info;

/// Linux's `SOCK_MIN_SNDBUF` and `SOCK_MIN_RCVBUF` on 64-bit machines.
const SOCK_MIN_SNDBUF: u32 = 4608;
const SOCK_MIN_RCVBUF: u32 = 2304;
/// Linux `TCP_MIN_MSS` and `MAX_TCP_WINDOW`: the range of `TCP_MAXSEG`.
const TCP_MIN_MSS: i32 = 88;
const MAX_TCP_WINDOW: i32 = 32767;
/// Linux `MAX_TCP_KEEPIDLE`, `MAX_TCP_KEEPINTVL`, `MAX_TCP_KEEPCNT`, `MAX_TCP_SYNCNT`.
const MAX_KEEPIDLE: i32 = 32767;
const MAX_KEEPINTVL: i32 = 32767;
const MAX_KEEPCNT: i32 = 127;
const MAX_SYNCNT: i32 = 127;
/// `SK_MEMINFO_VARS`.
const SK_MEMINFO_VARS: usize = 9;

/// An option value going out of `getsockopt`.
pub(crate) enum OptVal {
    Int(c_int),
    Bytes(Vec<u8>),
}

fn int(val: &[u8]) -> Result<c_int, Errno> {
    // Linux: "if (optlen < sizeof(int)) return -EINVAL".
    let b: [u8; 4] = val.get(..4).and_then(|b| b.try_into().ok()).ok_or(libc::EINVAL)?;
    Ok(c_int::from_ne_bytes(b))
}

impl Host {
    /// `setsockopt(fd, level, name, val)`.
    pub(crate) fn setsockopt(
        &mut self,
        now: Instant,
        fd: c_int,
        level: c_int,
        name: c_int,
        val: &[u8],
    ) -> Result<(), Errno> {
        let proto = self.sock(fd)?.proto;
        match (level, proto) {
            (libc::SOL_SOCKET, _) => self.set_socket_opt(now, fd, name, val),
            (libc::IPPROTO_TCP, Proto::Tcp) => self.set_tcp_opt(now, fd, name, val),
            (libc::IPPROTO_TCP, Proto::Udp) => Err(libc::ENOPROTOOPT),
            (libc::IPPROTO_IPV6, _) if self.sock(fd)?.v6 => self.set_ipv6_opt(fd, name, val),
            _ => Err(libc::ENOPROTOOPT),
        }
    }

    /// `IPPROTO_IPV6` options of an `AF_INET6` socket (Linux `do_ipv6_setsockopt`).
    fn set_ipv6_opt(&mut self, fd: c_int, name: c_int, val: &[u8]) -> Result<(), Errno> {
        match name {
            libc::IPV6_V6ONLY => {
                let on = int(val)? != 0;
                let s = self.sock_mut(fd)?;
                // "if (optlen < sizeof(int) || inet_sk(sk)->inet_num) return -EINVAL".
                if s.has_port() {
                    return Err(libc::EINVAL);
                }
                s.v6only = on;
                Ok(())
            }
            _ => Err(libc::ENOPROTOOPT),
        }
    }

    fn set_socket_opt(
        &mut self,
        now: Instant,
        fd: c_int,
        name: c_int,
        val: &[u8],
    ) -> Result<(), Errno> {
        let (rmem_max, wmem_max) = (self.settings.rmem_max, self.settings.wmem_max);
        match name {
            libc::SO_REUSEADDR => {
                let v = int(val)?;
                self.sock_mut(fd)?.reuse_addr = v != 0;
            }
            libc::SO_KEEPALIVE => {
                let on = int(val)? != 0;
                let s = self.sock_mut(fd)?;
                s.tcp.keepalive = on;
                if let Some(h) = s.conn() {
                    self.stack.tcp_set_keepalive(now, h, on);
                }
                self.sync_listener(fd);
            }
            libc::SO_LINGER => {
                // struct linger { int l_onoff; int l_linger; }
                if val.len() < 8 {
                    return Err(libc::EINVAL);
                }
                let on = int(&val[..4])? != 0;
                let secs = int(&val[4..8])?;
                self.sock_mut(fd)?.linger = on.then_some(secs.max(0) as u32);
            }
            libc::SO_SNDBUF => {
                // Linux: min(val, wmem_max), doubled for bookkeeping overhead, at least
                // SOCK_MIN_SNDBUF; the buffer is then fixed (no more autotuning).
                let v = (int(val)?.max(0) as u32).min(wmem_max);
                let s = self.sock_mut(fd)?;
                s.sndbuf = Some((v * 2).max(SOCK_MIN_SNDBUF));
                if let Some(h) = s.conn() {
                    self.stack.tcp_set_send_buffer(h, v.max(SOCK_MIN_SNDBUF / 2));
                }
            }
            libc::SO_RCVBUF => {
                let v = (int(val)?.max(0) as u32).min(rmem_max);
                let s = self.sock_mut(fd)?;
                s.rcvbuf = Some((v * 2).max(SOCK_MIN_RCVBUF));
                let bytes = v.max(SOCK_MIN_RCVBUF / 2);
                s.tcp.rmem.max = bytes;
                s.tcp.rmem.default = bytes;
                s.tcp.rmem.min = s.tcp.rmem.min.min(bytes);
                if let Some(h) = s.conn() {
                    self.stack.tcp_set_recv_buffer(h, bytes);
                }
                self.sync_listener(fd);
            }
            libc::SO_RCVLOWAT => {
                let v = int(val)?;
                self.sock_mut(fd)?.rcvlowat =
                    if v < 0 { i32::MAX as u32 } else { (v as u32).max(1) };
            }
            _ => return Err(libc::ENOPROTOOPT),
        }
        Ok(())
    }

    fn set_tcp_opt(
        &mut self,
        now: Instant,
        fd: c_int,
        name: c_int,
        val: &[u8],
    ) -> Result<(), Errno> {
        if name == libc::TCP_CONGESTION {
            let end = val.iter().position(|&b| b == 0).unwrap_or(val.len());
            let text = core::str::from_utf8(&val[..end]).map_err(|_| libc::ENOENT)?;
            let cc_name = CcName::new(text).map_err(|_| libc::ENOENT)?;
            if cc::factory_by_name(cc_name.as_str()).is_none() {
                // Linux `tcp_set_congestion_control`: no such module.
                return Err(libc::ENOENT);
            }
            let s = self.sock_mut(fd)?;
            if s.conn().is_some() {
                // A running connection keeps its controller in ustack (Linux switches it).
                return Err(libc::EBUSY);
            }
            s.tcp.congestion_control = cc_name;
            self.sync_listener(fd);
            return Ok(());
        }
        if name == libc::TCP_FASTOPEN_KEY {
            // Linux: a primary key of 16 bytes, optionally followed by a backup key, in any
            // state; a listener makes its cookies with it from then on.
            let key = |b: &[u8]| FastOpenKey::from_bytes(b.try_into().expect("16 bytes"));
            let keys = match val.len() {
                16 => FastOpenKeys::new(key(val)),
                32 => FastOpenKeys { primary: key(&val[..16]), backup: Some(key(&val[16..])) },
                _ => return Err(libc::EINVAL),
            };
            let s = self.sock_mut(fd)?;
            s.fastopen_key = Some(keys);
            if let Phase::Listening(l) = s.phase {
                self.stack.tcp_set_fastopen_key(l, Some(keys));
            }
            return Ok(());
        }
        let v = int(val)?;
        if name == libc::TCP_FASTOPEN_CONNECT {
            // `tcp_fastopen` is read when it is used, as Linux does.
            self.refresh_settings();
        }
        let fastopen_sysctl = self.stack.config().tcp_fastopen;
        let s = self.sock_mut(fd)?;
        let h = s.conn();
        match name {
            libc::TCP_FASTOPEN => {
                // Linux: "if (val >= 0 && ((1 << sk->sk_state) & (TCPF_CLOSE | TCPF_LISTEN)))
                // fastopen_queue_tune(sk, val)".
                if v < 0 || h.is_some() {
                    return Err(libc::EINVAL);
                }
                s.fastopen_qlen = Some(v as u32);
                if let Phase::Listening(l) = s.phase {
                    self.stack.tcp_set_fastopen(l, v as u32);
                }
            }
            libc::TCP_FASTOPEN_CONNECT => {
                if !(0..=1).contains(&v) {
                    return Err(libc::EINVAL);
                }
                if fastopen_sysctl & ustack_core::tcp_engine::tfo::CLIENT_ENABLE == 0 {
                    return Err(libc::EOPNOTSUPP);
                }
                if s.phase != Phase::Unconnected {
                    return Err(libc::EINVAL);
                }
                s.fastopen_connect = v == 1;
            }
            libc::TCP_DEFER_ACCEPT => {
                // Linux stores secs_to_retrans(val, 1, 120): any state, no range check.
                s.defer_accept = i64::from(v);
                if let Phase::Listening(l) = s.phase {
                    self.stack.tcp_set_defer_accept(l, i64::from(v));
                }
            }
            libc::TCP_NODELAY => {
                s.tcp.nodelay = v != 0;
                if let Some(h) = h {
                    self.stack.tcp_set_nodelay(h, v != 0);
                }
            }
            libc::TCP_MAXSEG => {
                // Linux: 0 clears it; otherwise TCP_MIN_MSS..=MAX_TCP_WINDOW. It takes effect
                // for the connection's next handshake.
                if v != 0 && !(TCP_MIN_MSS..=MAX_TCP_WINDOW).contains(&v) {
                    return Err(libc::EINVAL);
                }
                s.tcp.user_mss = v as u16;
            }
            libc::TCP_KEEPIDLE | libc::TCP_KEEPINTVL | libc::TCP_KEEPCNT => {
                let max = match name {
                    libc::TCP_KEEPIDLE => MAX_KEEPIDLE,
                    libc::TCP_KEEPINTVL => MAX_KEEPINTVL,
                    _ => MAX_KEEPCNT,
                };
                if !(1..=max).contains(&v) {
                    return Err(libc::EINVAL);
                }
                match name {
                    libc::TCP_KEEPIDLE => s.tcp.keepalive_time = Duration::from_secs(v as u64),
                    libc::TCP_KEEPINTVL => s.tcp.keepalive_intvl = Duration::from_secs(v as u64),
                    _ => s.tcp.keepalive_probes = v as u32,
                }
                let t = s.tcp;
                if let Some(h) = h {
                    self.stack.tcp_set_keepalive_params(
                        now,
                        h,
                        t.keepalive_time,
                        t.keepalive_intvl,
                        t.keepalive_probes,
                    );
                }
            }
            libc::TCP_SYNCNT => {
                if !(1..=MAX_SYNCNT).contains(&v) {
                    return Err(libc::EINVAL);
                }
                s.tcp.syn_retries = v as u32;
                if let Some(h) = h {
                    self.stack.tcp_set_syn_retries(h, v as u32);
                }
            }
            libc::TCP_USER_TIMEOUT => {
                if v < 0 {
                    return Err(libc::EINVAL);
                }
                let d = Duration::from_millis(v as u64);
                s.tcp.user_timeout = d;
                if let Some(h) = h {
                    self.stack.tcp_set_user_timeout(h, d);
                }
            }
            // Not implemented in ustack (see docs/c-api.md): corking, TCP_NOTSENT_LOWAT,
            // TCP_INQ, TCP_QUICKACK, TCP_FASTOPEN_NO_COOKIE, ...
            _ => return Err(libc::ENOPROTOOPT),
        }
        self.sync_listener(fd);
        Ok(())
    }

    /// A listener's options are what its next connections start with.
    fn sync_listener(&mut self, fd: c_int) {
        if let Ok(s) = self.sock(fd)
            && let Phase::Listening(l) = s.phase
        {
            let tcp = s.tcp;
            // Options are range-checked above, so the config validates.
            let _ = self.stack.tcp_set_listener_config(l, tcp);
        }
    }

    /// `getsockopt(fd, level, name)`; `len` is the caller's buffer length (for strings and
    /// structures).
    pub(crate) fn getsockopt(
        &mut self,
        now: Instant,
        fd: c_int,
        level: c_int,
        name: c_int,
    ) -> Result<OptVal, Errno> {
        let s = self.sock(fd)?;
        let proto = s.proto;
        let tcp: TcpConfig = match s.conn() {
            Some(h) => *self.stack.tcp_conn(h).config(),
            None => s.tcp,
        };
        let b = |x: bool| OptVal::Int(c_int::from(x));
        let secs = |d: Duration| OptVal::Int(d.as_secs().min(i32::MAX as u64) as c_int);
        Ok(match (level, name) {
            (libc::SOL_SOCKET, libc::SO_ERROR) => OptVal::Int(self.so_error(fd)?),
            (libc::SOL_SOCKET, libc::SO_TYPE) => OptVal::Int(match proto {
                Proto::Tcp => libc::SOCK_STREAM,
                Proto::Udp => libc::SOCK_DGRAM,
            }),
            (libc::SOL_SOCKET, libc::SO_DOMAIN) => {
                OptVal::Int(if s.v6 { libc::AF_INET6 } else { libc::AF_INET })
            }
            (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY) if s.v6 => b(s.v6only),
            // Linux `do_ip_getsockopt` on an AF_INET socket: another level is EOPNOTSUPP.
            (libc::IPPROTO_IPV6, _) if !s.v6 => return Err(libc::EOPNOTSUPP),
            (libc::SOL_SOCKET, libc::SO_PROTOCOL) => OptVal::Int(match proto {
                Proto::Tcp => libc::IPPROTO_TCP,
                Proto::Udp => libc::IPPROTO_UDP,
            }),
            (libc::SOL_SOCKET, libc::SO_ACCEPTCONN) => b(matches!(s.phase, Phase::Listening(_))),
            (libc::SOL_SOCKET, libc::SO_REUSEADDR) => b(s.reuse_addr),
            (libc::SOL_SOCKET, libc::SO_KEEPALIVE) => b(tcp.keepalive),
            (libc::SOL_SOCKET, libc::SO_RCVLOWAT) => OptVal::Int(s.rcvlowat as c_int),
            (libc::SOL_SOCKET, libc::SO_LINGER) => {
                let mut v = Vec::with_capacity(8);
                v.extend_from_slice(&c_int::from(s.linger.is_some()).to_ne_bytes());
                v.extend_from_slice(&(s.linger.unwrap_or(0) as c_int).to_ne_bytes());
                OptVal::Bytes(v)
            }
            (libc::SOL_SOCKET, libc::SO_SNDBUF) => OptVal::Int(match (s.sndbuf, s.conn()) {
                (Some(v), _) => v as c_int,
                (None, Some(h)) => self.stack.tcp_conn(h).buffer_limits().0 as c_int,
                (None, None) => tcp.wmem.default as c_int,
            }),
            (libc::SOL_SOCKET, libc::SO_RCVBUF) => OptVal::Int(match (s.rcvbuf, s.conn()) {
                (Some(v), _) => v as c_int,
                (None, Some(h)) => self.stack.tcp_conn(h).buffer_limits().1 as c_int,
                (None, None) => tcp.rmem.default as c_int,
            }),
            (libc::SOL_SOCKET, libc::SO_MEMINFO) => {
                let mut m = [0u32; SK_MEMINFO_VARS];
                if let Some(h) = s.conn() {
                    let conn = self.stack.tcp_conn(h);
                    let (snd, rcv) = conn.buffer_limits();
                    m[0] = conn.recv_queue() as u32; // SK_MEMINFO_RMEM_ALLOC
                    m[1] = rcv as u32; // SK_MEMINFO_RCVBUF
                    m[2] = conn.info().flight_bytes; // SK_MEMINFO_WMEM_ALLOC
                    m[3] = snd as u32; // SK_MEMINFO_SNDBUF
                    m[5] = conn.send_queue() as u32; // SK_MEMINFO_WMEM_QUEUED
                }
                OptVal::Bytes(m.iter().flat_map(|x| x.to_ne_bytes()).collect())
            }
            (libc::IPPROTO_TCP, _) if proto != Proto::Tcp => return Err(libc::EOPNOTSUPP),
            (libc::IPPROTO_TCP, libc::TCP_NODELAY) => b(tcp.nodelay),
            (libc::IPPROTO_TCP, libc::TCP_MAXSEG) => {
                // Linux: the MSS in use; on a socket that is closed or listening, the value
                // set with TCP_MAXSEG if any, else TCP_MSS_DEFAULT (536).
                let conn = s.conn().map(|h| self.stack.tcp_conn(h));
                OptVal::Int(match conn {
                    Some(c) if c.syn_acked() => c.effective_mss() as c_int,
                    _ if tcp.user_mss != 0 => c_int::from(tcp.user_mss),
                    Some(c) => c.effective_mss() as c_int,
                    None => c_int::from(tcp.mss_default),
                })
            }
            (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE) => secs(tcp.keepalive_time),
            (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL) => secs(tcp.keepalive_intvl),
            (libc::IPPROTO_TCP, libc::TCP_KEEPCNT) => OptVal::Int(tcp.keepalive_probes as c_int),
            (libc::IPPROTO_TCP, libc::TCP_SYNCNT) => OptVal::Int(tcp.syn_retries as c_int),
            (libc::IPPROTO_TCP, libc::TCP_FASTOPEN) => OptVal::Int(match s.phase {
                Phase::Listening(l) => self.stack.tcp_fastopen_qlen(l) as c_int,
                _ => s.fastopen_qlen.unwrap_or(0) as c_int,
            }),
            (libc::IPPROTO_TCP, libc::TCP_FASTOPEN_CONNECT) => b(s.fastopen_connect),
            (libc::IPPROTO_TCP, libc::TCP_FASTOPEN_KEY) => {
                // Linux `tcp_fastopen_get_cipher`: the socket's keys, else the host's; 16
                // bytes per key, the backup after the primary.
                let keys = s.fastopen_key.unwrap_or(self.stack.tcp_fastopen_keys());
                let bytes = |k: FastOpenKey| k.words().into_iter().flat_map(u32::to_le_bytes);
                OptVal::Bytes(
                    bytes(keys.primary).chain(keys.backup.into_iter().flat_map(bytes)).collect(),
                )
            }
            (libc::IPPROTO_TCP, libc::TCP_DEFER_ACCEPT) => {
                // Linux: retrans_to_secs of what was stored.
                let retrans =
                    ustack_core::tcp_engine::conn::secs_to_retrans(s.defer_accept, 1, 120);
                OptVal::Int(ustack_core::tcp_engine::conn::retrans_to_secs(retrans, 1, 120) as c_int)
            }
            (libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT) => {
                OptVal::Int(tcp.user_timeout.as_millis().min(i32::MAX as u128) as c_int)
            }
            (libc::IPPROTO_TCP, libc::TCP_CONGESTION) => {
                let mut v = tcp.congestion_control.as_str().as_bytes().to_vec();
                v.resize(16, 0); // TCP_CA_NAME_MAX
                OptVal::Bytes(v)
            }
            // Linux's reno and cubic have no TCP_CC_INFO: a zero-length answer.
            (libc::IPPROTO_TCP, libc::TCP_CC_INFO) => OptVal::Bytes(Vec::new()),
            (libc::IPPROTO_TCP, libc::TCP_INFO) => {
                let info = match s.phase {
                    Phase::Connecting(h) | Phase::Connected(h) => self.tcp_info(now, h),
                    Phase::Listening(_) => tcp_info::TcpInfo {
                        state: tcp_info::linux_state(ustack_core::tcp_engine::TcpState::Listen),
                        ..Default::default()
                    },
                    _ => tcp_info::TcpInfo {
                        state: tcp_info::linux_state(ustack_core::tcp_engine::TcpState::Closed),
                        ..Default::default()
                    },
                };
                OptVal::Bytes(info_bytes(&info))
            }
            _ => return Err(libc::ENOPROTOOPT),
        })
    }

    fn tcp_info(&self, now: Instant, h: SocketHandle) -> tcp_info::TcpInfo {
        let conn = self.stack.tcp_conn(h);
        let mtu = self.stack.interfaces().first().map_or(1500, |i| i.mtu);
        let ato = conn.config().delack_min.as_micros() as u32;
        let mut info = tcp_info::fill(&conn.info(), &conn.stats(), mtu, ato);
        tcp_info::fill_chrono(&mut info, conn.chrono_stats(now));
        info
    }
}

/// The bytes of a `struct tcp_info`.
fn info_bytes(info: &tcp_info::TcpInfo) -> Vec<u8> {
    let size = core::mem::size_of::<tcp_info::TcpInfo>();
    let mut out = vec![0u8; size];
    // SAFETY: `TcpInfo` is `repr(C)` plain data of integers without padding (its layout test
    // checks the size adds up), so viewing it as `size` bytes reads initialized memory.
    let bytes = unsafe {
        core::slice::from_raw_parts((info as *const tcp_info::TcpInfo).cast::<u8>(), size)
    };
    out.copy_from_slice(bytes);
    out
}
