//! Connections opened through a SYN cookie (SPEC S8, `crate::syncookie`): the SYN-ACK a
//! listener sends without keeping state, and the connection the final ACK creates.

use std::sync::Arc;

use ustack_wire::{SeqNum, TcpFlags, TcpOptions, TcpRepr, Timestamps};

use super::{Conn, Negotiated, State, local_mss, wscale_for};
use crate::cc::Controller;
use crate::syncookie::{CookieOptions, ValidCookie};
use crate::{Instant, TcpConfig, TimerKind};

use super::FourTuple;

/// The options a cookie SYN-ACK accepts from `syn`: those the config enables and the SYN
/// offered, ECN for an ECN-setup SYN when `tcp_ecn` accepts it. Without a timestamp in the SYN
/// nothing can carry window scaling, SACK or ECN, so the SYN is answered as if it offered
/// none (Linux clears the options of a SYN it answers with a cookie when
/// `!tmp_opt.saw_tstamp`, and `ecn_ok` when `!tmp_opt.tstamp_ok`).
fn cookie_options(cfg: &TcpConfig, syn: &TcpRepr<'_>) -> Option<CookieOptions> {
    let o = &syn.options;
    if !(cfg.timestamps && o.timestamps.is_some()) {
        return None;
    }
    Some(CookieOptions {
        wscale: o.window_scale.filter(|_| cfg.window_scaling).map(|s| s.min(14)),
        sack: cfg.sack && o.sack_permitted,
        ecn: cfg.ecn != 0 && syn.flags.contains(TcpFlags::ECE | TcpFlags::CWR),
    })
}

impl Conn {
    /// The SYN-ACK that answers `syn` with a SYN cookie: `iss` is the cookie
    /// ([`crate::syncookie::SynCookies::isn`]), `ts_offset` the offset the connection's
    /// timestamps will carry ([`Conn::set_timestamp_offset`]). Its options are those
    /// [`Conn::accept`]'s SYN-ACK would carry, and when the SYN offered timestamps the TSval
    /// encodes the window scale, SACK-permitted and ECN the SYN offered (Linux
    /// `cookie_init_timestamp`), and an accepted ECN-setup SYN gets ECE; without timestamps
    /// only the MSS is answered.
    pub fn cookie_synack(
        now: Instant,
        cfg: &TcpConfig,
        tuple: FourTuple,
        mtu: u16,
        syn: &TcpRepr<'_>,
        iss: SeqNum,
        ts_offset: u32,
    ) -> TcpRepr<'static> {
        let mut options =
            TcpOptions { mss: Some(local_mss(cfg, tuple, mtu)), ..TcpOptions::default() };
        let mut flags = TcpFlags::SYN | TcpFlags::ACK;
        if let Some(co) = cookie_options(cfg, syn) {
            if co.ecn {
                flags |= TcpFlags::ECE;
            }
            let clock = (now.as_nanos() / 1_000_000) as u32;
            let tsval = co.encode_timestamp(clock).wrapping_add(ts_offset);
            let tsecr = syn.options.timestamps.map_or(0, |t| t.tsval);
            options.timestamps = Some(Timestamps { tsval, tsecr });
            options.window_scale = co.wscale.map(|_| wscale_for(cfg));
            options.sack_permitted = co.sack;
        }
        TcpRepr {
            src_port: tuple.local.port(),
            dst_port: tuple.remote.port(),
            seq: iss,
            ack: syn.seq + 1u32,
            flags,
            window: cfg.rmem.default.min(65_535) as u16,
            urgent: 0,
            options,
            payload: &[],
        }
    }

    /// The connection a valid cookie in `ack` stands for (Linux `cookie_v4_check` →
    /// `tcp_get_cookie_sock`): in SYN-RECEIVED as if `Conn::accept` had taken the SYN the
    /// cookie remembers and sent [`Conn::cookie_synack`]'s SYN-ACK. `opts` are the options
    /// decoded from the echoed timestamp (`None`: the ACK carries no timestamp, so neither
    /// window scaling, SACK nor ECN is in force). ECN is in force when the cookie says the
    /// SYN-ACK accepted it and `tcp_ecn` still does (Linux `cookie_ecn_ok`). Hand `ack` to [`Conn::handle_segment`] next: it
    /// completes the handshake (and its data, if any, is taken).
    #[allow(clippy::too_many_arguments)]
    pub fn from_cookie(
        now: Instant,
        cfg: impl Into<Arc<TcpConfig>>,
        tuple: FourTuple,
        mtu: u16,
        cookie: ValidCookie,
        opts: Option<CookieOptions>,
        ack: &TcpRepr<'_>,
        cc: impl Into<Controller>,
    ) -> Conn {
        let cfg = cfg.into();
        let offered = Negotiated::offered_by(&cfg);
        let state = State::SynReceived { passive: true };
        let mut conn =
            Conn::new(now, Arc::clone(&cfg), tuple, cookie.iss, mtu, cc.into(), state, offered);
        let opts = opts.unwrap_or_default();
        let syn_options = TcpOptions {
            mss: Some(cookie.mss),
            window_scale: opts.wscale,
            sack_permitted: opts.sack,
            timestamps: ack.options.timestamps.map(|t| Timestamps { tsval: t.tsval, tsecr: 0 }),
            ..TcpOptions::default()
        };
        let syn = TcpRepr {
            src_port: tuple.remote.port(),
            dst_port: tuple.local.port(),
            seq: cookie.irs,
            ack: SeqNum(0),
            flags: TcpFlags::SYN,
            window: ack.window,
            urgent: 0,
            options: syn_options,
            payload: &[],
        };
        conn.take_peer_syn(now, &syn);
        conn.ecn.ok = opts.ecn && conn.cfg.ecn != 0;
        // The SYN-ACK is out: SND.NXT past the ISS, the window it offered advertised.
        conn.snd.nxt = cookie.iss + 1u32;
        conn.snd.max = conn.snd.nxt;
        conn.syn_window = cfg.rmem.default.min(65_535) as u16;
        conn.rcv.adv_right = conn.rcv.nxt + u32::from(conn.syn_window);
        conn.timers.set(TimerKind::Establish, now + cfg.synack_timeout());
        conn
    }
}
