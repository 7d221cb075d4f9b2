//! `cargo run -p jitlab-benches --example warmup_plot [-- OUT.svg]`: draws the warm-up
//! curve of chapter 5 — each kernel's time per run against its size, one line per
//! engine, both axes logarithmic — from the numbers of the last
//! `cargo bench -p jitlab-benches --bench tiering -- warmup` (criterion's median
//! estimate of each row, in `target/criterion/warmup_<kernel>/<engine>/<size>/`), as
//! one SVG file (default `book/src/img/warmup.svg`). No plotting library: a few
//! lines of SVG per panel.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use jitlab_benches::{ENGINES, KERNELS};

/// The colour of each engine's line, by its place in `ENGINES`.
const COLOURS: [&str; 6] = [
    "#888888", "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
];
/// One panel's size and margins, in SVG units.
const PANEL_W: f64 = 300.0;
const PANEL_H: f64 = 210.0;
const LEFT: f64 = 58.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 26.0;
const BOTTOM: f64 = 40.0;
const COLUMNS: usize = 3;
/// The legend's entries per line, and a line's height: six engines in two lines
/// fit the panels' width.
const LEGEND_COLUMNS: usize = 3;
const LEGEND_LINE: f64 = 20.0;

/// Criterion's median estimate in `dir/new/estimates.json`, in nanoseconds.
fn median_ns(dir: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join("new/estimates.json")).ok()?;
    // `"median":{"confidence_interval":{...},"point_estimate":N,...}`: the first
    // point estimate after the median's key.
    let at = text.find("\"median\"")?;
    let rest = &text[at..];
    let key = "\"point_estimate\":";
    let from = rest.find(key)? + key.len();
    let number: String = rest[from..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        .collect();
    number.parse().ok()
}

/// The rows of one kernel: per engine, (size, nanoseconds) sorted by size.
fn rows(criterion: &Path, kernel: &str) -> Vec<(&'static str, Vec<(f64, f64)>)> {
    ENGINES
        .iter()
        .map(|e| {
            let dir = criterion.join(format!("warmup_{kernel}")).join(e.name);
            let mut points: Vec<(f64, f64)> = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|entry| {
                    let size: f64 = entry.file_name().to_str()?.parse().ok()?;
                    Some((size, median_ns(&entry.path())?))
                })
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            (e.name, points)
        })
        .collect()
}

/// A time in nanoseconds as a short label.
fn time_label(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{} ms", trim(ns / 1e6))
    } else if ns >= 1e3 {
        format!("{} µs", trim(ns / 1e3))
    } else {
        format!("{} ns", trim(ns))
    }
}

fn trim(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Powers of ten from below `lo` to above `hi` (as exponents).
fn decades(lo: f64, hi: f64) -> (i32, i32) {
    (lo.log10().floor() as i32, hi.log10().ceil() as i32)
}

/// One kernel's panel at `(x0, y0)`.
fn panel(svg: &mut String, x0: f64, y0: f64, kernel: &str, rows: &[(&str, Vec<(f64, f64)>)]) {
    let points = rows.iter().flat_map(|(_, p)| p.iter());
    let (mut sx, mut sy) = ((f64::MAX, f64::MIN), (f64::MAX, f64::MIN));
    for &(s, t) in points {
        sx = (sx.0.min(s), sx.1.max(s));
        sy = (sy.0.min(t), sy.1.max(t));
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" font-weight="bold">{kernel}</text>"#,
        x0 + LEFT,
        y0 + 16.0
    );
    if sx.0 > sx.1 {
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}">no numbers</text>"#,
            x0 + LEFT,
            y0 + 60.0
        );
        return;
    }
    // fib's sizes are n of fib(n), whose work grows as 1.6^n: a linear axis for it.
    let log_x = kernel != "fib";
    let (dy0, dy1) = decades(sy.0, sy.1);
    let (w, h) = (PANEL_W - LEFT - RIGHT, PANEL_H - TOP - BOTTOM);
    let fx = |s: f64| {
        let (a, b, v) = if log_x {
            (sx.0.log10(), sx.1.log10(), s.log10())
        } else {
            (sx.0, sx.1, s)
        };
        x0 + LEFT
            + if b > a {
                (v - a) / (b - a) * w
            } else {
                w / 2.0
            }
    };
    let fy = |t: f64| {
        let (a, b) = (f64::from(dy0), f64::from(dy1));
        y0 + TOP + h - (t.log10() - a) / (b - a).max(1.0) * h
    };
    // Frame, decades of time, sizes.
    let _ = writeln!(
        svg,
        r##"<rect x="{}" y="{}" width="{w}" height="{h}" fill="none" stroke="#444"/>"##,
        x0 + LEFT,
        y0 + TOP
    );
    for d in dy0..=dy1 {
        let y = fy(10f64.powi(d));
        let _ = writeln!(
            svg,
            r##"<line x1="{}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end" font-size="10">{}</text>"##,
            x0 + LEFT,
            x0 + LEFT + w,
            x0 + LEFT - 4.0,
            y + 3.0,
            time_label(10f64.powi(d))
        );
    }
    let sizes: Vec<f64> = {
        let mut s: Vec<f64> = rows
            .iter()
            .flat_map(|(_, p)| p.iter().map(|q| q.0))
            .collect();
        s.sort_by(f64::total_cmp);
        s.dedup();
        s
    };
    for s in sizes {
        let x = fx(s);
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" stroke="#444"/><text x="{x:.1}" y="{}" text-anchor="middle" font-size="10">{}</text>"##,
            y0 + TOP + h,
            y0 + TOP + h + 4.0,
            y0 + TOP + h + 15.0,
            s
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle" font-size="10">size (n)</text>"#,
        x0 + LEFT + w / 2.0,
        y0 + TOP + h + 30.0
    );
    for (i, (_, points)) in rows.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let path: Vec<String> = points
            .iter()
            .map(|&(s, t)| format!("{:.1},{:.1}", fx(s), fy(t)))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
            path.join(" ")
        );
        for &(s, t) in points {
            let _ = writeln!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{colour}"/>"#,
                fx(s),
                fy(t)
            );
        }
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out: PathBuf = std::env::args()
        .nth(1)
        .map_or_else(|| root.join("book/src/img/warmup.svg"), PathBuf::from);
    let criterion = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("criterion");
    let rows_per_kernel: Vec<_> = KERNELS
        .iter()
        .map(|k| (k.name, rows(&criterion, k.name)))
        .collect();
    let found = rows_per_kernel
        .iter()
        .flat_map(|(_, r)| r.iter())
        .any(|(_, p)| !p.is_empty());
    assert!(
        found,
        "no warm-up numbers in {}: run `cargo bench -p jitlab-benches --bench tiering -- warmup` first",
        criterion.display()
    );
    let panels = rows_per_kernel.len();
    let lines = panels.div_ceil(COLUMNS);
    let legend_lines = ENGINES.len().div_ceil(LEGEND_COLUMNS);
    let (width, height) = (
        COLUMNS as f64 * PANEL_W,
        lines as f64 * PANEL_H + 10.0 + legend_lines as f64 * LEGEND_LINE,
    );
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect width="{width}" height="{height}" fill="white"/>"#
    );
    for (i, (kernel, rows)) in rows_per_kernel.iter().enumerate() {
        let (x0, y0) = (
            (i % COLUMNS) as f64 * PANEL_W,
            (i / COLUMNS) as f64 * PANEL_H,
        );
        panel(&mut svg, x0, y0, kernel, rows);
    }
    // The legend, along the bottom.
    for (i, e) in ENGINES.iter().enumerate() {
        let x = LEFT + (i % LEGEND_COLUMNS) as f64 * 280.0;
        let y = lines as f64 * PANEL_H + 12.0 + (i / LEGEND_COLUMNS) as f64 * LEGEND_LINE;
        let colour = COLOURS[i % COLOURS.len()];
        let label = match e.name {
            "stage1" => "stage 1 (interpreter)",
            "stage3" => "stage 3 (compile all)",
            "stage4" => "stage 4 (compile all)",
            "stage5" => "stage 5 (tiered)",
            "stage6" => "stage 6 (tiered, inline caches)",
            "stage7" => "stage 7 (tiered, speculation)",
            other => other,
        };
        let _ = writeln!(
            svg,
            r#"<line x1="{x}" y1="{y}" x2="{}" y2="{y}" stroke="{colour}" stroke-width="3"/><text x="{}" y="{}">{label}</text>"#,
            x + 20.0,
            x + 25.0,
            y + 4.0
        );
    }
    svg.push_str("</svg>\n");
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).expect("the output's directory");
    }
    std::fs::write(&out, svg).expect("the SVG is written");
    println!("wrote {}", out.display());
}
