use super::*;

fn close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9)
}

#[test]
fn ticks_are_round_and_inside_the_range() {
    let steps = [nice_step(10.0, 5), nice_step(1.0, 4), nice_step(3000.0, 6), nice_step(0.07, 5), nice_step(11.2, 5)];
    assert!(close(&steps, &[2.0, 0.5, 500.0, 0.02, 5.0]), "{steps:?}");
    assert!(close(&[nice_step(0.0, 5)], &[0.2]), "an empty span still gets a step");
    let ticks = nice_ticks(0.0, 1.0, 5);
    assert!(close(&ticks, &[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]), "{ticks:?}");
    assert_eq!(tick_label(ticks[3], 0.2), "0.6", "no 0.6000000000000001");
    let ticks = nice_ticks(-3.3, 7.9, 6);
    assert!(close(&ticks, &[-2.0, 0.0, 2.0, 4.0, 6.0]), "{ticks:?}");
    let ticks = nice_ticks(137.0, 2911.0, 6);
    assert!(close(&ticks, &[500.0, 1000.0, 1500.0, 2000.0, 2500.0]), "{ticks:?}");
    let (low, high) = nice_range(137.0, 2911.0, 6);
    assert!(close(&[low, high], &[0.0, 3000.0]), "{low} {high}");
    let (low, high) = nice_range(-0.013, 0.021, 5);
    assert!(close(&[low, high], &[-0.02, 0.03]), "{low} {high}");
    assert_eq!(nice_ticks(2.0, 2.0, 5), vec![2.0], "a point range is one tick");
    assert!(nice_ticks(f64::NAN, 1.0, 5).is_empty());
}

#[test]
fn tick_labels_carry_as_many_decimals_as_the_step() {
    assert_eq!(tick_label(1500.0, 500.0), "1500");
    assert_eq!(tick_label(0.25, 0.05), "0.25");
    assert_eq!(tick_label(-0.0, 0.5), "0.0");
    assert_eq!(TickFormat::Percent.label(0.4, 0.2), "40%");
    assert_eq!(TickFormat::Signed(" pt").label(2.0, 1.0), "+2 pt");
    assert_eq!(TickFormat::Signed("%").label(-5.0, 5.0), "-5%");
    assert_eq!(TickFormat::Signed("%").label(0.0, 5.0), "0%");
}

#[test]
fn text_is_escaped() {
    assert_eq!(
        escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
        "&lt;a href=&quot;x&quot;&gt;Tom &amp; &apos;Jerry&apos;&lt;/a&gt;"
    );
    let mut svg = Svg::new(100.0, 50.0);
    svg.text((1.0, 2.0), "p95 < 800 & rising", Anchor::Start, 12.0, "#000");
    let out = svg.finish("a \"quoted\" <title>");
    assert!(out.contains("p95 &lt; 800 &amp; rising"), "{out}");
    assert!(out.contains("aria-label=\"a &quot;quoted&quot; &lt;title&gt;\""), "{out}");
    assert!(out.contains("<title>a &quot;quoted&quot; &lt;title&gt;</title>"), "{out}");
}

#[test]
fn downsampling_keeps_both_ends_and_the_order() {
    let points: Vec<(f64, f64)> = (0..10_000).map(|i| (i as f64, (i * i) as f64)).collect();
    let small = downsample(&points, 400);
    assert_eq!(small.len(), 400);
    assert_eq!(small[0], points[0]);
    assert_eq!(small[399], points[9_999]);
    assert!(small.windows(2).all(|w| w[0].0 < w[1].0), "strictly increasing, no repeats");
    assert_eq!(downsample(&points[..5], 400), points[..5].to_vec(), "short input is kept whole");
    assert_eq!(downsample(&points[..5], 1), vec![points[0], points[4]], "both ends even when asked for one");
    assert!(downsample::<(f64, f64)>(&[], 10).is_empty());
}

#[test]
fn step_lines_go_flat_then_up() {
    let steps = step_points(&[(1.0, 0.5), (3.0, 1.0)], 0.0);
    assert_eq!(steps, [(1.0, 0.0), (1.0, 0.5), (3.0, 0.5), (3.0, 1.0)]);
}

#[test]
fn scales_map_linearly_and_flip() {
    let y = Scale::new((0.0, 1.0), (300.0, 20.0));
    assert_eq!(y.map(0.0), 300.0);
    assert_eq!(y.map(1.0), 20.0);
    assert_eq!(y.map(0.5), 160.0);
    assert_eq!(Scale::new((2.0, 2.0), (0.0, 10.0)).map(2.0), 0.0, "an empty domain does not divide by zero");
}

#[test]
fn a_line_chart_draws_each_series_within_its_point_budget() {
    let many: Vec<(f64, f64)> = (0..5_000).map(|i| (i as f64, i as f64 / 5_000.0)).collect();
    let series = [
        Series { name: "stable <1.2>".into(), points: many.clone(), colour: "#00f".into(), dashed: false, step: true },
        Series { name: "boundary".into(), points: many, colour: "#f00".into(), dashed: true, step: false },
    ];
    let options = ChartOptions {
        title: "z & boundary".into(),
        references: vec![Reference::Horizontal(0.95, "p95".into())],
        ..ChartOptions::default()
    };
    let out = line_chart(&series, "minutes", "evidence z", &options);
    assert_eq!(out.matches("<svg").count(), 1);
    assert_eq!(out.matches("<polyline").count(), 2);
    for line in out.lines().filter(|l| l.starts_with("<polyline")) {
        let vertices =
            line.split("points=\"").nth(1).map_or(0, |rest| rest.split('"').next().map_or(0, |p| p.split(' ').count()));
        assert!(vertices <= 400, "{vertices} vertices");
        assert!(vertices >= 200, "{vertices} vertices");
    }
    assert!(out.contains("stable &lt;1.2&gt;"), "legend escaped");
    assert!(out.contains("z &amp; boundary"), "title escaped");
    assert!(out.contains("stroke-dasharray"), "the dashed series and the reference line");
    assert!(out.contains(">minutes</text>") && out.contains(">evidence z</text>"), "axis labels");
    let empty = line_chart(&[], "x", "y", &ChartOptions::default());
    assert!(empty.contains("no data"));
}
