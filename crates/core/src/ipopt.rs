//! IP-level options of a socket of any kind: `IP_TTL`.

use core::num::NonZeroU8;

use crate::socket::SocketHandle;
use crate::stack::{Socket, Stack};

impl Stack {
    /// `IP_TTL`: the TTL of every packet socket `h` sends from now on (a listener's: of the
    /// connections it accepts from now on, as Linux children inherit it). `ttl` must be 1 to
    /// 255; 0 is refused (Linux: `EINVAL`). Panics on a dead handle.
    pub fn set_ttl(&mut self, h: SocketHandle, ttl: u8) -> Result<(), crate::StackConfigError> {
        if ttl == 0 {
            return Err(crate::StackConfigError::Invalid("a TTL must be 1 to 255"));
        }
        match self.socket_mut(h) {
            Some(Socket::Tcp(t)) => t.ttl = NonZeroU8::new(ttl),
            Some(Socket::TimeWait(r)) => r.ttl = NonZeroU8::new(ttl),
            Some(Socket::Listener(l)) => l.ttl = Some(ttl),
            Some(Socket::Udp(u)) => u.ttl = Some(ttl),
            None => panic!("set_ttl on {h}, which is not a live socket"),
        }
        Ok(())
    }

    /// The TTL socket `h` sends with: its own, else the stack's `ip_default_ttl`.
    pub fn ttl(&self, h: SocketHandle) -> u8 {
        let own = match self.slot(h) {
            Some(Socket::Tcp(t)) => t.ttl.map(NonZeroU8::get),
            Some(Socket::TimeWait(r)) => r.ttl.map(NonZeroU8::get),
            Some(Socket::Listener(l)) => l.ttl,
            Some(Socket::Udp(u)) => u.ttl,
            None => panic!("ttl of {h}, which is not a live socket"),
        };
        own.unwrap_or(self.cfg.ip_default_ttl)
    }
}
