//! Settings by their Linux sysctl names: [`NetConfig::set`] and [`NetConfig::get`], on top
//! of the mapping in [`ustack_core::sysctl`].

use std::fmt;

use ustack_core::sysctl::{self, SysctlError};

use super::NetConfig;

/// A setting [`NetConfig::set`] or [`NetConfig::get`] refused: the name, why, and for an
/// unknown name the closest known one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    /// The name as given.
    pub name: String,
    /// Why it was refused.
    pub error: SysctlError,
    /// For an unknown name, the known name closest to it.
    pub suggestion: Option<&'static str>,
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.error)?;
        match (&self.error, self.suggestion) {
            (SysctlError::Unknown, Some(s)) => write!(f, " (did you mean {s}?)"),
            (SysctlError::Unknown, None) => {
                f.write_str(" (the settings are listed in docs/api.md, \"Settings by name\")")
            }
            _ => Ok(()),
        }
    }
}

impl std::error::Error for SettingError {}

impl NetConfig {
    /// Sets the stack setting Linux names `name` (`net.ipv4.tcp_sack`, `net.ipv4.tcp_rmem`,
    /// `net.ipv4.tcp_congestion_control`, `net.core.somaxconn`, ...; dotted or as a path under
    /// `/proc/sys`) to `value`, written as Linux takes it (`1`, `4096 131072 6291456`,
    /// `cubic`). An unknown name, a value that does not parse or is out of range, and a value
    /// for behaviour ustack does not have are refused with the reason, and the configuration
    /// is left as it was.
    ///
    /// ```
    /// let mut cfg = ustack::NetConfig::new("10.0.0.2/24".parse().unwrap());
    /// cfg.set("net.ipv4.tcp_sack", "0").unwrap();
    /// assert!(!cfg.stack.tcp.sack);
    /// assert_eq!(cfg.get("net.ipv4.tcp_sack").unwrap(), "0");
    /// let err = cfg.set("net.ipv4.tcp_sak", "1").unwrap_err();
    /// assert_eq!(err.to_string(), "net.ipv4.tcp_sak: no such setting (did you mean net.ipv4.tcp_sack?)");
    /// ```
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), SettingError> {
        sysctl::set(&mut self.stack, name, value).map_err(|error| error_for(name, error))
    }

    /// The value of the setting Linux names `name`, formatted as Linux shows it.
    pub fn get(&self, name: &str) -> Result<String, SettingError> {
        sysctl::get(&self.stack, name).map_err(|error| error_for(name, error))
    }
}

fn error_for(name: &str, error: SysctlError) -> SettingError {
    let suggestion = matches!(error, SysctlError::Unknown).then(|| sysctl::suggest(name)).flatten();
    SettingError { name: name.to_string(), error, suggestion }
}
