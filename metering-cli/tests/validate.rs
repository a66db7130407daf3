//! `metering validate` and `metering plan` on real files, through the built binary.

mod common;

use common::{Files, NOW, entry, json_lines, metering};
use serde_json::json;

/// Runs `metering ARGS... PATH`.
fn run(args: &[&str], path: &std::path::Path) -> std::process::Output {
    metering().args(args).arg(path).output().unwrap()
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_valid_request_file_passes() {
    let files = Files::new();
    let mut records: Vec<_> = (0..3).map(|i| entry("111122223333", "api", i, 5)).collect();
    for record in &mut records {
        record.as_object_mut().unwrap().remove("ProductCode");
    }
    let body = json!({"ProductCode": "prod-a", "UsageRecords": records});
    let path = files.write("request.json", serde_json::to_string_pretty(&body).unwrap());
    let output = run(&["validate", "--now", NOW], &path);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(
        stdout(&output).starts_with("3 of 3 records valid"),
        "{}",
        stdout(&output)
    );
}

/// A file with one valid record and then one of each kind of bad record.
fn every_kind_of_bad_record(files: &Files) -> std::path::PathBuf {
    let mut bad_tag = entry("111122223333", "api", 1, 5);
    bad_tag["UsageAllocations"] =
        json!([{"AllocatedUsageQuantity": 5, "Tags": [{"Key": "env?", "Value": "prod"}]}]);
    let lines = [
        entry("111122223333", "api", 1, 5).to_string(),
        entry("111122223333", "api", 1, -1).to_string(),
        entry("111122223333", "", 1, 5).to_string(),
        bad_tag.to_string(),
        entry("not-digits", "api", 1, 5).to_string(),
        entry("111122223333", "api", 1, 5)
            .to_string()
            .replace("\"Quantity\":5", "\"Quantity\":\"5\""),
        r#"{"ProductCode": "prod-a", "Timestamp": "#.to_owned(),
        entry("111122223333", "api", 30, 5).to_string(),
        entry("111122223333", "api", -1, 5).to_string(),
    ];
    files.write("usage.jsonl", lines.join("\n"))
}

#[test]
fn every_kind_of_bad_record_gets_a_verdict_naming_record_field_rule_and_value() {
    let files = Files::new();
    let path = every_kind_of_bad_record(&files);
    let output = run(&["validate", "--format", "json", "--now", NOW], &path);
    assert_eq!(output.status.code(), Some(1));
    let verdicts = json_lines(&output.stdout);
    let seen: Vec<_> = verdicts[..verdicts.len() - 1]
        .iter()
        .map(|v| {
            (
                v["record"].as_u64().unwrap(),
                v["kind"].as_str().unwrap(),
                v["field"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (2, "rule", Some("Quantity")),
            (3, "rule", Some("Dimension")),
            (4, "rule", Some("UsageAllocations[0].Tags[0].Key")),
            (5, "rule", Some("CustomerAWSAccountId")),
            (6, "type", Some("Quantity")),
            (7, "malformed", None),
            (8, "unsendable", Some("Timestamp")),
            (9, "unsendable", Some("Timestamp")),
        ]
    );
    assert_eq!(verdicts[0]["value"], "-1");
    assert_eq!(verdicts[0]["line"], 2);
    assert!(
        verdicts[2]["rule"].as_str().unwrap().contains("'?'"),
        "{}",
        verdicts[2]
    );
    assert!(
        verdicts[4]["rule"]
            .as_str()
            .unwrap()
            .contains("must be an integer"),
        "{}",
        verdicts[4]
    );
    assert!(
        verdicts[6]["rule"].as_str().unwrap().contains("24h"),
        "{}",
        verdicts[6]
    );
    assert!(
        verdicts[7]["rule"]
            .as_str()
            .unwrap()
            .contains("ahead of now"),
        "{}",
        verdicts[7]
    );
    let summary = &verdicts.last().unwrap()["summary"];
    assert_eq!(
        (
            &summary["records"],
            &summary["valid"],
            &summary["broken_rule"],
            &summary["wrong_type"],
            &summary["malformed"],
            &summary["unsendable"]
        ),
        (
            &json!(9),
            &json!(1),
            &json!(4),
            &json!(1),
            &json!(1),
            &json!(2)
        )
    );
}

#[test]
fn verdicts_for_people_fit_one_line_without_colour() {
    let files = Files::new();
    let path = every_kind_of_bad_record(&files);
    let output = run(&["validate", "--now", NOW], &path);
    let text = stdout(&output);
    assert!(
        text.contains(&format!(
            "invalid {}:2 (record 2): Quantity: must be an integer",
            path.display()
        )),
        "{text}"
    );
    assert!(text.contains("(value: \"-1\")"), "{text}");
    assert!(text.contains("1 of 9 records valid"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "no colour when NO_COLOR is set or output is not a terminal"
    );
}

#[test]
fn the_month_end_cut_off_is_applied_at_the_time_given() {
    let files = Files::new();
    let last_hour = json!({"ProductCode": "prod-a", "Timestamp": "2026-11-30T23:00:00Z",
        "CustomerAWSAccountId": "111122223333", "Dimension": "api", "Quantity": 1});
    let path = files.lines("late.jsonl", &[last_hour]);
    let before = run(&["validate", "--now", "2026-12-01T05:59:59Z"], &path);
    assert_eq!(before.status.code(), Some(0), "{}", stdout(&before));
    let after = run(&["validate", "--now", "2026-12-01T06:00:00Z"], &path);
    assert_eq!(after.status.code(), Some(1));
    assert!(
        stdout(&after).contains("previous month"),
        "{}",
        stdout(&after)
    );
}

#[test]
fn the_product_code_comes_from_the_flag_for_lines_without_one() {
    let files = Files::new();
    let mut record = entry("111122223333", "api", 1, 5);
    record.as_object_mut().unwrap().remove("ProductCode");
    let path = files.lines("no-product.jsonl", &[record.clone()]);
    let without = run(&["validate", "--now", NOW], &path);
    assert_eq!(without.status.code(), Some(1));
    assert!(
        stdout(&without)
            .contains("ProductCode: is required; give it on the line or with --product-code"),
        "{}",
        stdout(&without)
    );
    // A licensed record has no product: the flag's is not applied to it.
    let licensed = json!({"Timestamp": "2026-11-26T11:00:00Z", "CustomerAWSAccountId": "111122223333",
        "LicenseArn": "arn:aws:license-manager::111122223333:license:l-1", "Dimension": "api", "Quantity": 1});
    let path = files.lines("no-product.jsonl", &[record, licensed]);
    let with = run(
        &["validate", "--now", NOW, "--product-code", "prod-a"],
        &path,
    );
    assert_eq!(with.status.code(), Some(0), "{}", stdout(&with));
}

#[test]
fn empty_missing_and_malformed_files_are_named_and_the_others_still_checked() {
    let files = Files::new();
    let empty = files.write("empty.json", "\n\n");
    let missing = files.path("missing.json");
    let broken = files.write(
        "broken.json",
        "{\"ProductCode\": \"prod-a\",\n \"UsageRecords\": [",
    );
    let good = files.lines("good.jsonl", &[entry("111122223333", "api", 1, 5)]);
    let output = metering()
        .args(["validate", "--now", NOW])
        .args([&empty, &missing, &broken, &good])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(3),
        "an unreadable file is a failure, not a verdict"
    );
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(errors.contains("empty.json: holds no records"), "{errors}");
    assert!(errors.contains("missing.json: cannot read"), "{errors}");
    assert!(
        errors.contains("broken.json: EOF while parsing"),
        "{errors}"
    );
    assert!(
        stdout(&output).contains(
            "1 of 1 records valid in 4 file(s) at 2026-11-26T12:00:00Z; 3 file(s) not read whole"
        ),
        "{}",
        stdout(&output)
    );

    let only_empty = run(&["validate", "--now", NOW], &empty);
    assert_eq!(only_empty.status.code(), Some(1));
}

#[test]
fn standard_input_is_read_for_a_dash() {
    let body = json!({"ProductCode": "prod-a", "UsageRecords": [
        {"Timestamp": 1_795_690_800, "CustomerAWSAccountId": "111122223333", "Dimension": "api", "Quantity": 1},
        {"Timestamp": 1_795_690_800, "CustomerAWSAccountId": "111122223333", "Quantity": 1}
    ]});
    let output = metering()
        .args(["validate", "--now", NOW, "-"])
        .write_stdin(body.to_string())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("invalid - (record 2, UsageRecords[1]): Dimension: is required"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn a_file_of_100_000_records_is_validated_whole() {
    let files = Files::new();
    let entries: Vec<_> = (0..100_000)
        .map(|i| entry(&format!("{:012}", i % 5_000), "api", i % 20, i))
        .collect();
    let path = files.lines("large.jsonl", &entries);
    let output = run(&["validate", "--now", NOW], &path);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(
        stdout(&output).starts_with("100000 of 100000 records valid"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn plan_shows_requests_merges_and_what_it_keeps_back() {
    let files = Files::new();
    let mut entries: Vec<_> = (0..30)
        .map(|i| entry(&format!("{i:012}"), "api", 1, 2))
        .collect();
    entries.push(entry("000000000000", "api", 1, 3)); // same key as the first: merged
    entries.push(entry("000000000000", "api", 30, 3)); // too old: kept back
    let path = files.lines("usage.jsonl", &entries);
    let output = run(&["plan", "--format", "json", "--now", NOW], &path);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a record kept back is a problem to look at"
    );
    let lines = json_lines(&output.stdout);
    let requests: Vec<_> = lines
        .iter()
        .filter(|l| l.get("request").is_some())
        .collect();
    assert_eq!(
        requests
            .iter()
            .map(|r| r["records"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [25, 5]
    );
    assert!(
        requests
            .iter()
            .all(|r| r["product_code"] == "prod-a" && r["bytes"].as_u64().unwrap() > 0)
    );
    let kept: Vec<_> = lines
        .iter()
        .filter(|l| l.get("quarantined").is_some())
        .collect();
    assert_eq!(kept.len(), 1);
    assert!(
        kept[0]["reason"].as_str().unwrap().contains("24h"),
        "{}",
        kept[0]
    );
    let summary = &lines.last().unwrap()["summary"];
    assert_eq!(
        (
            &summary["records_read"],
            &summary["merged"],
            &summary["records_to_send"]
        ),
        (&json!(32), &json!(1), &json!(30))
    );
}

/// `metering_cli::validate` is the command in this process, its report without colour.
#[test]
fn validate_runs_in_process_writing_where_it_is_told() {
    let files = Files::new();
    let usage = files.lines(
        "usage.jsonl",
        &[entry("111122223333", "api", 1, 5), json!({"Dimension": 7})],
    );
    let mut out = Vec::new();
    let usage = usage.to_string_lossy().into_owned();
    let exit = metering_cli::validate(["--now", NOW, &usage], &mut out).unwrap();
    assert_eq!(exit, std::process::ExitCode::from(1));
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains('\u{1b}'), "{text:?}");
    assert!(text.contains("usage.jsonl:2 (record 2)"), "{text}");
    assert!(text.contains("1 of 2 records valid"), "{text}");
    let error = metering_cli::validate(["--no-such-flag"], &mut std::io::sink()).unwrap_err();
    assert!(error.to_string().contains("--no-such-flag"), "{error}");
}

#[test]
fn a_typo_in_a_member_name_is_refused_with_the_name_meant() {
    let files = Files::new();
    let mut typo = entry("111122223333", "api", 1, 10);
    let quantity = typo.as_object_mut().unwrap().remove("Quantity").unwrap();
    typo["Quantiy"] = quantity;
    let mut account = entry("111122223333", "api", 2, 10);
    let id = account
        .as_object_mut()
        .unwrap()
        .remove("CustomerAWSAccountId")
        .unwrap();
    account["CustomerAwsAccountId"] = id;
    let mut no_quantity = entry("111122223333", "api", 3, 1);
    no_quantity.as_object_mut().unwrap().remove("Quantity");
    let path = files.lines("typo.jsonl", &[typo, account, no_quantity]);
    let output = run(&["validate", "--now", NOW], &path);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    for expected in [
        r#"typo.jsonl:1 (record 1): Quantiy: is not a member the service model defines; did you mean "Quantity"?"#,
        r#"typo.jsonl:2 (record 2): CustomerAwsAccountId: is not a member the service model defines; did you mean "CustomerAWSAccountId"?"#,
        "typo.jsonl:3 (record 3): Quantity: is required (or QuantityAsDecimal in its place)",
        "0 of 3 records valid",
    ] {
        assert!(text.contains(expected), "{expected}\n{text}");
    }
    // Asked for by name, the service's reading: the typo is ignored and the quantity is 0.
    let lenient = run(
        &["plan", "--lenient", "--format", "json", "--now", NOW],
        &path,
    );
    let lines = json_lines(&lenient.stdout);
    let summary = &lines.last().unwrap()["summary"];
    assert_eq!(summary["records_read"], 2, "{lines:?}");

    // A request's own members too.
    let body = json!({"ProductCode": "prod-a", "UsageRecord": []});
    let path = files.write("request.json", serde_json::to_string_pretty(&body).unwrap());
    let output = run(&["validate", "--now", NOW], &path);
    assert_eq!(output.status.code(), Some(1));
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(
        errors.contains(r#"UsageRecord: is not a member of a BatchMeterUsage request; did you mean "UsageRecords"?"#),
        "{errors}"
    );
}

#[test]
fn timestamps_are_epoch_seconds_or_rfc_3339_in_every_file() {
    let files = Files::new();
    let seconds = entry("111122223333", "api", 1, 5); // 2026-11-26T11:00:00Z
    let mut text = seconds.clone();
    text["Timestamp"] = json!("2026-11-26T11:00:00Z");
    let mut lines = Vec::new();
    for mut record in [seconds, text] {
        lines.push(record.clone());
        record.as_object_mut().unwrap().remove("ProductCode");
        lines.push(record);
    }
    let path = files.lines("usage.jsonl", &lines);
    let output = run(
        &["validate", "--now", NOW, "--product-code", "prod-a"],
        &path,
    );
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(
        stdout(&output).starts_with("4 of 4 records valid"),
        "{}",
        stdout(&output)
    );
    let body = json!({"ProductCode": "prod-a", "UsageRecords": [lines[1], lines[3]]});
    let path = files.write("request.json", serde_json::to_string_pretty(&body).unwrap());
    let output = run(&["validate", "--now", NOW], &path);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    // All four are one customer, dimension and hour: one record to send.
    let output = run(
        &["plan", "--now", NOW, "--product-code", "prod-a"],
        &files.path("usage.jsonl"),
    );
    assert!(
        stdout(&output).contains("1 request(s) carrying 1 record(s)"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn a_malformed_file_is_an_error_and_none_of_its_records_counts() {
    let files = Files::new();
    let mut good = entry("111122223333", "api", 1, 5);
    good.as_object_mut().unwrap().remove("ProductCode");
    let text = format!(
        "{{\n  \"ProductCode\": \"prod-a\",\n  \"UsageRecords\": [\n    {good},\n  ]\n}}\n"
    );
    let path = files.write("trailing-comma.json", text);
    let output = run(&["validate", "--now", NOW], &path);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).starts_with(
            "0 of 1 records valid in 1 file(s) at 2026-11-26T12:00:00Z; 1 file(s) not read whole"
        ),
        "{}",
        stdout(&output)
    );
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(
        errors.contains("trailing-comma.json: trailing comma at line 5"),
        "{errors}"
    );
    let plan = run(&["plan", "--format", "json", "--now", NOW], &path);
    assert_eq!(plan.status.code(), Some(1));
    let lines = json_lines(&plan.stdout);
    assert_eq!(
        lines.last().unwrap()["summary"]["records_to_send"],
        0,
        "{lines:?}"
    );
}

/// Two requests pasted into one body: the service keeps one `ProductCode` and one
/// `UsageRecords` of the two, so sending both lists under their own products is not what it
/// would do; the file is refused whole, in either reading.
#[test]
fn a_request_member_given_twice_is_refused() {
    let files = Files::new();
    let mut first = entry("111122223333", "api", 1, 5);
    let mut second = entry("444455556666", "api", 1, 5);
    first.as_object_mut().unwrap().remove("ProductCode");
    second.as_object_mut().unwrap().remove("ProductCode");
    let text = format!(
        "{{\"ProductCode\": \"prod-a\", \"UsageRecords\": [{first}],\n\"ProductCode\": \"prod-b\", \"UsageRecords\": [{second}]}}\n"
    );
    let path = files.write("twice.json", text);
    for args in [
        &["validate", "--now", NOW][..],
        &["validate", "--lenient", "--now", NOW],
    ] {
        let output = run(args, &path);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {}",
            stdout(&output)
        );
        assert!(
            stdout(&output).starts_with("0 of "),
            "{args:?}: {}",
            stdout(&output)
        );
        let errors = String::from_utf8_lossy(&output.stderr);
        assert!(
            errors.contains("twice.json: duplicate field `ProductCode` at line 2"),
            "{errors}"
        );
    }
}

/// A request's records take its `ProductCode`, as the service reads them: an entry naming
/// another product is refused, or ignored with `--lenient`; it was billed to that product.
#[test]
fn a_record_of_a_request_takes_the_request_s_product() {
    let files = Files::new();
    let own = entry("111122223333", "api", 1, 5);
    assert_eq!(own["ProductCode"], "prod-a");
    let body = json!({"ProductCode": "prod-b", "UsageRecords": [own]});
    let path = files.write("request.json", body.to_string());
    let output = run(&["validate", "--now", NOW], &path);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stdout(&output).contains(
            "(record 1, UsageRecords[0]): ProductCode: is a member of the request, not of its records"
        ),
        "{}",
        stdout(&output)
    );
    let plan = run(
        &["plan", "--lenient", "--format", "json", "--now", NOW],
        &path,
    );
    assert_eq!(plan.status.code(), Some(0), "{}", stdout(&plan));
    let lines = json_lines(&plan.stdout);
    assert_eq!(lines[0]["product_code"], "prod-b", "{lines:?}");
}

#[test]
fn a_number_beyond_range_names_its_member() {
    let files = Files::new();
    let line = entry("111122223333", "api", 1, 5)
        .to_string()
        .replace("\"Quantity\":5", "\"Quantity\":1e400");
    let path = files.write("usage.jsonl", line);
    let output = run(&["validate", "--format", "json", "--now", NOW], &path);
    let verdicts = json_lines(&output.stdout);
    assert_eq!(verdicts[0]["kind"], "malformed");
    let message = verdicts[0]["message"].as_str().unwrap();
    assert!(
        message.contains("Quantity: number out of range at line 1 column"),
        "{message}"
    );
}

#[test]
fn dimensions_are_checked_against_the_catalog_with_the_key_meant() {
    let catalog = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/catalog/describe-entity.json"
    );
    let files = Files::new();
    let path = files.lines(
        "usage.jsonl",
        &[
            entry("111122223333", "api_calls", 1, 5),
            entry("111122223333", "api_cals", 1, 5),
            entry("111122223333", "enterprise_seats", 1, 5),
        ],
    );
    let without = run(&["validate", "--now", NOW], &path);
    assert_eq!(without.status.code(), Some(0), "{}", stdout(&without));
    let output = run(&["validate", "--now", NOW, "--catalog", catalog], &path);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains(&format!(
            r#"usage.jsonl:2 (record 2): Dimension: dimension key "api_cals" is not in the catalog `{catalog}`; did you mean "api_calls"?"#
        )),
        "{text}"
    );
    assert!(
        text.contains(r#"Dimension: dimension key "enterprise_seats" is a contract dimension"#),
        "{text}"
    );
    assert!(
        text.starts_with("invalid") && text.contains("1 of 3 records valid"),
        "{text}"
    );

    let bad = files.write("catalog.json", r#"{"Dimensions": [}"#);
    let output = run(
        &["validate", "--now", NOW, "--catalog", bad.to_str().unwrap()],
        &path,
    );
    assert_eq!(output.status.code(), Some(2));
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(
        errors.contains("cannot read the catalog file") && errors.contains("line 1, column 17"),
        "{errors}"
    );
}
