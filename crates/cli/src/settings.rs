//! Stack settings by their Linux sysctl names, for `ustack tun` and `ustack sim`:
//! `--config FILE` (a TOML file such as `ustack.toml`) and `--sysctl NAME=VALUE`
//! (repeatable), applied in that order, each through `NetConfig::set`.
//!
//! In the file, a dotted key is a sysctl name (TOML reads `net.ipv4.tcp_sack = 0` as nested
//! tables, which are joined back with dots), so any of these set the same thing:
//!
//! ```toml
//! net.ipv4.tcp_sack = 0
//! net.ipv4.tcp_rmem = [4096, 131072, 6291456]   # or "4096 131072 6291456"
//! net.ipv4.tcp_congestion_control = "reno"
//!
//! [net.core]
//! somaxconn = 1024
//! ```
//!
//! Integers and strings are taken as written, booleans as 1 and 0, arrays joined with
//! spaces. An unknown name or a bad value stops the command with the reason.

use std::path::{Path, PathBuf};

use ustack::NetConfig;
use ustack::core::StackConfig;
use ustack::core::tcp_engine::TcpConfig;

/// The `--config` and `--sysctl` options.
#[derive(clap::Args, Clone, Debug, Default)]
pub(crate) struct SettingsArgs {
    /// A TOML file of stack settings by their Linux sysctl names (e.g. ustack.toml with
    /// `net.ipv4.tcp_sack = 0`), applied before any --sysctl.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// A stack setting by its Linux sysctl name, e.g. --sysctl net.ipv4.tcp_rmem='4096
    /// 131072 6291456' or --sysctl net.ipv4.tcp_congestion_control=reno; repeatable.
    #[arg(long = "sysctl", value_name = "NAME=VALUE")]
    sysctl: Vec<String>,
}

impl SettingsArgs {
    /// Applies the file, then each --sysctl, to `cfg`.
    pub(crate) fn apply(&self, cfg: &mut NetConfig) -> Result<(), String> {
        if let Some(path) = &self.config {
            for (name, value) in read_file(path)? {
                cfg.set(&name, &value).map_err(|e| format!("--config {}: {e}", path.display()))?;
            }
        }
        for arg in &self.sysctl {
            let (name, value) = arg.split_once('=').ok_or_else(|| {
                format!("--sysctl {arg:?}: expected NAME=VALUE, e.g. net.ipv4.tcp_sack=0")
            })?;
            cfg.set(name.trim(), value).map_err(|e| format!("--sysctl: {e}"))?;
        }
        Ok(())
    }

    /// Applies the settings to the TCP settings `tcp` of a simulation, refusing any that is
    /// not a TCP one (the simulator's hosts take only those).
    pub(crate) fn apply_tcp(&self, tcp: &mut TcpConfig) -> Result<(), String> {
        let mut cfg = NetConfig::new("10.0.0.1/24".parse().expect("a valid CIDR"));
        cfg.stack = StackConfig { tcp: *tcp, ..StackConfig::new([0; 16]) };
        let before = cfg.stack;
        self.apply(&mut cfg)?;
        if (StackConfig { tcp: before.tcp, ..cfg.stack }) != before {
            return Err(
                "only TCP settings (net.ipv4.tcp_*) apply to `ustack sim`: its hosts have no \
                 other stack settings"
                    .to_string(),
            );
        }
        *tcp = cfg.stack.tcp;
        Ok(())
    }
}

/// The settings in a TOML file, as (dotted name, value) in the file's order.
fn read_file(path: &Path) -> Result<Vec<(String, String)>, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("--config {shown}: {e}"))?;
    let table: toml::Table =
        text.parse().map_err(|e| format!("--config {shown}: not valid TOML: {e}"))?;
    let mut out = Vec::new();
    flatten("", &table, &mut out).map_err(|e| format!("--config {shown}: {e}"))?;
    Ok(out)
}

fn flatten(
    prefix: &str,
    table: &toml::Table,
    out: &mut Vec<(String, String)>,
) -> Result<(), String> {
    for (key, value) in table {
        let name = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            toml::Value::Table(t) => flatten(&name, t, out)?,
            v => out.push((name.clone(), scalar(&name, v)?)),
        }
    }
    Ok(())
}

fn scalar(name: &str, v: &toml::Value) -> Result<String, String> {
    Ok(match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Boolean(b) => u8::from(*b).to_string(),
        toml::Value::Array(items) => {
            let parts: Result<Vec<String>, String> =
                items.iter().map(|i| scalar(name, i)).collect();
            parts?.join(" ")
        }
        other => {
            return Err(format!(
                "{name}: a {} is not a sysctl value (write an integer, a string or an array)",
                other.type_str()
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(config: Option<&Path>, sysctl: &[&str]) -> SettingsArgs {
        SettingsArgs {
            config: config.map(Path::to_path_buf),
            sysctl: sysctl.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn net() -> NetConfig {
        NetConfig::new("10.0.0.2/24".parse().unwrap())
    }

    #[test]
    fn a_toml_file_and_sysctl_flags_set_settings_by_their_linux_names() {
        let dir = std::env::temp_dir().join(format!("ustack-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ustack.toml");
        std::fs::write(
            &file,
            "net.ipv4.tcp_sack = false\nnet.ipv4.tcp_rmem = [4096, 65536, 1048576]\n\
             net.ipv4.tcp_congestion_control = \"reno\"\n[net.core]\nsomaxconn = 1024\n",
        )
        .unwrap();
        let mut cfg = net();
        args(Some(&file), &["net.core.somaxconn=64", "net.ipv4.tcp_wmem = 4096 16384 65536"])
            .apply(&mut cfg)
            .unwrap();
        assert!(!cfg.stack.tcp.sack);
        assert_eq!(cfg.get("net.ipv4.tcp_rmem").unwrap(), "4096\t65536\t1048576");
        assert_eq!(cfg.get("net.ipv4.tcp_congestion_control").unwrap(), "reno");
        assert_eq!(cfg.stack.somaxconn, 64, "--sysctl comes after the file");
        assert_eq!(cfg.stack.tcp.wmem.max, 65_536);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unknown_names_and_bad_values_are_refused_with_the_reason() {
        let mut cfg = net();
        let e = args(None, &["net.ipv4.tcp_sak=1"]).apply(&mut cfg).unwrap_err();
        assert_eq!(
            e,
            "--sysctl: net.ipv4.tcp_sak: no such setting (did you mean net.ipv4.tcp_sack?)"
        );
        let e = args(None, &["net.ipv4.tcp_sack=2"]).apply(&mut cfg).unwrap_err();
        assert!(e.contains("invalid value: 2 is not 0 or 1"), "{e}");
        let e = args(None, &["net.ipv4.tcp_sack"]).apply(&mut cfg).unwrap_err();
        assert!(e.contains("expected NAME=VALUE"), "{e}");
        let e = args(None, &["net.ipv4.tcp_ecn=3"]).apply(&mut cfg).unwrap_err();
        assert!(e.contains("not implemented in ustack"), "{e}");
        let e = args(Some(Path::new("/nonexistent/ustack.toml")), &[]).apply(&mut cfg).unwrap_err();
        assert!(e.starts_with("--config /nonexistent/ustack.toml: "), "{e}");
        assert_eq!(cfg.stack, StackConfig { secret: cfg.stack.secret, ..net().stack }, "unchanged");
    }

    #[test]
    fn the_simulator_takes_only_tcp_settings() {
        let mut tcp = TcpConfig::LINUX;
        args(None, &["net.ipv4.tcp_timestamps=0"]).apply_tcp(&mut tcp).unwrap();
        assert!(!tcp.timestamps);
        let e = args(None, &["net.core.somaxconn=8"]).apply_tcp(&mut tcp).unwrap_err();
        assert!(e.contains("only TCP settings"), "{e}");
    }
}
