//! The ladder (sequence) diagram of a run, as SVG: the client's lifeline on the left, the
//! server's on the right, virtual time down the page; every packet an arrow from its
//! sending time on one lifeline to its arrival time on the other, labelled with its flags,
//! seq, ack, length, window and options; lost packets end in a cross half-way, corrupted ones
//! arrive crossed out, held-back ones are dashed; each host's state is the colour of its
//! lifeline and is named at every change; timer firings are marked with a diamond.
//!
//! Time runs down the page piecewise linearly ([`Axis`]): a stretch with nothing in it is
//! drawn in proportion to its length (at the scale that fits the run in the page, so the
//! doubling of a backoff shows as doubling distances), but never shorter than what was drawn
//! at its start needs, and a stretch longer than [`MAX_GAP`] pixels is cut short with a
//! marked break. The left margin prints the time of every row, so every position can be read
//! back as a time.

use core::fmt::Write as _;
use std::collections::BTreeMap;

use ustack_core::tcp_engine::TcpState;
use ustack_core::{Duration, Instant};

use crate::registry::Run;
use crate::trace::{Fate, Item, Note, NoteRecord, Packet, Side};

/// Page width.
pub const WIDTH: f64 = 1320.0;
/// The client's lifeline.
pub const CLIENT_X: f64 = 500.0;
/// The server's lifeline.
pub const SERVER_X: f64 = 900.0;
/// Where the first row is.
pub const TOP: f64 = 110.0;
/// The longest a stretch of nothing is drawn; longer ones get a break mark.
pub const MAX_GAP: f64 = 160.0;
/// The least page height the time scale aims for; a run with much to draw aims for half as
/// much again as its rows need, so that time shows without drowning the rows in space.
const MIN_TARGET: f64 = 1000.0;
/// Height of one note line.
const LINE: f64 = 13.0;
/// Height of one sent packet's start within a row.
const SEND_ROW: f64 = 30.0;
/// Space below every row.
const PAD: f64 = 8.0;

/// The x of a side's lifeline.
pub const fn lifeline_x(side: Side) -> f64 {
    match side {
        Side::Client => CLIENT_X,
        Side::Server => SERVER_X,
    }
}

/// The time axis: knots (time, y) joined by straight lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// One knot per distinct time drawn, in order.
    pub knots: Vec<(Instant, f64)>,
    /// Pixels per second for stretches drawn in proportion.
    pub px_per_sec: f64,
    /// Stretches cut short: the y of the break mark and the time it stands for.
    pub breaks: Vec<(f64, Duration)>,
}

impl Axis {
    /// The y of time `t`: exact at a knot, interpolated between knots, extended past the
    /// last at the axis' scale.
    pub fn y(&self, t: Instant) -> f64 {
        let Some(&(t0, y0)) = self.knots.first() else { return TOP };
        if t <= t0 {
            return y0;
        }
        for w in self.knots.windows(2) {
            let ((ta, ya), (tb, yb)) = (w[0], w[1]);
            if t <= tb {
                let span = (tb - ta).as_secs_f64();
                if span == 0.0 {
                    return ya;
                }
                return ya + (yb - ya) * (t - ta).as_secs_f64() / span;
            }
        }
        let &(tl, yl) = self.knots.last().expect("not empty");
        yl + (t - tl).as_secs_f64() * self.px_per_sec
    }
}

/// Where everything goes.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The time axis.
    pub axis: Axis,
    /// The y where each drawn packet starts (its sending row), by packet id.
    pub sent_y: BTreeMap<usize, f64>,
    /// The y of each drawn note, by note index.
    pub note_y: BTreeMap<usize, f64>,
    /// The bottom of the last row.
    pub bottom: f64,
    /// Packets left out (after the ladder's end).
    pub omitted: usize,
}

/// What one row (one distinct time) holds.
#[derive(Debug, Default, Clone)]
struct Row {
    sends: Vec<usize>,
    notes: [Vec<usize>; 2],
}

impl Row {
    fn need(&self) -> f64 {
        let sends = self.sends.len() as f64 * SEND_ROW;
        let notes = self.notes.iter().map(|n| n.len()).max().unwrap_or(0) as f64 * LINE;
        sends.max(notes)
    }
}

/// Whether a note is drawn for this run.
fn drawn(run: &Run, n: &NoteRecord) -> bool {
    !run.quiet.contains(&n.note.kind())
}

/// Lays out `run`'s trace.
pub fn layout(run: &Run) -> Layout {
    let trace = &run.trace;
    let until = run.ladder_until.unwrap_or(Instant::from_nanos(u64::MAX));
    let from = run.ladder_from.unwrap_or(Instant::ZERO);
    let shown = |t: Instant| t >= from && t <= until;
    let mut rows: BTreeMap<Instant, Row> = BTreeMap::new();
    let mut omitted = 0;
    for item in &trace.items {
        match *item {
            Item::Sent(id) => {
                let p = trace.packet(id);
                if !shown(p.sent_at) {
                    omitted += 1;
                    continue;
                }
                rows.entry(p.sent_at).or_default().sends.push(id);
            }
            Item::Arrived(id, at) => {
                if shown(trace.packet(id).sent_at) {
                    rows.entry(at).or_default();
                }
            }
            Item::Note(n) => {
                let r = &trace.notes[n];
                if shown(r.at) && drawn(run, r) {
                    rows.entry(r.at).or_default().notes[r.side.index()].push(n);
                }
            }
        }
    }
    let times: Vec<Instant> = rows.keys().copied().collect();
    let needs: Vec<f64> = rows.values().map(|r| r.need() + PAD).collect();
    // The scale: the largest that keeps the page near its target height.
    let cap = if run.no_breaks { f64::INFINITY } else { MAX_GAP };
    let height = |p: f64| -> f64 {
        times
            .windows(2)
            .zip(&needs)
            .map(|(w, need)| need.max(((w[1] - w[0]).as_secs_f64() * p).min(cap)))
            .sum()
    };
    let target = MIN_TARGET.max(1.5 * needs.iter().sum::<f64>());
    let (mut lo, mut hi) = (1e-3f64, 1e7f64);
    for _ in 0..60 {
        let mid = (lo * hi).sqrt();
        if height(mid) <= target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let p = lo;
    let mut knots = Vec::with_capacity(times.len());
    let mut breaks = Vec::new();
    let mut y = TOP;
    for (i, t) in times.iter().enumerate() {
        if i > 0 {
            let gap = (*t - times[i - 1]).as_secs_f64() * p;
            let need = needs[i - 1];
            if gap > cap && gap > need {
                breaks.push((y + MAX_GAP / 2.0 + need / 2.0, *t - times[i - 1]));
                y += MAX_GAP.max(need);
            } else {
                y += need.max(gap);
            }
        }
        knots.push((*t, y));
    }
    let bottom = y + needs.last().copied().unwrap_or(0.0);
    let mut sent_y = BTreeMap::new();
    let mut note_y = BTreeMap::new();
    for ((_, row), (_, ky)) in rows.iter().zip(&knots) {
        for (j, id) in row.sends.iter().enumerate() {
            sent_y.insert(*id, ky + j as f64 * SEND_ROW);
        }
        for side in Side::BOTH {
            for (j, n) in row.notes[side.index()].iter().enumerate() {
                note_y.insert(*n, ky + j as f64 * LINE);
            }
        }
    }
    Layout { axis: Axis { knots, px_per_sec: p, breaks }, sent_y, note_y, bottom, omitted }
}

/// The colour of a state on a lifeline.
fn state_colour(s: TcpState) -> &'static str {
    match s {
        TcpState::Closed => "#bdbdbd",
        TcpState::Listen => "#90caf9",
        TcpState::SynSent | TcpState::SynReceived => "#ffcc80",
        TcpState::Established => "#81c784",
        TcpState::FinWait1 | TcpState::FinWait2 => "#ce93d8",
        TcpState::CloseWait => "#ef9a9a",
        TcpState::Closing | TcpState::LastAck => "#f48fb1",
        TcpState::TimeWait => "#80deea",
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Seconds for the time margin: as short as exact.
pub fn time_label(t: Instant) -> String {
    let n = t.as_nanos();
    let text = format!("{}.{:09}", n / 1_000_000_000, n % 1_000_000_000);
    let text = text.trim_end_matches('0');
    let text = text.strip_suffix('.').unwrap_or(text);
    format!("{text} s")
}

/// The colour and dash of a packet's arrow.
fn arrow_style(p: &Packet) -> (&'static str, &'static str, &'static str) {
    if p.injected.is_some() {
        return ("#616161", "6 3", "injected");
    }
    match p.fate {
        Fate::Delivered if p.lost() => ("#c62828", "5 4", "lost"),
        Fate::Delivered => ("#1565c0", "", "delivered"),
        Fate::Lost(_) => ("#c62828", "5 4", "lost"),
        Fate::Corrupted(_) => ("#ef6c00", "", "corrupted"),
        Fate::Delayed(..) => ("#6a1b9a", "8 4", "delayed"),
        Fate::Duplicate(_) => ("#00838f", "3 3", "duplicate"),
    }
}

/// The ladder of `run` as an SVG document.
pub fn render(run: &Run, id: &str, title: &str, verdict: &str) -> String {
    let trace = &run.trace;
    let lay = layout(run);
    let height = lay.bottom + 120.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" font-family="DejaVu Sans Mono, monospace" font-size="11" data-scenario="{id}">"#
    );
    let _ = writeln!(svg, "<title>{} — {}</title>", esc(id), esc(title));
    let knots: Vec<String> =
        lay.axis.knots.iter().map(|(t, y)| format!("{}:{y:.2}", t.as_nanos())).collect();
    let _ = writeln!(
        svg,
        r#"<metadata id="axis" data-px-per-sec="{:.6}">{}</metadata>"#,
        lay.axis.px_per_sec,
        knots.join(" ")
    );
    let _ = writeln!(
        svg,
        r##"<defs><marker id="head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker></defs>"##
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="16" y="26" font-size="16" font-weight="bold">{}</text>"#,
        esc(&format!("{id}: {title}"))
    );
    let _ = writeln!(svg, r#"<text x="16" y="46" font-size="12">{}</text>"#, esc(verdict));
    for side in Side::BOTH {
        let x = lifeline_x(side);
        let addr = crate::world::addr(side);
        let _ = writeln!(
            svg,
            r#"<text x="{x}" y="78" text-anchor="middle" font-size="14" font-weight="bold">{} {addr}</text>"#,
            side.name()
        );
    }
    let _ =
        writeln!(svg, r##"<text x="8" y="96" font-size="10" fill="#555">time (virtual)</text>"##);

    // Lifelines coloured by state: the state of each side's connections as notes tell it.
    for side in Side::BOTH {
        let x = lifeline_x(side);
        let _ = writeln!(
            svg,
            r##"<line x1="{x}" y1="{TOP}" x2="{x}" y2="{:.1}" stroke="#9e9e9e" stroke-width="2"/>"##,
            lay.bottom + 20.0
        );
        let conns: std::collections::BTreeSet<u16> = trace
            .notes_of(side)
            .filter(|n| matches!(n.note, Note::State { .. }))
            .filter_map(|n| n.conn.map(|c| c.0))
            .collect();
        let width = if conns.len() <= 1 { 10.0 } else { 6.0 };
        for (k, port) in conns.iter().enumerate() {
            let mut segs: Vec<(f64, TcpState)> = Vec::new();
            for (i, n) in trace.notes.iter().enumerate() {
                if n.side != side || n.conn.map(|c| c.0) != Some(*port) {
                    continue;
                }
                if let (Note::State { to, .. }, Some(y)) = (&n.note, lay.note_y.get(&i)) {
                    segs.push((*y, *to));
                }
                if let (Note::Released, Some(y)) = (&n.note, lay.note_y.get(&i)) {
                    segs.push((*y, TcpState::Closed));
                }
            }
            let dir = if side == Side::Client { -1.0 } else { 1.0 };
            let bx = x + dir * (k as f64 * (width + 1.0)) - width / 2.0;
            for (j, (y, state)) in segs.iter().enumerate() {
                if *state == TcpState::Closed {
                    continue;
                }
                let end = segs.get(j + 1).map_or(lay.bottom + 20.0, |s| s.0);
                let _ = writeln!(
                    svg,
                    r#"<rect class="state" x="{bx:.1}" y="{y:.1}" width="{width}" height="{:.1}" fill="{}" opacity="0.85"><title>{} :{port} {}</title></rect>"#,
                    (end - y).max(1.0),
                    state_colour(*state),
                    side.name(),
                    state.rfc_name()
                );
            }
        }
    }

    // The time margin and faint row lines.
    let mut last_label = -100.0;
    for (t, y) in &lay.axis.knots {
        let _ = writeln!(
            svg,
            r##"<line x1="70" y1="{y:.1}" x2="{:.0}" y2="{y:.1}" stroke="#f0f0f0"/>"##,
            WIDTH - 8.0
        );
        if y - last_label >= 11.0 {
            let _ = writeln!(
                svg,
                r##"<text class="tick" x="8" y="{:.1}" font-size="10" fill="#424242" data-t="{}">{}</text>"##,
                y + 3.5,
                t.as_nanos(),
                time_label(*t)
            );
            last_label = *y;
        }
    }
    for (y, d) in &lay.axis.breaks {
        let _ = writeln!(
            svg,
            r##"<g class="break"><path d="M60,{:.1} l40,-6 l40,12 l40,-6" fill="none" stroke="#757575"/><text x="190" y="{:.1}" font-size="10" fill="#757575">{} of nothing, shortened</text></g>"##,
            y,
            y + 4.0,
            time_label(Instant::ZERO + *d)
        );
    }

    // Notes beside the lifelines.
    for (i, n) in trace.notes.iter().enumerate() {
        let Some(y) = lay.note_y.get(&i) else { continue };
        let x = lifeline_x(n.side);
        let (tx, anchor) = match n.side {
            Side::Client => (x - 16.0, "end"),
            Side::Server => (x + 16.0, "start"),
        };
        let multi = trace
            .notes_of(n.side)
            .filter_map(|m| m.conn.map(|c| c.0))
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            > 1;
        let port = match (multi, n.conn) {
            (true, Some((l, _))) => format!(":{l} "),
            _ => String::new(),
        };
        let (colour, weight, text, class) = match &n.note {
            Note::State { to, .. } => ("#1b5e20", "bold", to.rfc_name().to_string(), "note state"),
            Note::Released => ("#757575", "normal", "socket released".to_string(), "note"),
            Note::Timer(k) => ("#e65100", "bold", format!("{k} timer fires"), "note timer"),
            Note::Error(e) => ("#b71c1c", "bold", e.clone(), "note error"),
            Note::Mark(m) => ("#e65100", "normal", format!("» {m}"), "note mark"),
            Note::App(a) => ("#0d47a1", "normal", a.clone(), "note app"),
            Note::Counter { .. } => ("#4e342e", "normal", n.note.to_string(), "note counter"),
            Note::Rtt { sample, rto, .. } => (
                "#424242",
                "normal",
                format!(
                    "rtt {:.1} ms, rto {:.0} ms",
                    sample.as_secs_f64() * 1e3,
                    rto.as_secs_f64() * 1e3
                ),
                "note",
            ),
            Note::Cwnd { cwnd, ssthresh } => (
                "#424242",
                "normal",
                if *ssthresh == u32::MAX {
                    format!("cwnd {cwnd}, ssthresh ∞")
                } else {
                    format!("cwnd {cwnd}, ssthresh {ssthresh}")
                },
                "note",
            ),
            _ => ("#424242", "normal", n.note.to_string(), "note"),
        };
        if let Note::Timer(_) = n.note {
            let _ = writeln!(
                svg,
                r##"<path class="timer-mark" d="M{x},{:.1} l6,6 l-6,6 l-6,-6 z" fill="#ff6d00"/>"##,
                y - 9.0
            );
        }
        let _ = writeln!(
            svg,
            r#"<text class="{class}" x="{tx}" y="{:.1}" text-anchor="{anchor}" fill="{colour}" font-weight="{weight}" font-size="10.5" data-t="{}">{}</text>"#,
            y + 4.0,
            n.at.as_nanos(),
            esc(&format!("{port}{text}"))
        );
    }

    // Packets.
    let half = (SERVER_X - CLIENT_X) / 2.0;
    for p in &trace.packets {
        let Some(&y1) = lay.sent_y.get(&p.id) else { continue };
        let (colour, dash, kind) = arrow_style(p);
        let (x1, dir) = match p.from {
            Side::Client => (CLIENT_X, 1.0),
            Side::Server => (SERVER_X, -1.0),
        };
        let dash_attr =
            if dash.is_empty() { String::new() } else { format!(r#" stroke-dasharray="{dash}""#) };
        let arrived = p.arrived_at();
        let (x2, y2) = match arrived {
            Some(at) => (x1 + dir * 2.0 * half, lay.axis.y(at)),
            None => (x1 + dir * half, y1 + 16.0),
        };
        let _ = write!(
            svg,
            r#"<g class="pkt {kind}" data-id="{}" data-from="{}" data-sent="{}""#,
            p.id,
            p.from.name(),
            p.sent_at.as_nanos()
        );
        if let Some(at) = arrived {
            let _ = write!(svg, r#" data-arrived="{}""#, at.as_nanos());
        }
        let _ = writeln!(svg, ">");
        let label =
            p.segment.as_ref().map_or_else(|| format!("{} bytes", p.bytes.len()), |s| s.label());
        let options = p.tcp().map(|t| t.options_label()).unwrap_or_default();
        let fate = match &p.fate {
            Fate::Delivered if p.lost() && p.injected.is_none() => "lost in the link".to_string(),
            Fate::Delivered => {
                p.injected.clone().map(|w| format!("injected: {w}")).unwrap_or_default()
            }
            Fate::Lost(w) => format!("lost: {w}"),
            Fate::Corrupted(w) => format!("corrupted: {w}"),
            Fate::Delayed(d, w) => format!("held {:.0} ms: {w}", d.as_secs_f64() * 1e3),
            Fate::Duplicate(w) => format!("duplicate: {w}"),
        };
        let _ = writeln!(
            svg,
            r#"<title>#{} {}&#10;{}&#10;sent {}{}</title>"#,
            p.id,
            esc(&p.segment.as_ref().map_or_else(String::new, ToString::to_string)),
            esc(&fate),
            time_label(p.sent_at),
            arrived.map_or_else(String::new, |a| format!(", arrived {}", time_label(a)))
        );
        let _ = writeln!(
            svg,
            r#"<line class="arrow" x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{colour}" stroke-width="1.6"{dash_attr} marker-end="url(#head)"/>"#
        );
        if arrived.is_none() {
            let _ = writeln!(
                svg,
                r#"<path class="cross" d="M{:.1},{:.1} l10,10 m0,-10 l-10,10" stroke="{colour}" stroke-width="2.5"/>"#,
                x2 - 5.0,
                y2 - 5.0
            );
        }
        if matches!(p.fate, Fate::Corrupted(_)) {
            let _ = writeln!(
                svg,
                r#"<path class="cross" d="M{:.1},{:.1} l10,10 m0,-10 l-10,10" stroke="{colour}" stroke-width="2.5"/>"#,
                x2 - dir * 14.0 - 5.0,
                y2 - 5.0
            );
        }
        // The label: at the middle of the arrow, haloed so crossing lines stay readable.
        let (lx, ly, anchor) = if arrived.is_some() {
            ((CLIENT_X + SERVER_X) / 2.0, (y1 + y2) / 2.0, "middle")
        } else if p.from == Side::Client {
            (x2 + 12.0, y2, "start")
        } else {
            (x2 - 12.0, y2, "end")
        };
        let _ = writeln!(
            svg,
            r#"<text class="label" x="{lx}" y="{:.1}" text-anchor="{anchor}" fill="{colour}" stroke="white" stroke-width="3" paint-order="stroke" font-size="10.5">{}</text>"#,
            ly - 3.0,
            esc(&format!("#{} {label}", p.id))
        );
        let second =
            [options, fate].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join("  ·  ");
        if !second.is_empty() {
            let _ = writeln!(
                svg,
                r#"<text class="label2" x="{lx}" y="{:.1}" text-anchor="{anchor}" fill="{colour}" stroke="white" stroke-width="3" paint-order="stroke" font-size="9.5">{}</text>"#,
                ly + 9.0,
                esc(&second)
            );
        }
        let _ = writeln!(svg, "</g>");
    }

    // Footer: what was left out, the legend.
    let mut y = lay.bottom + 44.0;
    if lay.omitted > 0 {
        let _ = writeln!(
            svg,
            r##"<text x="16" y="{y:.1}" font-size="12" fill="#b71c1c">{} packets outside {} .. {} are not drawn: the pcap, the text trace and the plots have the whole run.</text>"##,
            lay.omitted,
            time_label(run.ladder_from.unwrap_or(Instant::ZERO)),
            run.ladder_until.map_or_else(|| "the end".to_string(), time_label)
        );
        y += 20.0;
    }
    let legend = [
        ("#1565c0", "", "delivered"),
        ("#c62828", "5 4", "lost (×)"),
        ("#ef6c00", "", "corrupted (× at the receiver)"),
        ("#6a1b9a", "8 4", "held back"),
        ("#00838f", "3 3", "duplicate"),
        ("#616161", "6 3", "injected by the scenario"),
    ];
    let mut x = 16.0;
    for (colour, dash, text) in legend {
        let _ = writeln!(
            svg,
            r#"<line x1="{x}" y1="{y:.1}" x2="{:.0}" y2="{y:.1}" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/><text x="{:.0}" y="{:.1}" font-size="10">{text}</text>"#,
            x + 30.0,
            x + 34.0,
            y + 4.0
        );
        x += 44.0 + text.len() as f64 * 6.2;
    }
    y += 20.0;
    x = 16.0;
    for s in [
        TcpState::Listen,
        TcpState::SynSent,
        TcpState::Established,
        TcpState::FinWait1,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::TimeWait,
    ] {
        let name = match s {
            TcpState::SynSent => "SYN-SENT/RECEIVED",
            TcpState::FinWait1 => "FIN-WAIT-1/2",
            TcpState::LastAck => "CLOSING/LAST-ACK",
            other => other.rfc_name(),
        };
        let _ = writeln!(
            svg,
            r#"<rect x="{x}" y="{:.1}" width="10" height="10" fill="{}"/><text x="{:.0}" y="{:.1}" font-size="10">{name}</text>"#,
            y - 5.0,
            state_colour(s),
            x + 14.0,
            y + 4.0
        );
        x += 30.0 + name.len() as f64 * 6.2;
    }
    let _ = writeln!(
        svg,
        r##"<path d="M{:.0},{:.1} l6,6 l-6,6 l-6,-6 z" fill="#ff6d00"/><text x="{:.0}" y="{:.1}" font-size="10">timer fires</text>"##,
        x + 6.0,
        y - 6.0,
        x + 16.0,
        y + 4.0
    );
    svg.push_str("</svg>\n");
    svg
}
