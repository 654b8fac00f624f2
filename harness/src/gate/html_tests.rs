//! `compare.html` from a small hand-made comparison: what it says, that
//! it stands alone, and that a browser draws it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use voicegate_agent::call_metrics::{BargeInMetrics, CallMetrics, MetricsSource, Segment, TurnMetrics};

use super::*;

/// A deterministic spread in [0, 1).
fn spread(i: usize) -> f64 {
    ((i as u64).wrapping_mul(2_654_435_761) % 1000) as f64 / 1000.0
}

fn call(version: &str, i: usize, slower: f64, error: bool) -> CallMetrics {
    let accent = ["us", "rp", "scottish", "caribbean"][i % 4];
    CallMetrics {
        schema: 1,
        call_id: format!("{version}-{i}"),
        agent_version: version.into(),
        source: MetricsSource::Harness,
        started_ms: Some(i as u64 * 1000),
        duration_ms: 60_000,
        // Nobody judged the task: task completion has no data.
        task_completed: None,
        error,
        error_kinds: if error { vec!["llm_fallback".into()] } else { Vec::new() },
        reprompts: 0,
        turns: (0..8)
            .map(|t| TurnMetrics {
                latency_ms: Some((550.0 + 900.0 * spread(i * 8 + t).powi(3)) * slower),
                stages: None,
            })
            .collect(),
        barge_ins: (0..2)
            .map(|b| BargeInMetrics {
                // One barge-in an arm measured at 0 ms, which the gate leaves out.
                stop_latency_ms: if i == 5 && b == 0 {
                    0.0
                } else {
                    (120.0 + 200.0 * spread(i * 2 + b + 7).powi(2)) * slower
                },
                truncation_ok: Some(true),
            })
            .collect(),
        false_barge_ins: 0,
        word_error_rate: None,
        isolation_violations: None,
        findings: Vec::new(),
        segment: Segment {
            accent: Some(accent.into()),
            noise: Some("babble 10-20 dB".into()),
            phone: Some(true),
            intent: None,
        },
    }
}

fn report() -> ComparisonReport {
    let stable: Vec<CallMetrics> = (0..60).map(|i| call("agent@1.2.0", i, 1.0, i % 20 == 0)).collect();
    // The canary is slower and fails Scottish callers.
    let canary: Vec<CallMetrics> =
        (0..60).map(|i| call("agent@1.3.0 <rc>", i, 1.15, i % 4 == 2 || i % 20 == 0)).collect();
    let config = GateConfig { resamples: 200, tail_samples: 2.0, ..GateConfig::default() };
    let judgement = judge(&stable, &canary, &config, &|m| config.alpha_of(m), true, 7);
    let examples = vec![
        Example {
            call_id: "call <1>".into(),
            why: "llm_fallback & dropped".into(),
            record: Some("records/c 1.jsonl".into()),
        },
        Example { call_id: "c2".into(), why: "task not completed".into(), record: None },
    ];
    ComparisonReport::new(
        (ArmInfo::of(Path::new("runs/stable"), &stable), &stable),
        (ArmInfo::of(Path::new("runs/canary \"rc\""), &canary), &canary, examples),
        &config,
        judgement,
        7,
    )
}

#[test]
fn the_page_shows_the_verdict_the_table_and_a_plot_each() {
    let report = report();
    let page = html(&report);
    let verdict = report.judgement.verdict.name();
    assert_eq!(verdict, "ROLLBACK", "the canary fails a quarter of its calls: {:?}", report.judgement.reasons);
    assert!(page.contains(&format!("<span class=\"word\">{verdict}</span>")));
    assert!(page.contains("<title>Canary comparison: ROLLBACK</title>"));
    for reason in &report.judgement.reasons {
        assert!(page.contains(&svg::escape(reason)), "reason shown: {reason}");
    }
    // A plot per metric and the two CDFs.
    assert_eq!(page.matches("<svg").count(), Metric::ALL.len() + 2);
    for m in &report.judgement.metrics {
        assert!(page.contains(&format!("<tr><td>{}</td>", m.name)), "a row for {}", m.name);
    }
    assert!(page.contains("insufficient data"), "task completion had no judged call");
    assert!(page.contains("task failures"));
    assert!(page.contains("difference [90% interval]"));
    for m in &report.judgement.metrics {
        assert!(page.contains(&svg::escape(&difference(m.metric, m.margin))), "margin of {}", m.name);
    }
    assert!(page.contains("Heard turn latency") && page.contains("Barge-in stop latency"));
    assert!(!page.contains("samples of 0 ms left out"), "the report keeps only what the gate reads");
    assert_eq!(page.matches("(n=119)").count(), 4, "the CDFs count the samples the metric table counts");
    assert!(page.contains("class=\"flag\""), "the Scottish segment is flagged");
    assert!(page.contains("<td>scottish</td>"));
    // Escaped everywhere: versions, sources, call ids, reasons.
    assert!(page.contains("agent@1.3.0 &lt;rc&gt;") && !page.contains("<rc>"));
    assert!(page.contains("runs/canary &quot;rc&quot;"));
    assert!(page.contains("<code>call &lt;1&gt;</code>: llm_fallback &amp; dropped"));
    assert!(page.contains("<a href=\"records/c%201.jsonl\">record</a>"));
    assert_eq!(page.matches("<a ").count(), 1, "a link only where a record is kept");
}

#[test]
fn the_page_references_nothing_outside_itself() {
    let page = html(&report());
    assert!(!page.contains("http://") && !page.contains("https://"), "no network address at all");
    assert!(!page.contains("<script"), "no script");
    for attribute in ["src=", "href=", "url("] {
        for (at, _) in page.match_indices(attribute) {
            let target = &page[at + attribute.len()..(at + attribute.len() + 40).min(page.len())];
            let target = target.trim_start_matches(['"', '\'']);
            assert!(
                target.starts_with("records/") || target.starts_with("file://") || target.starts_with("#clip"),
                "{attribute}{target}"
            );
        }
    }
    assert!(page.len() < 200_000, "{} bytes", page.len());
}

#[test]
fn record_links_are_encoded_and_absolute_paths_become_file_urls() {
    assert_eq!(record_href("records/a b#1.jsonl"), "records/a%20b%231.jsonl");
    assert_eq!(record_href("/tmp/run/records/c1.jsonl"), "file:///tmp/run/records/c1.jsonl");
}

#[test]
fn a_cdf_keeps_at_most_its_budget_and_both_ends() {
    let samples: Vec<f64> = (0..10_000).map(|i| i as f64).collect();
    let points = cdf_points(&samples, 200);
    assert_eq!(points.len(), 200);
    assert_eq!(points[0], (0.0, 1.0 / 10_000.0));
    assert_eq!(points[199], (9_999.0, 1.0));
    assert!(cdf_points(&[], 200).is_empty());
}

/// Chromium on PATH, if installed.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

#[test]
fn headless_chromium_draws_the_page() {
    let Some(browser) = chromium() else {
        println!("skipped: chromium not installed (apt-get install chromium)");
        return;
    };
    let dir = tempfile::tempdir().expect("a temporary folder");
    let page = dir.path().join("compare.html");
    std::fs::write(&page, html(&report())).expect("the page is written");
    let png = dir.path().join("compare.png");
    let mut child = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1400,2000",
        ])
        .arg(format!("--user-data-dir={}", dir.path().join("profile").display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if child.try_wait().expect("chromium can be waited on").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} took more than 90 s to take a screenshot", browser.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let bytes = std::fs::read(&png).expect("chromium wrote the screenshot");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    // A blank 1400x2000 page compresses to a few KB; text and plots do not.
    assert!(bytes.len() > 60_000, "{} bytes: is the page blank?", bytes.len());
    if let Some(keep) = std::env::var_os("VOICEGATE_HTML_SCREENSHOT") {
        std::fs::copy(&png, &keep).expect("the screenshot is kept");
        std::fs::copy(&page, Path::new(&keep).with_extension("html")).expect("the page is kept");
    }
}
