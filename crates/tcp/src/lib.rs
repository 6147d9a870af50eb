//! ustack-tcp: the sans-IO engine for one TCP connection (docs/tcp-engine.md).
//!
//! It never reads a clock, never does I/O and never draws randomness: time arrives as an
//! [`Instant`] argument and every random value is handed in. [`Conn`] is the connection
//! engine (states, timers, reliability, flow and congestion control); the other modules are
//! its parts.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod assembler;
mod buffer;
pub mod cc;
mod config;
pub mod conn;
mod ecn;
mod isn;
mod rtt;
pub mod script;
mod state;
pub mod syncookie;
pub mod tfo;
mod time;
mod timer;

pub use assembler::{AddOutcome, Assembler, TooManyRanges};
pub use buffer::RingBuffer;
pub use config::{BufferSizes, CcName, ConfigError, TcpConfig};
pub use conn::{
    ChronoStats, Conn, ConnError, ConnInfo, ConnSpare, ConnStats, DropReason, Event, FourTuple,
    IcmpError, RELEASE_AFTER, RecvError, RetransmitReason, SendError, TimeWait, TimeWaitInput,
};
pub use core::time::Duration;
pub use ecn::Ecn;
pub use isn::{IsnGenerator, KeyedHash};
pub use rtt::RttEstimator;
pub use state::TcpState;
pub use time::Instant;
pub use timer::{TimerKind, TimerTable};
