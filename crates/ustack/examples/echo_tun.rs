//! An echo server (RFC 862) on ustack over a TUN device: the kernel side gets 10.77.0.1/24,
//! the stack 10.77.0.2. Needs CAP_NET_ADMIN: run it in a network namespace of your own, as
//! root or not (README, "Use it from Rust"):
//!
//! ```sh
//! unshare -Urn bash
//! cargo run -p ustack --example echo_tun &
//! exec 3<>/dev/tcp/10.77.0.2/7; echo hi >&3; head -1 <&3
//! ```

use std::io::{Read, Write};
use std::thread;

use ustack::device::{Tun, TunConfig};
use ustack::{NetConfig, NetStack, TcpListener};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut tun_config = TunConfig::new("ustk%d");
    tun_config.host_addr = Some("10.77.0.1/24".parse()?);
    let tun = Tun::create(&tun_config)?;
    let net = NetStack::spawn(tun, NetConfig::new("10.77.0.2/24".parse()?))?;
    let listener = TcpListener::bind(&net, "0.0.0.0:7")?;
    for stream in listener.incoming() {
        let mut s = stream?;
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 || s.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
    }
    Ok(())
}
