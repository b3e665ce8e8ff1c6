//! The audit report: one self-contained HTML file (inline SVG from plotters, inline CSS, no
//! scripts, no external references), readable offline.

use plotters::prelude::*;

use super::{HORIZONS_MS, ReplayReport};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn fmt(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "–".into())
}

type PlotResult = Result<(), Box<dyn std::error::Error>>;

fn svg(id: &str, draw: impl FnOnce(&mut String) -> PlotResult) -> String {
    let mut s = String::new();
    match draw(&mut s) {
        Ok(()) => format!("<figure id=\"{id}\">{s}</figure>"),
        Err(e) => format!(
            "<figure id=\"{id}\"><p>plot failed: {}</p></figure>",
            esc(&e.to_string())
        ),
    }
}

fn max_of(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(0.0f64, f64::max).max(1.0) * 1.1
}

fn error_vs_horizon(r: &ReplayReport, out: &mut String) -> PlotResult {
    let root = SVGBackend::with_string(out, (640, 320)).into_drawing_area();
    root.fill(&WHITE)?;
    let s = &r.mpjpe_mm;
    let series = [
        ("A4Mer, as published (guard)", &s.model.world, RED),
        ("zero velocity", &s.zero_velocity.world, BLUE),
        ("constant velocity", &s.constant_velocity.world, GREEN),
        ("damped velocity", &s.damped_velocity.world, MAGENTA),
    ];
    let y_max = max_of(series.iter().flat_map(|(_, v, _)| v.iter().flatten().copied()));
    let mut chart = ChartBuilder::on(&root)
        .caption("World MPJPE against horizon", ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..1050.0, 0f64..y_max)?;
    chart
        .configure_mesh()
        .x_desc("horizon (ms)")
        .y_desc("MPJPE (mm)")
        .draw()?;
    for (name, values, color) in series {
        let points: Vec<(f64, f64)> = HORIZONS_MS
            .iter()
            .zip(values.iter())
            .filter_map(|(h, v)| v.map(|v| (*h as f64, v)))
            .collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart.configure_series_labels().border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

fn error_over_time(r: &ReplayReport, out: &mut String) -> PlotResult {
    let root = SVGBackend::with_string(out, (640, 280)).into_drawing_area();
    root.fill(&WHITE)?;
    let t_max = r.error_over_time.last().map(|e| e.t_s + 1.0).unwrap_or(1.0);
    let y_max = max_of(
        r.error_over_time
            .iter()
            .flat_map(|e| [e.mpjpe_400ms, e.mpjpe_1000ms])
            .flatten(),
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Model error over the bag (forecasts made in each second)",
            ("sans-serif", 16),
        )
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..t_max, 0f64..y_max)?;
    chart
        .configure_mesh()
        .x_desc("bag time (s)")
        .y_desc("MPJPE (mm)")
        .draw()?;
    for (name, pick, color) in [("400 ms", 0usize, MAGENTA), ("1000 ms", 1, RED)] {
        let points: Vec<(f64, f64)> = r
            .error_over_time
            .iter()
            .filter_map(|e| [e.mpjpe_400ms, e.mpjpe_1000ms][pick].map(|v| (e.t_s, v)))
            .collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart.configure_series_labels().border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

/// The guard's choice over the bag: the model's weight in the published forecast per
/// horizon, and the share of forecasts whose link frame went out Degraded.
fn guard_over_time(r: &ReplayReport, out: &mut String) -> PlotResult {
    let root = SVGBackend::with_string(out, (640, 280)).into_drawing_area();
    root.fill(&WHITE)?;
    let t_max = r.guard_over_time.last().map(|e| e.t_s + 1.0).unwrap_or(1.0);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "The guard: the model's weight in what was published",
            ("sans-serif", 16),
        )
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..t_max, 0f64..1.05)?;
    chart
        .configure_mesh()
        .x_desc("bag time (s)")
        .y_desc("weight / share")
        .draw()?;
    let colors = [CYAN, BLUE, MAGENTA, RED, BLACK];
    for (h, ms) in HORIZONS_MS.iter().enumerate() {
        let color = colors[h % colors.len()];
        let points: Vec<(f64, f64)> = r
            .guard_over_time
            .iter()
            .filter_map(|g| g.model_weight.get(h).map(|w| (g.t_s, *w)))
            .collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(format!("model weight, {ms} ms"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    let losing: Vec<(f64, f64)> = r.guard_over_time.iter().map(|g| (g.t_s, g.model_losing)).collect();
    chart
        .draw_series(LineSeries::new(losing, YELLOW.stroke_width(3)))?
        .label("link Degraded: model losing")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], YELLOW));
    chart.configure_series_labels().border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

/// The live scores' tables: published against its sources, coverage, anticipation.
fn online_tables(r: &ReplayReport) -> String {
    let Some(o) = &r.online else {
        return String::new();
    };
    let heads: String = HORIZONS_MS.iter().map(|h| format!("<th>{h} ms</th>")).collect();
    let row = |name: &str, values: &[Option<f64>], f: &dyn Fn(f64) -> String| {
        let cells: String = values
            .iter()
            .map(|v| format!("<td>{}</td>", v.map(f).unwrap_or_else(|| "–".into())))
            .collect();
        format!("<tr><td>{name}</td>{cells}</tr>\n")
    };
    let mm = |v: f64| format!("{v:.1}");
    let pct = |v: f64| format!("{:.1} %", v * 100.0);
    let g = &o.guard;
    let a = &o.anticipation;
    let p = |v: Option<f64>| v.map(|v| format!("{:.1} %", v * 100.0)).unwrap_or_else(|| "–".into());
    let n = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or_else(|| "–".into());
    format!(
        "<h2>The engine's own scores (live, after warm-up)</h2>\n<table id=\"guard\"><tr><th>world MPJPE (mm)</th>{heads}</tr>\n{}{}{}{}{}{}{}</table>\n<table id=\"calibration\"><tr><th>inside the {:.0} % radius</th>{heads}</tr>\n{}</table>\n<p id=\"anticipation\">Motif {:.1} s ahead, {} scored ({} published as \"it stays\"): top-1 {}, top-3 {}, top-3 where the motif changed {}, Brier {} (skill against \"it stays\" {}), ECE {}; \"the motif stays\": top-1 {}, Brier {}. Time to the next change of motif: mean error {} s against {} s for the median-duration baseline, over {} predictions.</p>\n",
        row("model", &g.mpjpe_mm.model, &mm),
        row("zero velocity", &g.mpjpe_mm.zero_velocity, &mm),
        row("constant velocity", &g.mpjpe_mm.constant_velocity, &mm),
        row("damped velocity", &g.mpjpe_mm.damped_velocity, &mm),
        row("published (guard)", &g.mpjpe_mm.published, &mm),
        row(
            "published / best baseline",
            &g.published_over_best_baseline,
            &|v| format!("{v:.3}")
        ),
        row("guard followed the model", &g.followed.model, &pct),
        o.calibration.nominal * 100.0,
        row("coverage", &o.calibration.coverage, &pct),
        a.horizon_s,
        a.scored,
        a.published_stays,
        p(a.top1),
        p(a.top3),
        p(a.change_top3),
        n(a.brier),
        p(a.brier_skill),
        n(a.ece),
        p(a.stay_top1),
        n(a.stay_brier),
        n(a.transition_mae_s),
        n(a.transition_baseline_mae_s),
        a.transition_scored,
    )
}

/// A motif id's colour (grey for none yet); `a4mer motifs --plot` uses the same, so one motif
/// looks the same in both.
pub fn motif_color(m: i32) -> RGBColor {
    if m < 0 {
        return RGBColor(200, 200, 200);
    }
    // Spread ids over the hue circle so neighbours differ.
    let h = (m as u32).wrapping_mul(2_654_435_761) % 360;
    let hsl = HSLColor(h as f64 / 360.0, 0.6, 0.55);
    let (r, g, b) = hsl.rgb();
    RGBColor(r, g, b)
}

fn motif_ribbon(r: &ReplayReport, out: &mut String) -> PlotResult {
    let rows = r.people.len().max(1);
    let root = SVGBackend::with_string(out, (640, 60 + 30 * rows as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let t_max = r.duration_s.max(1.0);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Motif timeline (colour = motif id, grey = none yet)",
            ("sans-serif", 16),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..t_max, 0f64..rows as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(rows)
        .y_label_formatter(&|y| {
            r.people
                .get(y.floor() as usize)
                .map(|p| format!("person {p}"))
                .unwrap_or_default()
        })
        .x_desc("bag time (s)")
        .draw()?;
    chart.draw_series(r.motif_timeline.iter().filter_map(|span| {
        let row = r.people.iter().position(|p| *p == span.person_id)? as f64;
        Some(Rectangle::new(
            [
                (span.start_s, row + 0.1),
                (span.end_s.max(span.start_s + 1e-3), row + 0.9),
            ],
            motif_color(span.motif).filled(),
        ))
    }))?;
    root.present()?;
    Ok(())
}

fn latency_histogram(r: &ReplayReport, out: &mut String) -> PlotResult {
    let root = SVGBackend::with_string(out, (640, 280)).into_drawing_area();
    root.fill(&WHITE)?;
    let hist = &r.timing.push_histogram_10us;
    let last = hist.iter().rposition(|n| *n > 0).unwrap_or(0).clamp(10, 200);
    let y_max = hist.iter().take(last + 1).copied().max().unwrap_or(1).max(1) as f64 * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Compute time per frame (Engine::push; not part of the audit result)",
            ("sans-serif", 16),
        )
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..(last as f64 + 1.0) * 10.0, 0f64..y_max)?;
    chart.configure_mesh().x_desc("µs").y_desc("frames").draw()?;
    chart.draw_series(hist.iter().take(last + 1).enumerate().map(|(i, n)| {
        Rectangle::new(
            [(i as f64 * 10.0, 0.0), (i as f64 * 10.0 + 9.0, *n as f64)],
            BLUE.mix(0.7).filled(),
        )
    }))?;
    root.present()?;
    Ok(())
}

fn ssm_plot(r: &ReplayReport, out: &mut String) -> PlotResult {
    let Some(s) = &r.ssm else { return Ok(()) };
    let root = SVGBackend::with_string(out, (640, 280)).into_drawing_area();
    root.fill(&WHITE)?;
    let t_max = s.timeline.last().map(|p| p.t_s + 0.1).unwrap_or(1.0);
    let held_max = s.timeline.iter().map(|p| p.people_held).max().unwrap_or(0);
    let y_max = s
        .timeline
        .iter()
        .filter_map(|p| p.separation_m)
        .fold(held_max as f32, f32::max)
        .max(1.0) as f64
        * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption("Safety MCU: speed scale and separation", ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..t_max, 0f64..y_max)?;
    chart
        .configure_mesh()
        .x_desc("bag time (s)")
        .y_desc("scale / metres")
        .draw()?;
    chart
        .draw_series(LineSeries::new(
            s.timeline.iter().map(|p| (p.t_s, p.scale as f64)),
            BLUE.stroke_width(2),
        ))?
        .label("speed scale (0 = stop)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    chart
        .draw_series(LineSeries::new(
            s.timeline
                .iter()
                .filter_map(|p| p.separation_m.map(|m| (p.t_s, m as f64))),
            BLACK.stroke_width(1),
        ))?
        .label("separation (m)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
    if held_max > 0 {
        // Held people are on the link at their last seen pose, their reach growing.
        chart
            .draw_series(
                s.timeline
                    .iter()
                    .filter(|p| p.people_held > 0)
                    .map(|p| Circle::new((p.t_s, f64::from(p.people_held)), 3, RED.filled())),
            )?
            .label("people held out of view (count)")
            .legend(|(x, y)| Circle::new((x + 10, y), 3, RED.filled()));
    }
    chart.configure_series_labels().border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

/// The report page.
pub fn html(r: &ReplayReport) -> String {
    let mut rows = String::new();
    let s = &r.mpjpe_mm;
    for (name, table) in [
        ("A4Mer, as published (guard)", &s.model),
        ("zero velocity", &s.zero_velocity),
        ("constant velocity", &s.constant_velocity),
        ("damped velocity", &s.damped_velocity),
    ] {
        for (frame, values) in [("world", &table.world), ("pelvis-relative", &table.pelvis_relative)] {
            rows.push_str(&format!("<tr><td>{name}</td><td>{frame}</td>"));
            for v in values {
                rows.push_str(&format!("<td>{}</td>", fmt(*v)));
            }
            rows.push_str("</tr>\n");
        }
    }
    let heads: String = HORIZONS_MS.iter().map(|h| format!("<th>{h} ms</th>")).collect();
    let scored: String = s.scored.iter().map(|n| format!("<td>{n}</td>")).collect();
    let mut events = String::new();
    for e in &r.events {
        events.push_str(&format!(
            "<tr><td>{:.3}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            e.t_s,
            e.person_id.map(|p| p.to_string()).unwrap_or_default(),
            esc(&e.kind),
            esc(&e.detail)
        ));
    }
    let stopped = r
        .stopped_at
        .as_ref()
        .map(|e| {
            format!(
                "<p class=\"stop\" id=\"stopped\">Replay stopped early: {}. This report covers the {} messages before it.</p>",
                esc(e),
                r.messages
            )
        })
        .unwrap_or_default();
    let t = &r.timing;
    let us = |v: Option<u32>| v.map(|v| format!("{v} µs")).unwrap_or_else(|| "–".into());
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>a4mer replay: {bag}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 60em; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #bbb; padding: 0.2em 0.6em; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
.stop {{ background: #fdd; border: 1px solid #c00; padding: 0.5em; }}
code {{ font-size: 0.9em; }}
</style></head><body>
<h1>a4mer replay audit</h1>
{stopped}
<table id="provenance">
<tr><td>bag</td><td><code>{bag}</code></td></tr>
<tr><td>bag SHA-256</td><td><code>{bag_sha}</code></td></tr>
<tr><td>model</td><td><code>{model}</code></td></tr>
<tr><td>model SHA-256</td><td><code>{model_sha}</code></td></tr>
<tr><td>damped-velocity τ</td><td>{tau}</td></tr>
<tr><td>pose topic</td><td><code>{topic}</code> ({input_type})</td></tr>
<tr><td>messages / frames / forecasts</td><td>{messages} / {frames} / {forecasts}</td></tr>
<tr><td>people</td><td>{people}</td></tr>
<tr><td>bag time replayed</td><td>{duration:.1} s</td></tr>
</table>
<h2>Forecast error (MPJPE, mm)</h2>
<table id="errors"><tr><th>method</th><th>frame</th>{heads}</tr>
{rows}<tr><td>forecasts scored</td><td></td>{scored}</tr></table>
{p1}
{p2}
{online}
{p5}
<h2>Motifs</h2>
{p3}
{ssm}
<h2>Compute time</h2>
<p>Per frame: median {p50}, p99 {p99}, max {max}; {rt} × real time. Timing varies between runs and machines; everything else on this page is deterministic for the bag and the model.</p>
{p4}
<h2>Events</h2>
<table id="events"><tr><th>bag time (s)</th><th>person</th><th>event</th><th>detail</th></tr>
{events}</table>
<p>{dropped}</p>
</body></html>
"#,
        bag = esc(&r.bag),
        bag_sha = r.bag_sha256,
        model = esc(&r.model),
        model_sha = r.model_sha256,
        tau = match &r.damping_tau_note {
            Some(note) => format!("{} s ({})", r.damping_tau_s, esc(note)),
            None => format!("{} s (fitted on the model's training recordings)", r.damping_tau_s),
        },
        topic = esc(&r.topic),
        input_type = esc(&r.input_type),
        messages = r.messages,
        frames = r.frames,
        forecasts = r.forecasts,
        people = r.people.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", "),
        duration = r.duration_s,
        p1 = svg("plot-error-horizon", |o| error_vs_horizon(r, o)),
        p2 = svg("plot-error-time", |o| error_over_time(r, o)),
        p3 = svg("plot-motifs", |o| motif_ribbon(r, o)),
        p4 = svg("plot-latency", |o| latency_histogram(r, o)),
        p5 = svg("plot-guard", |o| guard_over_time(r, o)),
        online = online_tables(r),
        ssm = match &r.ssm {
            Some(s) => format!(
                "<h2>Speed and separation monitoring</h2>\n<p>Robot at {:?} m in the base frame, programmed speed {} m/s, the firmware's monitor fed the link frames the node would have sent: run {:.1} s, fallback {:.1} s, protective stop {:.1} s; closest approach {}.</p>\n{}",
                s.robot_position_in_base_m,
                s.programmed_speed_mps,
                s.seconds_run,
                s.seconds_fallback,
                s.seconds_protective_stop,
                s.min_separation_m
                    .map(|m| format!("{m:.2} m"))
                    .unwrap_or_else(|| "–".into()),
                svg("plot-ssm", |o| ssm_plot(r, o))
            ),
            None => String::new(),
        },
        p50 = us(t.push_p50_us),
        p99 = us(t.push_p99_us),
        max = us(t.push_max_us),
        rt = t
            .realtime_factor
            .map(|f| format!("{f:.0}"))
            .unwrap_or_else(|| "–".into()),
        dropped = if r.events_dropped > 0 {
            format!("{} more events not listed.", r.events_dropped)
        } else {
            String::new()
        },
    )
}
