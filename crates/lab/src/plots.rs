//! Time series of a transfer, drawn with plotters as SVG:
//!
//! - the window plot: congestion window, slow-start threshold and bytes in flight (in
//!   segments), and below it the retransmission timeout and the smoothed RTT;
//! - the time-sequence graph, as tcptrace draws it: each data segment the sender sent as a
//!   vertical bar from its first to its last byte (retransmissions in red), the cumulative
//!   ACKs it got as a step line, and the receive window's right edge above them.
//!
//! The sender is the client (every congestion scenario sends from the client).

use plotters::prelude::*;
use ustack_core::Instant;

use crate::trace::{Side, Trace};

/// One connection's series, in seconds and segments.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// (time, cwnd in segments).
    pub cwnd: Vec<(f64, f64)>,
    /// (time, ssthresh in segments), only once it is finite.
    pub ssthresh: Vec<(f64, f64)>,
    /// (time, bytes in flight in segments): highest sequence sent less highest ACK got.
    pub flight: Vec<(f64, f64)>,
    /// (time, RTO in ms).
    pub rto: Vec<(f64, f64)>,
    /// (time, SRTT in ms).
    pub srtt: Vec<(f64, f64)>,
    /// Data segments sent: (time, first byte, past-last byte, a retransmission), relative to
    /// the first data byte.
    pub segments: Vec<(f64, f64, f64, bool)>,
    /// ACKs the sender got: (time, cumulative ACK, window's right edge), relative.
    pub acks: Vec<(f64, f64, f64)>,
}

fn t(i: Instant) -> f64 {
    i.since_epoch().as_secs_f64()
}

/// The series of the client's first connection in `trace`.
pub fn series(trace: &Trace) -> Series {
    let mut s = Series::default();
    let Some(conn) = trace.samples.iter().find(|x| x.side == Side::Client).map(|x| x.conn) else {
        return s;
    };
    let mss = trace
        .samples
        .iter()
        .find(|x| x.side == Side::Client && x.conn == conn)
        .map_or(1448.0, |x| f64::from(x.mss));
    for x in trace.samples.iter().filter(|x| x.side == Side::Client && x.conn == conn) {
        s.cwnd.push((t(x.at), f64::from(x.cwnd) / mss));
        if x.ssthresh != u32::MAX {
            s.ssthresh.push((t(x.at), f64::from(x.ssthresh) / mss));
        }
        s.rto.push((t(x.at), x.rto.as_secs_f64() * 1e3));
        if let Some(srtt) = x.srtt {
            s.srtt.push((t(x.at), srtt.as_secs_f64() * 1e3));
        }
    }
    // Sequence space from the packets on the link.
    let (local, remote) = conn;
    let ours = |p: &crate::trace::Packet| {
        p.tcp().is_some_and(|x| x.src.port() == local && x.dst.port() == remote)
    };
    let theirs = |p: &crate::trace::Packet| {
        p.tcp().is_some_and(|x| x.src.port() == remote && x.dst.port() == local)
    };
    let Some(isn) = trace
        .packets
        .iter()
        .filter(|p| ours(p))
        .find_map(|p| p.tcp().filter(|x| x.is_syn()).map(|x| x.seq))
    else {
        return s;
    };
    let scale = trace
        .packets
        .iter()
        .filter(|p| theirs(p))
        .find_map(|p| p.tcp().filter(|x| x.is_syn_ack()).and_then(|x| x.options.window_scale))
        .unwrap_or(0);
    let rel = |seq: u32| f64::from(seq.wrapping_sub(isn.wrapping_add(1)));
    let mut highest = 0f64;
    let mut acked = 0f64;
    let mut events: Vec<(Instant, usize, bool)> = Vec::new();
    for p in &trace.packets {
        if ours(p) {
            events.push((p.sent_at, p.id, true));
        } else if theirs(p)
            && let Some(a) = p.arrived_at()
        {
            events.push((a, p.id, false));
        }
    }
    events.sort();
    for (at, id, sent) in events {
        let p = trace.packet(id);
        let Some(x) = p.tcp() else { continue };
        if sent {
            if x.len > 0 {
                let (a, b) = (rel(x.seq), rel(x.seq) + f64::from(x.len));
                s.segments.push((t(at), a, b, b <= highest));
                highest = highest.max(b);
            }
        } else if x.flags.contains(ustack_wire::TcpFlags::ACK) && !x.is_syn_ack() {
            acked = acked.max(rel(x.ack));
            let edge = rel(x.ack) + f64::from(u32::from(x.window) << scale);
            s.acks.push((t(at), rel(x.ack), edge));
        }
        s.flight.push((t(at), (highest - acked).max(0.0) / mss));
    }
    s
}

fn max_of(points: &[(f64, f64)]) -> f64 {
    points.iter().map(|p| p.1).fold(0.0, f64::max)
}

/// The window plot (cwnd, ssthresh, flight; RTO and SRTT) as SVG.
pub fn window_plot(s: &Series, title: &str) -> String {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (1000, 700)).into_drawing_area();
        root.fill(&WHITE).expect("svg");
        let (top, bottom) = root.split_vertically(440);
        let end = s.cwnd.last().map_or(1.0, |p| p.0).max(1e-3);
        let ymax = max_of(&s.cwnd).max(max_of(&s.flight)).max(max_of(&s.ssthresh)) * 1.1 + 1.0;
        let mut chart = ChartBuilder::on(&top)
            .caption(format!("{title}: congestion window"), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..end, 0.0..ymax)
            .expect("chart");
        chart.configure_mesh().x_desc("time (s, virtual)").y_desc("segments").draw().expect("mesh");
        let cwnd = RGBColor(21, 101, 192);
        let ssth = RGBColor(198, 40, 40);
        let flight = RGBColor(46, 125, 50);
        chart
            .draw_series(LineSeries::new(s.cwnd.iter().copied(), cwnd.stroke_width(2)))
            .expect("cwnd")
            .label("cwnd")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], cwnd.stroke_width(2)));
        chart
            .draw_series(LineSeries::new(s.ssthresh.iter().copied(), ssth.stroke_width(2)))
            .expect("ssthresh")
            .label("ssthresh")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], ssth.stroke_width(2)));
        chart
            .draw_series(LineSeries::new(s.flight.iter().copied(), flight.stroke_width(1)))
            .expect("flight")
            .label("bytes in flight")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], flight.stroke_width(1)));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .expect("legend");

        let rmax = max_of(&s.rto).max(max_of(&s.srtt)) * 1.1 + 1.0;
        let mut chart = ChartBuilder::on(&bottom)
            .caption("retransmission timeout and smoothed RTT", ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..end, 0.0..rmax)
            .expect("chart");
        chart.configure_mesh().x_desc("time (s, virtual)").y_desc("ms").draw().expect("mesh");
        let rto = RGBColor(239, 108, 0);
        let srtt = RGBColor(106, 27, 154);
        chart
            .draw_series(LineSeries::new(s.rto.iter().copied(), rto.stroke_width(2)))
            .expect("rto")
            .label("RTO")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], rto.stroke_width(2)));
        chart
            .draw_series(LineSeries::new(s.srtt.iter().copied(), srtt.stroke_width(2)))
            .expect("srtt")
            .label("SRTT")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], srtt.stroke_width(2)));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .expect("legend");
        root.present().expect("svg");
    }
    out
}

/// The time-sequence graph as SVG.
pub fn time_sequence_plot(s: &Series, title: &str) -> String {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (1000, 600)).into_drawing_area();
        root.fill(&WHITE).expect("svg");
        let end = s
            .segments
            .iter()
            .map(|x| x.0)
            .chain(s.acks.iter().map(|x| x.0))
            .fold(0.0, f64::max)
            .max(1e-3);
        // The data and the ACKs set the scale; the window's edge is drawn up to the top.
        let top =
            s.segments.iter().map(|x| x.2).chain(s.acks.iter().map(|x| x.1)).fold(0.0, f64::max)
                / 1024.0
                * 1.15
                + 1.0;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{title}: time-sequence graph"), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..end, 0.0..top)
            .expect("chart");
        chart
            .configure_mesh()
            .x_desc("time (s, virtual)")
            .y_desc("sequence (KiB from the first data byte)")
            .draw()
            .expect("mesh");
        let sent = RGBColor(33, 33, 33);
        let rexmit = RGBColor(198, 40, 40);
        let ack = RGBColor(46, 125, 50);
        let win = RGBColor(249, 168, 37);
        chart
            .draw_series(s.segments.iter().filter(|x| !x.3).map(|x| {
                PathElement::new([(x.0, x.1 / 1024.0), (x.0, x.2 / 1024.0)], sent.stroke_width(2))
            }))
            .expect("segments")
            .label("data sent")
            .legend(move |(x, y)| PathElement::new([(x, y - 6), (x, y + 6)], sent.stroke_width(2)));
        chart
            .draw_series(s.segments.iter().filter(|x| x.3).map(|x| {
                PathElement::new([(x.0, x.1 / 1024.0), (x.0, x.2 / 1024.0)], rexmit.stroke_width(3))
            }))
            .expect("retransmissions")
            .label("retransmitted")
            .legend(move |(x, y)| {
                PathElement::new([(x, y - 6), (x, y + 6)], rexmit.stroke_width(3))
            });
        let steps = |f: fn(&(f64, f64, f64)) -> f64| {
            let mut pts = Vec::new();
            let mut last: Option<f64> = None;
            for a in &s.acks {
                if let Some(v) = last {
                    pts.push((a.0, v / 1024.0));
                }
                let v = f(a);
                pts.push((a.0, v / 1024.0));
                last = Some(v);
            }
            pts
        };
        chart
            .draw_series(LineSeries::new(steps(|a| a.1), ack.stroke_width(2)))
            .expect("acks")
            .label("cumulative ACK")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], ack.stroke_width(2)));
        chart
            .draw_series(LineSeries::new(
                steps(|a| a.2).into_iter().map(|(t, v)| (t, v.min(top))),
                win.stroke_width(1),
            ))
            .expect("window")
            .label("receive window edge")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], win.stroke_width(1)));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .expect("legend");
        root.present().expect("svg");
    }
    out
}

/// A blue for lines.
pub const BLUE: RGBColor = RGBColor(21, 101, 192);
/// A red for lines.
pub const RED: RGBColor = RGBColor(198, 40, 40);
/// Black, for the formulas' curves.
pub const BLACK: RGBColor = RGBColor(0, 0, 0);
/// An orange for lines.
pub const ORANGE: RGBColor = RGBColor(239, 108, 0);
/// A grey for reference lines.
pub const GREY: RGBColor = RGBColor(117, 117, 117);

/// One labelled series of a [`lines_plot`].
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// The legend's text.
    pub label: String,
    /// Its colour.
    pub color: RGBColor,
    /// Drawn dashed (a formula, a reference) rather than solid (a measurement).
    pub dashed: bool,
    /// (x, y) points, in order of x.
    pub points: Vec<(f64, f64)>,
}

impl Line {
    /// A measured series, drawn solid.
    pub fn solid(label: &str, color: RGBColor, points: Vec<(f64, f64)>) -> Line {
        Line { label: label.to_string(), color, dashed: false, points }
    }

    /// A computed or reference series, drawn dashed.
    pub fn dashed(label: &str, color: RGBColor, points: Vec<(f64, f64)>) -> Line {
        Line { label: label.to_string(), color, dashed: true, points }
    }
}

/// Several series on one pair of axes, as SVG (e.g. two connections' windows against the
/// curves their RFCs give).
pub fn lines_plot(title: &str, x_desc: &str, y_desc: &str, lines: &[Line]) -> String {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (1000, 560)).into_drawing_area();
        root.fill(&WHITE).expect("svg");
        let points = || lines.iter().flat_map(|l| l.points.iter());
        let xmax = points().map(|p| p.0).fold(0.0, f64::max).max(1e-3);
        let ymax = points().map(|p| p.1).fold(0.0, f64::max) * 1.1 + 1.0;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..xmax, 0.0..ymax)
            .expect("chart");
        chart.configure_mesh().x_desc(x_desc).y_desc(y_desc).draw().expect("mesh");
        for l in lines {
            let color = l.color;
            let (width, style) =
                if l.dashed { (1, color.stroke_width(1)) } else { (2, color.stroke_width(2)) };
            let clipped = l.points.iter().copied().filter(|p| p.1 <= ymax && p.1 >= 0.0);
            let series = if l.dashed {
                chart.draw_series(DashedLineSeries::new(clipped, 6, 4, style))
            } else {
                chart.draw_series(LineSeries::new(clipped, style))
            };
            series.expect("series").label(l.label.clone()).legend(move |(x, y)| {
                PathElement::new([(x, y), (x + 20, y)], color.stroke_width(width))
            });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .expect("legend");
        root.present().expect("svg");
    }
    out
}
