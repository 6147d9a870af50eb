//! Segment scripts: packetdrill-like lines describing segments in and out at virtual times.
//! The segment-level tests of the engine are written in it, and so can a user's
//! deterministic tests.
//!
//! ```text
//! 0     < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
//! +0    > S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val * ecr 100,nop,wscale *>
//! +0.1  < . 1:1(0) ack 1 win 512
//! +0    < P. 1:1001(1000) ack 1 win 512
//! +0.04 > . 1:1(0) ack 1001 win *
//! ```
//!
//! A line is a time, a direction and a segment. The time is absolute seconds (`0.250`) or
//! relative to the previous line (`+0.04`). `<` is a segment the peer sends us, `>` one we must
//! send. Flags are packetdrill's letters: `S` SYN, `F` FIN, `R` RST, `P` PSH, `.` ACK (written
//! last), `U` URG, `E` ECE, `W` CWR. Before the flags, packetdrill's `[noecn]`, `[ect0]`,
//! `[ect1]` or `[ce]` gives the IP header's ECN codepoint (RFC 3168 §5): the one a `<`
//! segment arrives with (Not-ECT without it), the one a `>` segment must carry (not checked
//! without it). Sequence numbers are relative: on `<` lines to the peer's
//! initial sequence number, on `>` lines to ours; `ack` the other way round. `start:end(len)`
//! gives the sequence range. Options go between `<` and `>`: `mss N`, `wscale N`, `sackOK`,
//! `TS val V ecr E`, `sack L:R L:R ...`, `FO` (cookie request), `FO HEX` (cookie), `FOEXP`
//! and `FOEXP HEX` (the same in the experimental encoding, kind 254), `nop`, `eol`. On `>`
//! lines `*` matches any value (`win *`, `TS val * ecr 7`), and an absent `win`
//! or absent option list is not checked.
//!
//! Parsing never panics; an error names the line and what is wrong.

use core::fmt;
use core::time::Duration;

use ustack_wire::{FastOpenCookie, SackBlock, SeqNum, TcpFlags, TcpOptions, TcpRepr, Timestamps};

use crate::Ecn;

/// When a line happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Seconds since the script's start.
    At(Duration),
    /// Seconds after the previous line.
    After(Duration),
}

/// Which way a segment goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The peer sends it to us (`<`).
    In,
    /// We must send it (`>`).
    Out,
}

/// A value a `>` line may leave open with `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field<T> {
    /// Must equal this.
    Is(T),
    /// Anything (`*`).
    Any,
}

impl<T: PartialEq> Field<T> {
    /// Whether `actual` matches.
    pub fn matches(&self, actual: &T) -> bool {
        match self {
            Field::Is(v) => v == actual,
            Field::Any => true,
        }
    }

    fn value(&self) -> Option<&T> {
        match self {
            Field::Is(v) => Some(v),
            Field::Any => None,
        }
    }
}

/// One TCP option as a script writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionSpec {
    /// `mss N`.
    Mss(Field<u16>),
    /// `wscale N`.
    WindowScale(Field<u8>),
    /// `sackOK`.
    SackPermitted,
    /// `TS val V ecr E`.
    Timestamps {
        /// TSval.
        val: Field<u32>,
        /// TSecr.
        ecr: Field<u32>,
    },
    /// `sack L:R ...`, relative to the receiver's view (the sender of the SACK acknowledges
    /// the other side's data, so the numbers are relative to the other side's ISN).
    Sack([(u32, u32); 4], usize),
    /// `FO` or `FO hexbytes`, `FOEXP` or `FOEXP hexbytes`.
    FastOpen(FastOpenCookie),
    /// `nop` (kept for readability; not compared).
    Nop,
    /// `eol` (kept for readability; not compared).
    Eol,
}

/// A segment line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSpec {
    /// In or out.
    pub direction: Direction,
    /// The flags, exactly.
    pub flags: TcpFlags,
    /// Relative start sequence number.
    pub seq: u32,
    /// Payload length.
    pub len: u32,
    /// Relative acknowledgment number, when the line has `ack N`.
    pub ack: Option<u32>,
    /// The window field (unscaled, as on the wire), when the line has `win`.
    pub window: Option<Field<u16>>,
    /// The options, when the line has a `<...>` list.
    pub options: Option<([Option<OptionSpec>; 8], usize)>,
    /// The IP header's ECN codepoint, when the line has `[noecn]`, `[ect0]`, `[ect1]` or
    /// `[ce]`.
    pub ecn: Option<Ecn>,
}

/// A parsed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Its 1-based number in the script.
    pub number: usize,
    /// When.
    pub when: When,
    /// The segment.
    pub segment: SegmentSpec,
}

/// Why a line does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    /// The 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: &'static str,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "script line {}: {}", self.line, self.message)
    }
}

impl core::error::Error for ScriptError {}

/// Sequence bases: the two initial sequence numbers that relative numbers count from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqBase {
    /// Our initial send sequence number.
    pub local_iss: SeqNum,
    /// The peer's initial sequence number.
    pub remote_iss: SeqNum,
}

/// Parses a whole script: one segment per non-empty line; `#` starts a comment.
pub fn parse(script: &str) -> impl Iterator<Item = Result<Line, ScriptError>> + '_ {
    script.lines().enumerate().filter_map(|(i, raw)| {
        let text = raw.split('#').next().unwrap_or("").trim();
        (!text.is_empty()).then(|| parse_line(i + 1, text))
    })
}

fn err<T>(line: usize, message: &'static str) -> Result<T, ScriptError> {
    Err(ScriptError { line, message })
}

fn parse_secs(s: &str) -> Option<Duration> {
    let secs: f64 = s.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

fn field<T: core::str::FromStr>(s: &str) -> Option<Field<T>> {
    if s == "*" { Some(Field::Any) } else { s.parse().ok().map(Field::Is) }
}

/// Parses one line (without comment).
pub fn parse_line(number: usize, text: &str) -> Result<Line, ScriptError> {
    // Split the option list off first: it may contain spaces. It is the `<...>` after the
    // direction word (which may itself be `<`).
    let (head, opts) = split_options(text);
    let mut words = head.split_whitespace();
    let time = words.next().ok_or(ScriptError { line: number, message: "empty line" })?;
    let when = match time.strip_prefix('+') {
        Some(rel) => When::After(
            parse_secs(rel).ok_or(ScriptError { line: number, message: "bad relative time" })?,
        ),
        None => {
            When::At(parse_secs(time).ok_or(ScriptError { line: number, message: "bad time" })?)
        }
    };
    let direction = match words.next() {
        Some("<") => Direction::In,
        Some(">") => Direction::Out,
        _ => return err(number, "expected < or > after the time"),
    };
    let mut flags_word =
        words.next().ok_or(ScriptError { line: number, message: "missing flags" })?;
    let mut ecn = None;
    if flags_word.starts_with('[') {
        ecn = Some(match flags_word {
            "[noecn]" => Ecn::NotEct,
            "[ect0]" => Ecn::Ect0,
            "[ect1]" => Ecn::Ect1,
            "[ce]" => Ecn::Ce,
            _ => return err(number, "unknown ECN codepoint (use [noecn] [ect0] [ect1] [ce])"),
        });
        flags_word = words.next().ok_or(ScriptError { line: number, message: "missing flags" })?;
    }
    let mut flags = TcpFlags::default();
    for c in flags_word.chars() {
        flags |= match c {
            'S' => TcpFlags::SYN,
            'F' => TcpFlags::FIN,
            'R' => TcpFlags::RST,
            'P' => TcpFlags::PSH,
            '.' => TcpFlags::ACK,
            'U' => TcpFlags::URG,
            'E' => TcpFlags::ECE,
            'W' => TcpFlags::CWR,
            _ => return err(number, "unknown flag letter (use S F R P . U E W)"),
        };
    }
    let range =
        words.next().ok_or(ScriptError { line: number, message: "missing start:end(len)" })?;
    let (seq, len) =
        parse_range(range).ok_or(ScriptError { line: number, message: "bad start:end(len)" })?;
    let mut spec =
        SegmentSpec { direction, flags, seq, len, ack: None, window: None, options: None, ecn };
    while let Some(word) = words.next() {
        let value = words
            .next()
            .ok_or(ScriptError { line: number, message: "a keyword without its value" })?;
        match word {
            "ack" => {
                spec.ack = Some(
                    value.parse().map_err(|_| ScriptError { line: number, message: "bad ack" })?,
                )
            }
            "win" => {
                let f = field(value).ok_or(ScriptError { line: number, message: "bad win" })?;
                if direction == Direction::In && f == Field::Any {
                    return err(number, "`*` only on > lines");
                }
                spec.window = Some(f);
            }
            _ => return err(number, "unknown keyword (expected ack or win)"),
        }
    }
    if let Some(opts) = opts {
        spec.options = Some(parse_options(number, opts, direction)?);
    }
    if spec.flags.contains(TcpFlags::ACK) != spec.ack.is_some() && direction == Direction::In {
        return err(number, "an ACK segment needs `ack N`, and only an ACK segment may have it");
    }
    Ok(Line { number, when, segment: spec })
}

fn split_options(text: &str) -> (&str, Option<&str>) {
    // Skip the time word and the direction word.
    let after_time = text.find(char::is_whitespace).unwrap_or(text.len());
    let rest = text[after_time..].trim_start();
    let dir_end = text.len() - rest.len() + rest.find(char::is_whitespace).unwrap_or(rest.len());
    match text[dir_end..].find('<') {
        Some(i) => {
            let open = dir_end + i;
            let inner = &text[open + 1..];
            let inner = inner.strip_suffix('>').unwrap_or(inner);
            (text[..open].trim_end(), Some(inner))
        }
        None => (text, None),
    }
}

fn parse_range(s: &str) -> Option<(u32, u32)> {
    let (start, rest) = s.split_once(':')?;
    let (end, len) = rest.strip_suffix(')')?.split_once('(')?;
    let (start, end, len): (u32, u32, u32) =
        (start.parse().ok()?, end.parse().ok()?, len.parse().ok()?);
    (end.wrapping_sub(start) == len).then_some((start, len))
}

fn parse_options(
    number: usize,
    text: &str,
    direction: Direction,
) -> Result<([Option<OptionSpec>; 8], usize), ScriptError> {
    let mut out: [Option<OptionSpec>; 8] = Default::default();
    let mut n = 0;
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let words: Vec<&str> = item.split_whitespace().collect();
        let bad = ScriptError { line: number, message: "bad option" };
        let opt = match words.as_slice() {
            ["mss", v] => OptionSpec::Mss(field(v).ok_or(bad.clone())?),
            ["wscale", v] => OptionSpec::WindowScale(field(v).ok_or(bad.clone())?),
            ["sackOK"] => OptionSpec::SackPermitted,
            ["TS", "val", v, "ecr", e] => OptionSpec::Timestamps {
                val: field(v).ok_or(bad.clone())?,
                ecr: field(e).ok_or(bad.clone())?,
            },
            ["sack", blocks @ ..] if !blocks.is_empty() && blocks.len() <= 4 => {
                let mut list = [(0u32, 0u32); 4];
                for (slot, b) in list.iter_mut().zip(blocks) {
                    let (l, r) = b.split_once(':').ok_or(bad.clone())?;
                    *slot =
                        (l.parse().map_err(|_| bad.clone())?, r.parse().map_err(|_| bad.clone())?);
                }
                OptionSpec::Sack(list, blocks.len())
            }
            ["FO"] => OptionSpec::FastOpen(FastOpenCookie::request()),
            ["FOEXP"] => OptionSpec::FastOpen(FastOpenCookie::request().with_experimental(true)),
            [kind @ ("FO" | "FOEXP"), hex] => {
                let mut bytes = [0u8; 16];
                let digits = hex.as_bytes();
                if digits.len() % 2 != 0 || digits.len() > 32 {
                    return err(number, "FO cookie: an even number of hex digits, at most 32");
                }
                for (i, pair) in digits.chunks(2).enumerate() {
                    let s = core::str::from_utf8(pair).map_err(|_| bad.clone())?;
                    bytes[i] = u8::from_str_radix(s, 16).map_err(|_| bad.clone())?;
                }
                let cookie =
                    FastOpenCookie::new(&bytes[..digits.len() / 2]).ok_or(ScriptError {
                        line: number,
                        message: "FO cookie: 4 to 16 bytes, even",
                    })?;
                OptionSpec::FastOpen(cookie.with_experimental(*kind == "FOEXP"))
            }
            ["nop"] => OptionSpec::Nop,
            ["eol"] => OptionSpec::Eol,
            _ => return Err(bad),
        };
        if direction == Direction::In && has_wildcard(&opt) {
            return err(number, "`*` only on > lines");
        }
        if n == out.len() {
            return err(number, "more than 8 options");
        }
        out[n] = Some(opt);
        n += 1;
    }
    Ok((out, n))
}

fn has_wildcard(opt: &OptionSpec) -> bool {
    match opt {
        OptionSpec::Mss(f) => *f == Field::Any,
        OptionSpec::WindowScale(f) => *f == Field::Any,
        OptionSpec::Timestamps { val, ecr } => *val == Field::Any || *ecr == Field::Any,
        _ => false,
    }
}

impl SegmentSpec {
    /// Builds the segment a `<` line describes, with absolute numbers. `payload` supplies the
    /// data bytes (at least `len` of them; a script gives only the length, the harness picks
    /// the bytes). Ports are the caller's.
    pub fn to_repr<'a>(&self, base: SeqBase, ports: (u16, u16), payload: &'a [u8]) -> TcpRepr<'a> {
        let mut options = TcpOptions::default();
        for opt in self.options.iter().flat_map(|(o, n)| o[..*n].iter().flatten()) {
            match opt {
                OptionSpec::Mss(f) => options.mss = f.value().copied(),
                OptionSpec::WindowScale(f) => options.window_scale = f.value().copied(),
                OptionSpec::SackPermitted => options.sack_permitted = true,
                OptionSpec::Timestamps { val, ecr } => {
                    options.timestamps = Some(Timestamps {
                        tsval: val.value().copied().unwrap_or(0),
                        tsecr: ecr.value().copied().unwrap_or(0),
                    })
                }
                OptionSpec::Sack(blocks, n) => {
                    for &(l, r) in &blocks[..*n] {
                        let _ = options.sack_blocks.push(SackBlock {
                            left: base.local_iss + l,
                            right: base.local_iss + r,
                        });
                    }
                }
                OptionSpec::FastOpen(c) => options.fast_open = Some(*c),
                OptionSpec::Nop | OptionSpec::Eol => {}
            }
        }
        let len = (self.len as usize).min(payload.len());
        TcpRepr {
            src_port: ports.0,
            dst_port: ports.1,
            seq: base.remote_iss + self.seq,
            ack: self.ack.map_or(SeqNum(0), |a| base.local_iss + a),
            flags: self.flags,
            window: self.window.and_then(|w| w.value().copied()).unwrap_or(65_535),
            urgent: 0,
            options,
            payload: &payload[..len],
        }
    }

    /// Checks the ECN codepoint of a segment we sent against a `>` line (anything matches a
    /// line without one).
    pub fn check_ecn(&self, actual: Ecn) -> Result<(), Mismatch> {
        match self.ecn {
            Some(want) if want != actual => Err(Mismatch::Ecn),
            _ => Ok(()),
        }
    }

    /// Checks a segment we sent against a `>` line. `Err` says the first field that differs.
    pub fn check(&self, base: SeqBase, actual: &TcpRepr<'_>) -> Result<(), Mismatch> {
        if actual.flags != self.flags {
            return Err(Mismatch::Flags);
        }
        if actual.seq != base.local_iss + self.seq {
            return Err(Mismatch::Seq);
        }
        if actual.payload.len() != self.len as usize {
            return Err(Mismatch::Len);
        }
        if let Some(ack) = self.ack
            && actual.ack != base.remote_iss + ack
        {
            return Err(Mismatch::Ack);
        }
        if let Some(w) = self.window
            && !w.matches(&actual.window)
        {
            return Err(Mismatch::Window);
        }
        if let Some((opts, n)) = &self.options {
            check_options(&opts[..*n], base, &actual.options)?;
        }
        Ok(())
    }
}

fn check_options(
    expected: &[Option<OptionSpec>],
    base: SeqBase,
    actual: &TcpOptions,
) -> Result<(), Mismatch> {
    let mut want = TcpOptions::default();
    let (mut mss_any, mut ws_any, mut tsval_any, mut tsecr_any) = (false, false, false, false);
    for opt in expected.iter().flatten() {
        match opt {
            OptionSpec::Mss(f) => {
                want.mss = Some(f.value().copied().unwrap_or(0));
                mss_any = *f == Field::Any;
            }
            OptionSpec::WindowScale(f) => {
                want.window_scale = Some(f.value().copied().unwrap_or(0));
                ws_any = *f == Field::Any;
            }
            OptionSpec::SackPermitted => want.sack_permitted = true,
            OptionSpec::Timestamps { val, ecr } => {
                want.timestamps = Some(Timestamps {
                    tsval: val.value().copied().unwrap_or(0),
                    tsecr: ecr.value().copied().unwrap_or(0),
                });
                tsval_any = *val == Field::Any;
                tsecr_any = *ecr == Field::Any;
            }
            OptionSpec::Sack(blocks, n) => {
                for &(l, r) in &blocks[..*n] {
                    let _ = want
                        .sack_blocks
                        .push(SackBlock { left: base.remote_iss + l, right: base.remote_iss + r });
                }
            }
            OptionSpec::FastOpen(c) => want.fast_open = Some(*c),
            OptionSpec::Nop | OptionSpec::Eol => {}
        }
    }
    let mut got = *actual;
    if mss_any && got.mss.is_some() {
        got.mss = want.mss;
    }
    if ws_any && got.window_scale.is_some() {
        got.window_scale = want.window_scale;
    }
    if let (Some(g), Some(w)) = (got.timestamps.as_mut(), want.timestamps) {
        if tsval_any {
            g.tsval = w.tsval;
        }
        if tsecr_any {
            g.tsecr = w.tsecr;
        }
    }
    if got == want { Ok(()) } else { Err(Mismatch::Options) }
}

/// The first field of a sent segment that differs from its `>` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// Flags.
    Flags,
    /// Sequence number.
    Seq,
    /// Payload length.
    Len,
    /// Acknowledgment number.
    Ack,
    /// Window field.
    Window,
    /// Options.
    Options,
    /// The IP header's ECN codepoint.
    Ecn,
}

#[cfg(test)]
#[path = "script_tests.rs"]
mod tests;
