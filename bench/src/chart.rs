//! docs/bench.png: requests/s per case at the headline connection count, as
//! horizontal bars labelled with the ratio to the limit.

use std::fs;
use std::path::Path;

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

use crate::cases::Case;
use crate::report::{Row, count};

/// The fonts tried, in order (Debian's fonts-dejavu-core first).
pub const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
];

const FAMILY: &str = "sans-serif";

/// Registers the first font of [`FONTS`] that exists with plotters.
fn load_font() -> Result<(), String> {
    for path in FONTS {
        if let Ok(bytes) = fs::read(path) {
            // plotters keeps fonts for the life of the program.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if register_font(FAMILY, FontStyle::Normal, bytes).is_ok() {
                return Ok(());
            }
        }
    }
    Err(format!(
        "no font found (tried {}): install fonts-dejavu-core",
        FONTS.join(", ")
    ))
}

fn color(case: Case) -> RGBColor {
    match case {
        Case::Limit | Case::Static => RGBColor(140, 140, 140),
        Case::Embedded | Case::Daemon1 | Case::Daemon2 => RGBColor(206, 92, 36),
        Case::Python1 | Case::Python2 => RGBColor(230, 160, 40),
        Case::Wsgi1 | Case::Wsgi2 => RGBColor(55, 110, 170),
        Case::Proxy => RGBColor(70, 150, 90),
        Case::Granian => RGBColor(120, 190, 120),
        Case::PoorPython1 => RGBColor(240, 190, 90),
        Case::PoorWsgi1 => RGBColor(110, 155, 205),
    }
}

/// Draws the chart of `rows` at `conns` connections into `path`.
pub fn draw(
    path: &Path,
    rows: &[Row],
    conns: u32,
    threads: u32,
    subtitle: &str,
) -> Result<(), String> {
    load_font()?;
    let rows: Vec<&Row> = rows.iter().filter(|r| r.conns == conns).collect();
    if rows.len() < 2 {
        return Err("nothing to compare: no case besides the limit".to_owned());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    }
    let n = rows.len();
    let height = 150 + 46 * u32::try_from(n).unwrap_or(10);
    let labels: Vec<String> = rows.iter().map(|r| r.case.label(threads)).collect();
    // Room for the longest label (about 9 px a character at 16 px), the
    // bars keeping their width.
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let label_width = u32::try_from(longest * 9 + 20).unwrap_or(250).max(250);
    let root = BitMapBackend::new(path, (850 + label_width, height)).into_drawing_area();
    let e = |e: DrawingAreaErrorKind<_>| format!("drawing {}: {e}", path.display());
    root.fill(&WHITE).map_err(e)?;
    let root = root
        .titled(
            &format!("Hello, World! requests/s at {conns} connections (higher is better)"),
            (FAMILY, 24),
        )
        .map_err(e)?;
    let max = rows.iter().map(|r| r.rps).fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(&root)
        .margin_left(10)
        .margin_right(30)
        .margin_bottom(10)
        .x_label_area_size(50)
        .y_label_area_size(label_width)
        .build_cartesian_2d(0.0..max * 1.32, (0..n - 1).into_segmented())
        .map_err(e)?;
    // Row 0 at the top.
    let label_of = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) if *i < n => labels[n - 1 - *i].clone(),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_formatter(&label_of)
        .x_labels(8)
        .x_label_formatter(&|x| count(*x))
        .x_desc(subtitle)
        .label_style((FAMILY, 16))
        .axis_desc_style((FAMILY, 15))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(e)?;
    for (k, r) in rows.iter().enumerate() {
        let i = n - 1 - k;
        let mut bar = Rectangle::new(
            [
                (0.0, SegmentValue::Exact(i)),
                (r.rps, SegmentValue::Exact(i + 1)),
            ],
            color(r.case).filled(),
        );
        bar.set_margin(7, 7, 0, 0);
        chart.draw_series(std::iter::once(bar)).map_err(e)?;
        // The spread over the rounds: a whisker from the slowest to the fastest.
        if r.rps_max > r.rps_min {
            let y = SegmentValue::CenterOf(i);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(r.rps_min, y.clone()), (r.rps_max, y)],
                    BLACK.stroke_width(2),
                )))
                .map_err(e)?;
        }
        let ratio = match r.ratio {
            Some(x) if r.case != Case::Limit => format!("  {x:.2} × limit"),
            _ => "  (the limit)".to_owned(),
        };
        let text = format!(" {}{ratio}", count(r.rps));
        let at = r.rps.max(r.rps_max);
        let style = TextStyle::from((FAMILY, 16).into_font())
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        chart
            .draw_series(std::iter::once(Text::new(
                text,
                (at, SegmentValue::CenterOf(i)),
                style,
            )))
            .map_err(e)?;
    }
    root.present().map_err(e)?;
    Ok(())
}
