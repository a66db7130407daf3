//! The Grafana dashboard and the Prometheus alert rules in `ops/` select only documented
//! series: every query names a metric of the README's table, with the suffixes the
//! Prometheus exporter gives a histogram's parts (`_bucket`, `_sum`, `_count`); and the
//! dashboard shows every metric. Grafana is not at hand, and Prometheus's own checks
//! (`scripts/prometheus-check`) accept any name: this is what catches a misspelt series.

use std::collections::BTreeSet;

use marketplace_metering::metrics;

const DASHBOARD: &str = include_str!("../ops/grafana-dashboard.json");
const RULES: &str = include_str!("../ops/prometheus-rules.yml");
const RULE_TESTS: &str = include_str!("../ops/prometheus-rules.test.yml");

/// The series a scrape can hold: each documented metric by the type the README's table
/// gives it, a histogram as its three parts.
fn exported() -> BTreeSet<String> {
    let readme = include_str!("../README.md");
    let mut exported = BTreeSet::new();
    for name in metrics::ALL {
        let row = readme
            .lines()
            .find(|line| line.starts_with(&format!("| `{name}` |")))
            .unwrap_or_else(|| panic!("{name} is not in the README's table"));
        let kind = row.split('|').nth(2).map(str::trim);
        match kind {
            Some("counter" | "gauge") => {
                exported.insert(name.to_owned());
            }
            Some("histogram") => {
                for part in ["_bucket", "_sum", "_count"] {
                    exported.insert(format!("{name}{part}"));
                }
            }
            other => panic!("{name}: unknown type {other:?}"),
        }
    }
    exported
}

/// The metric names a `PromQL` expression selects: its identifiers, less strings, label
/// matchers (`{...}`), ranges (`[...]`), grouping labels (`by (...)`, `on (...)`, ...),
/// functions (an identifier before `(`), keywords and aggregations, numbers and Grafana's
/// `$variables`.
fn selected(expr: &str) -> Vec<String> {
    const GROUPING: [&str; 6] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    // Binary operators, modifiers, and the aggregations (`sum by (le) (...)`: no `(` next).
    const KEYWORDS: [&str; 19] = [
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "inf",
        "nan",
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let mut names = Vec::new();
    let mut at = 0;
    // Skips from an opening `open` at `at` to just past its `close`.
    let skip = |at: usize, close: char| {
        let end = chars[at + 1..].iter().position(|&c| c == close);
        at + 2 + end.unwrap_or_else(|| panic!("{expr}: `{}` not closed", chars[at]))
    };
    while at < chars.len() {
        let c = chars[at];
        match c {
            '"' | '\'' | '`' => at = skip(at, c),
            '{' => at = skip(at, '}'),
            '[' => at = skip(at, ']'),
            '$' | '0'..='9' | '.' => {
                // A variable, a number or a duration: letters, digits and `_` to its end.
                at += 1;
                while at < chars.len() && (chars[at].is_alphanumeric() || "_.".contains(chars[at]))
                {
                    at += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = at;
                while at < chars.len()
                    && (chars[at].is_ascii_alphanumeric() || "_:".contains(chars[at]))
                {
                    at += 1;
                }
                let word: String = chars[start..at].iter().collect();
                let mut next = at;
                while next < chars.len() && chars[next].is_whitespace() {
                    next += 1;
                }
                let call = chars.get(next) == Some(&'(');
                if GROUPING.contains(&word.as_str()) {
                    // `group_left` may have no labels.
                    if call {
                        at = skip(next, ')');
                    }
                } else if !call && !KEYWORDS.contains(&word.as_str()) {
                    names.push(word);
                }
            }
            _ => at += 1,
        }
    }
    names
}

/// The dashboard's queries: every panel target's `expr`, and the metric each query
/// variable's `label_values(metric, label)` reads.
fn dashboard_queries(dashboard: &str) -> Vec<String> {
    let dashboard: serde_json::Value = serde_json::from_str(dashboard).unwrap();
    let mut queries = Vec::new();
    let mut values = vec![&dashboard];
    while let Some(value) = values.pop() {
        match value {
            serde_json::Value::Object(object) => {
                if let Some(serde_json::Value::String(expr)) = object.get("expr") {
                    queries.push(expr.clone());
                }
                values.extend(object.values());
            }
            serde_json::Value::Array(array) => values.extend(array),
            _ => {}
        }
    }
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    for variable in variables
        .iter()
        .filter(|variable| variable["type"] == "query")
    {
        let query = variable["query"]["query"].as_str().unwrap();
        let metric = query
            .strip_prefix("label_values(")
            .and_then(|rest| rest.split_once(','))
            .map(|(metric, _label)| metric.trim());
        queries.push(metric.unwrap_or_else(|| panic!("{query}")).to_owned());
    }
    queries
}

/// The rules' `expr`s, on one line or folded (`>-`, `|`) over the lines indented below.
fn rule_exprs(rules: &str) -> Vec<String> {
    let lines: Vec<&str> = rules.lines().collect();
    let mut exprs = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let Some(expr) = line.trim_start().strip_prefix("expr:") else {
            continue;
        };
        let expr = expr.trim();
        if ["|", "|-", ">", ">-"].contains(&expr) {
            let indent = line.len() - line.trim_start().len();
            let folded: Vec<&str> = lines[index + 1..]
                .iter()
                .take_while(|next| next.len() - next.trim_start().len() > indent)
                .map(|next| next.trim())
                .collect();
            exprs.push(folded.join(" "));
        } else {
            exprs.push(expr.to_owned());
        }
    }
    exprs
}

/// The input series of the rules' unit tests: `- series: 'name{...}'`.
fn test_series(tests: &str) -> Vec<String> {
    tests
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("- series:"))
        .map(|series| series.trim().trim_matches('\'').to_owned())
        .collect()
}

/// Each query naming a series not exported, or none: `(query, what is wrong)`.
fn undocumented(queries: &[String]) -> Vec<(String, String)> {
    let exported = exported();
    let mut wrong = Vec::new();
    for query in queries {
        let names = selected(query);
        if names.is_empty() {
            wrong.push((query.clone(), "selects no series".to_owned()));
        }
        for name in names.into_iter().filter(|name| !exported.contains(name)) {
            wrong.push((query.clone(), name));
        }
    }
    wrong
}

#[test]
fn every_dashboard_query_names_documented_series_and_every_metric_is_shown() {
    let queries = dashboard_queries(DASHBOARD);
    assert!(queries.len() > 20, "{queries:#?}");
    assert_eq!(undocumented(&queries), []);
    let shown: BTreeSet<String> = queries.iter().flat_map(|query| selected(query)).collect();
    for name in metrics::ALL {
        assert!(
            shown.iter().any(|series| series.starts_with(name)),
            "the dashboard does not show {name}"
        );
    }
}

#[test]
fn every_alert_rule_and_its_tests_name_documented_series() {
    let exprs = rule_exprs(RULES);
    let alerts = RULES.matches("- alert:").count();
    assert_eq!(exprs.len(), alerts, "{exprs:#?}");
    assert!(alerts >= 10, "{alerts}");
    assert_eq!(undocumented(&exprs), []);
    assert_eq!(undocumented(&test_series(RULE_TESTS)), []);
}

#[test]
fn a_misspelt_series_is_caught() {
    let misspelt = RULES.replace(
        "metering_records_near_deadline{level=\"error\"}",
        "metering_record_near_deadline{level=\"error\"}",
    );
    assert_ne!(misspelt, RULES);
    let wrong = undocumented(&rule_exprs(&misspelt));
    assert_eq!(
        wrong,
        [(
            "max(metering_record_near_deadline{level=\"error\"}) > 0".to_owned(),
            "metering_record_near_deadline".to_owned()
        )]
    );
    // A histogram is selected by its parts, not its own name.
    let whole = DASHBOARD.replace(
        "metering_commit_duration_seconds_bucket",
        "metering_commit_duration_seconds",
    );
    let wrong = undocumented(&dashboard_queries(&whole));
    assert_eq!(wrong.len(), 2, "{wrong:#?}");
    assert!(
        wrong
            .iter()
            .all(|(_, name)| name == "metering_commit_duration_seconds"),
        "{wrong:#?}"
    );
}

#[test]
fn queries_are_read_as_prometheus_reads_them() {
    let expr = "histogram_quantile(0.99, sum by (le) (rate(metering_commit_duration_seconds_bucket\
                {instance=~\"$instance\", stage=\"seal\"}[$__rate_interval]))) \
                / on (instance) group_left sum without (outcome) (metering_records offset 5m) \
                and time() - metering_last_flush_timestamp_seconds > 1e3";
    assert_eq!(
        selected(expr),
        [
            "metering_commit_duration_seconds_bucket",
            "metering_records",
            "metering_last_flush_timestamp_seconds"
        ]
    );
    assert_eq!(
        rule_exprs(
            "  - alert: A\n    expr: >-\n      a > 0\n      and b\n    for: 5m\n  - alert: B\n    expr: c\n"
        ),
        ["a > 0 and b", "c"]
    );
}

#[test]
fn the_dashboard_is_laid_out_on_grafanas_grid() {
    let dashboard: serde_json::Value = serde_json::from_str(DASHBOARD).unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    let mut ids = BTreeSet::new();
    let mut cells = BTreeSet::new();
    for panel in panels {
        let title = &panel["title"];
        assert!(
            ids.insert(panel["id"].as_u64().unwrap()),
            "{title}: id twice"
        );
        if panel["type"] != "row" {
            assert!(!panel["targets"].as_array().unwrap().is_empty(), "{title}");
            assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}");
        }
        // Grafana's grid is 24 columns wide; no two panels share a cell.
        let at = |key: &str| panel["gridPos"][key].as_u64().unwrap();
        assert!(at("x") + at("w") <= 24, "{title}: past the grid");
        for x in at("x")..at("x") + at("w") {
            for y in at("y")..at("y") + at("h") {
                assert!(cells.insert((x, y)), "{title} overlaps another panel");
            }
        }
    }
}
