//! The facade's features: every feature of `metering-core` can be turned on through
//! `marketplace-metering` under the same name, and each is documented (the crate docs' feature table is
//! made from those comments).

use std::collections::BTreeMap;
use std::process::Command;

/// Each package's features, from `cargo metadata`.
fn features() -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version=1", "--no-deps", "--offline"])
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "{output:?}");
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    metadata["packages"]
        .as_array()
        .expect("a list of packages")
        .iter()
        .map(|package| {
            let name = package["name"].as_str().unwrap().to_owned();
            let features = serde_json::from_value(package["features"].clone()).unwrap();
            (name, features)
        })
        .collect()
}

#[test]
fn every_runtime_feature_is_the_facades_too() {
    let packages = features();
    let facade = &packages["marketplace-metering"];
    let core = &packages["metering-core"];
    assert!(core.contains_key("submit") && core.contains_key("aws"));
    for name in core.keys() {
        let forwarded = format!("metering-core/{name}");
        assert!(
            facade
                .get(name)
                .is_some_and(|enables| enables.contains(&forwarded)),
            "`marketplace-metering` has no feature `{name}` enabling `{forwarded}`: {facade:?}"
        );
    }
}

#[test]
fn every_feature_is_documented() {
    for (manifest, text) in [
        ("Cargo.toml", include_str!("../Cargo.toml")),
        (
            "metering-core/Cargo.toml",
            include_str!("../metering-core/Cargo.toml"),
        ),
    ] {
        let section = text
            .split("\n[features]\n")
            .nth(1)
            .and_then(|rest| rest.split("\n[").next())
            .unwrap_or_else(|| panic!("{manifest} has a [features] section"));
        let mut previous = "";
        for line in section.lines() {
            let Some((name, _)) = line.split_once(" = ") else {
                previous = line;
                continue;
            };
            assert!(
                name == "default" || previous.starts_with("## "),
                "{manifest}: feature `{name}` has no `## ` comment for the feature table"
            );
            previous = line;
        }
    }
}
