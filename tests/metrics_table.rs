//! The README's metrics table names every metric the library publishes, and nothing else.

use marketplace_metering::metrics;

#[test]
fn the_readme_table_lists_every_metric_and_no_other() {
    let readme = include_str!("../README.md");
    let listed: Vec<&str> = readme
        .lines()
        .filter_map(|line| line.strip_prefix("| `metering_"))
        .filter_map(|rest| rest.split('`').next())
        .collect();
    let expected: Vec<String> = metrics::ALL
        .iter()
        .map(|name| name.trim_start_matches("metering_").to_owned())
        .collect();
    assert_eq!(listed, expected);
}
