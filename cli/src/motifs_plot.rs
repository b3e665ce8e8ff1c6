//! `a4mer motifs --plot`: motifs over time as an SVG, one band per recording.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use a4mer_replay::report::motif_color;

/// One band: a recording's name, length and its runs as (start_s, end_s, motif).
pub struct Band {
    pub name: String,
    pub duration_s: f64,
    pub runs: Vec<(f64, f64, usize)>,
}

pub fn write_svg(path: &Path, bands: &[Band]) -> Result<()> {
    let mut svg = String::new();
    draw(&mut svg, bands).map_err(|e| anyhow!("drawing {}: {e}", path.display()))?;
    std::fs::write(path, svg).with_context(|| format!("writing {}", path.display()))
}

type PlotResult = Result<(), Box<dyn std::error::Error>>;

fn draw(out: &mut String, bands: &[Band]) -> PlotResult {
    let rows = bands.len().max(1);
    let height = 70 + 28 * rows as u32;
    let root = SVGBackend::with_string(out, (800, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let t_max_s = bands.iter().map(|b| b.duration_s).fold(1.0f64, f64::max);
    // Longest name sets the label area, so names are never cut (about 7 px a character).
    let name_px = bands.iter().map(|b| b.name.chars().count()).max().unwrap_or(8) as u32 * 7 + 10;
    let mut chart = ChartBuilder::on(&root)
        .caption("Motifs over time (colour and number = motif id)", ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(name_px)
        .build_cartesian_2d(0f64..t_max_s, 0f64..rows as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(rows * 2 + 1)
        // Names sit at the band's centre; the ticks at the band edges stay blank.
        .y_label_formatter(&|y| {
            let i = y.floor();
            if (y - i - 0.5).abs() > 1e-6 {
                return String::new();
            }
            // Row 0 at the top, in the order given.
            bands
                .get(rows.saturating_sub(1 + i as usize))
                .map(|b| b.name.clone())
                .unwrap_or_default()
        })
        .x_desc("time (s)")
        .draw()?;
    for (i, band) in bands.iter().enumerate() {
        let row = (rows - 1 - i) as f64;
        chart.draw_series(band.runs.iter().map(|&(start_s, end_s, motif)| {
            Rectangle::new(
                [(start_s, row + 0.1), (end_s.max(start_s + 1e-3), row + 0.9)],
                motif_color(motif as i32).filled(),
            )
        }))?;
        // Numbers only where a run is wide enough to hold one: colours alone repeat across
        // 64 ids.
        chart.draw_series(
            band.runs
                .iter()
                .filter(|(s, e, _)| e - s >= t_max_s / 45.0)
                .map(|&(s, e, motif)| {
                    Text::new(
                        motif.to_string(),
                        ((s + e) / 2.0, row + 0.5),
                        ("sans-serif", 10)
                            .into_font()
                            .color(&BLACK)
                            .pos(Pos::new(HPos::Center, VPos::Center)),
                    )
                }),
        )?;
    }
    root.present()?;
    Ok(())
}
