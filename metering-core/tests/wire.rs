//! The JSON wire form: service field names, validation on the way in, messages that name
//! the field, the rule and the value.

use metering_core::{
    Customer, EntryError, ProductCode, Quantity, RequestRecords, Rule, Strictness, UsageRecord,
};
use serde_json::json;

fn read(value: serde_json::Value) -> Result<UsageRecord, String> {
    serde_json::from_value(value).map_err(|e| e.to_string())
}

#[test]
fn an_entry_as_the_rust_sdk_sends_it_reads_as_is() {
    // SDK 1.124 sends an empty CustomerIdentifier beside the account ID, and fractional
    // epoch seconds.
    let body = json!({
        "ProductCode": "prod-a",
        "UsageRecords": [{
            "Timestamp": 1_795_690_800.5,
            "CustomerIdentifier": "",
            "CustomerAWSAccountId": "111122223333",
            "Dimension": "api_calls",
            "Quantity": 7
        }, {
            "Timestamp": "2026-11-26T11:00:00Z",
            "CustomerAWSAccountId": "111122223333",
            "LicenseArn": "arn:aws:license-manager::111122223333:license:l-1",
            "Dimension": "gb",
            "QuantityAsDecimal": "2.5"
        }]
    });
    let err = serde_json::from_value::<RequestRecords>(body.clone())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("UsageRecords[1].ProductCode: cannot be combined with LicenseArn"),
        "licence records travel without a product code: {err}"
    );
    let mut body = body;
    body["UsageRecords"].as_array_mut().unwrap().pop();
    let read: RequestRecords = serde_json::from_value(body).unwrap();
    let record = &read.records[0];
    assert!(
        matches!(record.customer(), Customer::Account { product, account }
        if product.as_str() == "prod-a" && account.as_str() == "111122223333")
    );
    assert_eq!(record.timestamp().unix_nanos(), 1_795_690_800_500_000_000);
    assert_eq!(record.quantity(), Quantity::new(7).unwrap());
}

#[test]
fn records_round_trip_in_every_mode_and_form() {
    for entry in [
        json!({"ProductCode": "p", "Timestamp": 1_795_690_800, "CustomerIdentifier": "c-1", "Dimension": "d", "Quantity": 3}),
        json!({"ProductCode": "p", "Timestamp": 1_795_690_800, "CustomerAWSAccountId": "1", "Dimension": "d", "Quantity": 0}),
        json!({"Timestamp": 1_795_690_800, "CustomerAWSAccountId": "1",
               "LicenseArn": "arn:aws:license-manager::1:license:l-1", "Dimension": "d", "QuantityAsDecimal": "0.25"}),
        json!({"ProductCode": "p", "Timestamp": 1_795_690_800, "CustomerAWSAccountId": "1", "Dimension": "d",
               "QuantityAsDecimal": "3.5", "UsageAllocations": [
                   {"AllocatedUsageQuantityAsDecimal": "1.5", "Tags": [{"Key": "k", "Value": "v"}]},
                   {"AllocatedUsageQuantityAsDecimal": "2", "Tags": [{"Key": "k", "Value": "w"}]}]}),
        // The bucket of usage with no tags leaves its Tags out.
        json!({"ProductCode": "p", "Timestamp": 1_795_690_800, "CustomerAWSAccountId": "1", "Dimension": "d",
               "Quantity": 5, "UsageAllocations": [
                   {"AllocatedUsageQuantity": 2},
                   {"AllocatedUsageQuantity": 3, "Tags": [{"Key": "k", "Value": "w"}]}]}),
    ] {
        let record = read(entry.clone()).unwrap();
        assert_eq!(serde_json::to_value(&record).unwrap(), entry);
    }
}

#[test]
#[allow(clippy::too_many_lines, reason = "one table of cases")]
fn bad_entries_name_the_field_the_rule_and_the_value() {
    let base = json!({"ProductCode": "p", "Timestamp": 1_795_690_800, "CustomerAWSAccountId": "1", "Dimension": "d", "Quantity": 3});
    let with = |patch: serde_json::Value| {
        let mut entry = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                entry.as_object_mut().unwrap().remove(k);
            } else {
                entry[k] = v.clone();
            }
        }
        read(entry).unwrap_err()
    };
    let cases = [
        (
            json!({"CustomerIdentifier": "c-1"}),
            "CustomerIdentifier: cannot be combined with CustomerAWSAccountId (value: \"c-1\")",
        ),
        (
            json!({"CustomerAWSAccountId": "12a"}),
            "CustomerAWSAccountId: must match ^[0-9]+$; character 'a' at position 2 is not allowed (value: \"12a\")",
        ),
        (
            json!({"CustomerAWSAccountId": null}),
            "CustomerAWSAccountId: is required",
        ),
        (json!({"ProductCode": null}), "ProductCode: is required"),
        (
            json!({"ProductCode": "p!"}),
            "ProductCode: must match ^[-a-zA-Z0-9/=:_.@]*$; character '!' at position 1",
        ),
        (
            json!({"Dimension": ""}),
            "Dimension: must be at least 1 character long, is 0",
        ),
        (
            json!({"Quantity": 2_147_483_648_u64}),
            "Quantity: must be an integer 0..=2147483647",
        ),
        (
            json!({"Quantity": -1}),
            "Quantity: must be an integer 0..=2147483647",
        ),
        (
            json!({"QuantityAsDecimal": "1.5"}),
            "QuantityAsDecimal: cannot be combined with Quantity",
        ),
        (
            json!({"Quantity": null, "QuantityAsDecimal": "1.1234567"}),
            "QuantityAsDecimal: must match ^(0|[1-9][0-9]{0,9})(\\.[0-9]{1,6})?$",
        ),
        (
            json!({"Timestamp": "yesterday"}),
            "Timestamp: must be epoch seconds or an RFC 3339 date-time (value: \"yesterday\")",
        ),
        (
            json!({"UsageAllocations": [{"AllocatedUsageQuantity": 2, "Tags": [{"Key": "k", "Value": "v"}]}]}),
            "UsageAllocations: allocated quantities must sum to the record's Quantity 3, they sum to 2",
        ),
        (
            json!({"UsageAllocations": [{"AllocatedUsageQuantityAsDecimal": "3", "Tags": [{"Key": "k", "Value": "v"}]}]}),
            "UsageAllocations: a record and its allocations must all use integer quantities or all use decimal quantities",
        ),
        (
            json!({"UsageAllocations": []}),
            "UsageAllocations: must have 1..=2500 entries, has 0",
        ),
        (
            json!({"UsageAllocations": [{"AllocatedUsageQuantity": 3, "Tags": [{"Key": "k", "Value": "v"}, {"Key": "ok", "Value": "a>b"}]}]}),
            "UsageAllocations[0].Tags[1].Value: must match ^[a-zA-Z0-9+ -=._:\\/@]+$; character '>' at position 1 is not allowed (value: \"a>b\")",
        ),
        (
            json!({"UsageAllocations": [{"AllocatedUsageQuantity": 3, "Tags": [{"Key": "k", "Value": "v"}, {"Key": "k", "Value": "w"}]}]}),
            "UsageAllocations[0].Tags[1].Key: tag keys must be unique",
        ),
        (
            json!({"UsageAllocations": [{"AllocatedUsageQuantity": 3, "Tags": []}]}),
            "UsageAllocations[0].Tags: must have 1..=5 entries, has 0",
        ),
        (
            json!({"UsageAllocations": [{"Tags": [{"Key": "k", "Value": "v"}]}]}),
            "UsageAllocations[0].AllocatedUsageQuantity: is required",
        ),
        (
            json!({"UsageAllocations": [{"AllocatedUsageQuantity": -1, "Tags": [{"Key": "k", "Value": "v"}]}]}),
            "UsageAllocations[0].AllocatedUsageQuantity: must be an integer 0..=2147483647",
        ),
        (
            json!({"Quantity": null, "QuantityAsDecimal": "3", "UsageAllocations": [{"AllocatedUsageQuantityAsDecimal": "1.1234567", "Tags": [{"Key": "k", "Value": "v"}]}]}),
            "UsageAllocations[0].AllocatedUsageQuantityAsDecimal: must match ^(0|[1-9][0-9]{0,9})(\\.[0-9]{1,6})?$",
        ),
        (
            json!({"LicenseArn": "arn:aws:license-manager::1:license:l-1"}),
            "ProductCode: cannot be combined with LicenseArn",
        ),
        (
            json!({"LicenseArn": "arn:aws:license-manager::1:license:l-1", "CustomerAWSAccountId": null, "CustomerIdentifier": "c", "ProductCode": null}),
            "CustomerIdentifier: cannot be combined with LicenseArn",
        ),
    ];
    for (patch, expected) in cases {
        let err = with(patch.clone());
        assert!(
            err.starts_with(expected),
            "{patch}:\n  got      {err}\n  expected {expected}"
        );
    }
}

#[test]
fn long_values_are_cut_short_in_messages() {
    let long = "x".repeat(300);
    let err = read(
        json!({"ProductCode": "p", "Timestamp": 1, "CustomerAWSAccountId": "1", "Dimension": long}),
    )
    .unwrap_err();
    assert!(
        err.starts_with("Dimension: must be at most 255 characters long, is 300"),
        "{err}"
    );
    assert!(
        err.contains("… (300 characters)") && err.len() < 300,
        "{err}"
    );
}

/// Every mode goes to its wire fields and back; every other combination of fields is
/// refused with the combination named, and an empty product code counts as absent.
#[test]
fn customer_fields_round_trip_and_every_bad_combination_is_named() {
    use metering_core::{
        CustomerAwsAccountId as Account, CustomerFields, CustomerFieldsError as E,
        CustomerIdentifier as Identifier, LicenseArn, ProductCode,
    };
    let product = ProductCode::new("p").unwrap();
    let empty_product = ProductCode::new("").unwrap();
    let identifier = Identifier::new("c-1").unwrap();
    let account = Account::new("111122223333").unwrap();
    let license = LicenseArn::new("arn:aws:license-manager::1:license:l-1").unwrap();
    for customer in [
        Customer::Legacy {
            product: product.clone(),
            identifier: identifier.clone(),
        },
        Customer::Account {
            product: product.clone(),
            account: account.clone(),
        },
        Customer::Licensed {
            account: account.clone(),
            license: license.clone(),
        },
    ] {
        assert_eq!(
            Customer::from_wire_fields(customer.wire_fields()).as_ref(),
            Ok(&customer)
        );
    }
    let fields = |p, i, a, l| CustomerFields {
        product_code: p,
        customer_identifier: i,
        customer_aws_account_id: a,
        license_arn: l,
    };
    let (p, i, a, l) = (
        Some(&product),
        Some(&identifier),
        Some(&account),
        Some(&license),
    );
    for (given, expected) in [
        (fields(None, None, None, None), E::MissingProduct),
        (fields(None, None, a, None), E::MissingProduct),
        (
            fields(Some(&empty_product), None, a, None),
            E::MissingProduct,
        ),
        (fields(p, None, a, l), E::ProductWithLicense),
        (fields(p, None, None, None), E::MissingCustomer),
        (fields(None, None, None, l), E::LicenseWithoutAccount),
        (fields(p, i, a, None), E::IdentifierWithAccount),
        (fields(None, i, a, l), E::IdentifierWithLicense),
    ] {
        assert_eq!(
            Customer::from_wire_fields(given),
            Err(expected),
            "{given:?}"
        );
    }
    let error = E::IdentifierWithAccount.to_validation_error(&fields(p, i, a, None));
    assert_eq!(
        error.to_string(),
        r#"CustomerIdentifier: cannot be combined with CustomerAWSAccountId (value: "c-1")"#
    );
}

#[test]
fn an_entry_read_alone_keeps_field_rule_and_value_apart() {
    let product = ProductCode::new("prod-a").unwrap();
    let entry = r#"{"Timestamp": 1795690800, "CustomerAWSAccountId": "111122223333", "Dimension": "api", "Quantity": -1}"#;
    match UsageRecord::from_entry_json(entry, Some(&product), Strictness::Strict) {
        Err(EntryError::Invalid(e)) => {
            assert_eq!(
                (e.field.as_str(), &e.rule, e.value.as_str()),
                ("Quantity", &Rule::IntegerQuantity, "-1")
            );
        }
        other => panic!("expected a rule violation, got {other:?}"),
    }
    let record = UsageRecord::from_entry_json(
        &entry.replace("-1", "4"),
        Some(&product),
        Strictness::Strict,
    )
    .unwrap();
    assert_eq!(record.customer().product(), Some(&product));
    assert!(matches!(
        UsageRecord::from_entry_json(r#"{"Quantity": "4"#, None, Strictness::Lenient),
        Err(EntryError::Json(_))
    ));
}

fn request(entries: &[serde_json::Value]) -> serde_json::Value {
    json!({"ProductCode": "prod-a", "UsageRecords": entries})
}

fn entry() -> serde_json::Value {
    json!({"Timestamp": 1_795_690_800, "CustomerAWSAccountId": "111122223333", "Dimension": "d", "Quantity": 1})
}

fn read_request(body: &str) -> Result<RequestRecords, String> {
    serde_json::from_str(body).map_err(|e| e.to_string())
}

#[test]
fn a_request_is_judged_as_the_service_judges_it() {
    // At most 25 records.
    let body = request(&vec![entry(); 25]).to_string();
    assert_eq!(read_request(&body).unwrap().records.len(), 25);
    let err = read_request(&request(&vec![entry(); 26]).to_string()).unwrap_err();
    assert!(
        err.starts_with("UsageRecords: must have 0..=25 entries, has 26"),
        "{err}"
    );

    // A record's own ProductCode is no member of a request's record: the request's bills.
    let mut other = entry();
    other["ProductCode"] = json!("prod-b");
    let read = read_request(&request(&[other.clone()]).to_string()).unwrap();
    assert_eq!(
        read.records[0].customer().product().unwrap().as_str(),
        "prod-a"
    );
    let read = UsageRecord::from_request_entry(other, None);
    assert!(
        read.unwrap_err()
            .to_string()
            .starts_with("ProductCode: is required")
    );

    // An empty ProductCode is absent.
    let body = json!({"ProductCode": "", "UsageRecords": [entry()]}).to_string();
    let err = read_request(&body).unwrap_err();
    assert!(
        err.starts_with("UsageRecords[0].ProductCode: is required"),
        "{err}"
    );

    // Timestamps in a request are epoch seconds.
    let mut text_time = entry();
    text_time["Timestamp"] = json!("2026-11-26T11:00:00Z");
    let err = read_request(&request(&[text_time]).to_string()).unwrap_err();
    assert!(
        err.starts_with("UsageRecords[0].Timestamp: must be epoch seconds (a JSON number)"),
        "{err}"
    );
}

#[test]
fn arrays_in_place_of_objects_are_refused_at_every_level() {
    let e = entry().to_string();
    for (body, expected) in [
        (r#"["prod-a", []]"#.to_owned(), "request body: must be a JSON object"),
        (
            r#"{"ProductCode":"prod-a","UsageRecords":[[1795690800,null,"111122223333",null,"d",1]]}"#.to_owned(),
            "UsageRecords[0].UsageRecords entry: must be a JSON object",
        ),
        (
            e.replace(r#""Quantity":1"#, r#""Quantity":1,"UsageAllocations":[[1]]"#),
            "UsageAllocations[0].UsageAllocations entry: must be a JSON object",
        ),
        (
            e.replace(
                r#""Quantity":1"#,
                r#""Quantity":1,"UsageAllocations":[{"AllocatedUsageQuantity":1,"Tags":[["k","v"]]}]"#,
            ),
            "Tags[0].Tags entry: must be a JSON object",
        ),
    ] {
        let body = if !body.contains("UsageRecords") && body.starts_with('{') {
            format!(r#"{{"ProductCode":"prod-a","UsageRecords":[{body}]}}"#)
        } else {
            body
        };
        let err = read_request(&body).unwrap_err();
        assert!(err.contains(expected), "{body}: {err}");
    }
}

#[test]
fn duplicate_members_are_refused_in_every_entry_point() {
    let twice = r#"{"Timestamp":1795690800,"CustomerAWSAccountId":"111122223333","Dimension":"d","Quantity":1,"Quantity":2}"#;
    let body = format!(r#"{{"ProductCode":"prod-a","UsageRecords":[{twice}]}}"#);
    let err = read_request(&body).unwrap_err();
    assert!(err.contains("duplicate field `Quantity`"), "{err}");
    let alone = twice.replace('{', r#"{"ProductCode":"prod-a","#);
    let err = serde_json::from_str::<UsageRecord>(&alone)
        .unwrap_err()
        .to_string();
    assert!(err.contains("duplicate field `Quantity`"), "{err}");
    let mut entry = serde_json::Deserializer::from_str(twice);
    let err = UsageRecord::from_request_entry(&mut entry, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("duplicate field `Quantity`"), "{err}");
}

#[test]
fn a_wrong_json_type_names_the_field_and_the_rule() {
    for (member, value, expected) in [
        (
            "Quantity",
            json!("5"),
            r#"UsageRecords[0].Quantity: must be an integer (value: "\"5\"")"#,
        ),
        (
            "Quantity",
            json!(1.5),
            r#"UsageRecords[0].Quantity: must be an integer (value: "1.5")"#,
        ),
        (
            "Quantity",
            json!(u64::MAX),
            r#"UsageRecords[0].Quantity: must be an integer 0..=2147483647 (send a larger quantity as QuantityAsDecimal) (value: "18446744073709551615")"#,
        ),
        (
            "QuantityAsDecimal",
            json!(5),
            "UsageRecords[0].QuantityAsDecimal: must be a string",
        ),
        (
            "Dimension",
            json!(["d"]),
            "UsageRecords[0].Dimension: must be a string",
        ),
        (
            "CustomerAWSAccountId",
            json!(111),
            "UsageRecords[0].CustomerAWSAccountId: must be a string",
        ),
        (
            "Timestamp",
            json!(true),
            "UsageRecords[0].Timestamp: must be epoch seconds",
        ),
        (
            "UsageAllocations",
            json!({}),
            "UsageRecords[0].UsageAllocations: must be a JSON array",
        ),
        (
            "UsageAllocations",
            json!([{"AllocatedUsageQuantity": 1, "Tags": "k=v"}]),
            "UsageRecords[0].UsageAllocations[0].Tags: must be a JSON array",
        ),
        (
            "UsageAllocations",
            json!([{"AllocatedUsageQuantity": 1, "Tags": [{"Key": 1, "Value": "v"}]}]),
            "UsageRecords[0].UsageAllocations[0].Tags[0].Key: must be a string",
        ),
    ] {
        let mut e = entry();
        e[member] = value;
        let err = read_request(&request(&[e]).to_string()).unwrap_err();
        assert!(err.starts_with(expected), "{member}: {err}");
    }
}

/// Reads a file's entry (JSON text) for `prod-a`, and says why it is refused.
fn file_entry(entry: &str, strictness: Strictness) -> Result<UsageRecord, String> {
    let product = ProductCode::new("prod-a").unwrap();
    UsageRecord::from_entry_json(entry, Some(&product), strictness).map_err(|e| e.to_string())
}

#[test]
fn a_file_read_strictly_refuses_unknown_members_with_the_one_meant() {
    let base =
        r#""Timestamp": 1795690800, "CustomerAWSAccountId": "111122223333", "Dimension": "d""#;
    for (entry, expected) in [
        (
            format!(r#"{{{base}, "Quantiy": 10}}"#),
            r#"Quantiy: is not a member the service model defines; did you mean "Quantity"?"#,
        ),
        (
            format!(r#"{{{base}, "Quantity": 1, "customerAwsAccountId": "1"}}"#),
            r#"customerAwsAccountId: is not a member the service model defines; did you mean "CustomerAWSAccountId"?"#,
        ),
        (
            format!(
                r#"{{{base}, "Quantity": 1, "UsageAllocations": [{{"AllocatedUsageQuantity": 1, "Tag": []}}]}}"#
            ),
            r#"UsageAllocations[0].Tag: is not a member the service model defines; did you mean "Tags"?"#,
        ),
        (
            format!(
                r#"{{{base}, "Quantity": 1, "UsageAllocations": [{{"AllocatedUsageQuantity": 1, "Tags": [{{"Key": "k", "Value": "v", "Note": "x"}}]}}]}}"#
            ),
            "UsageAllocations[0].Tags[0].Note: is not a member the service model defines",
        ),
        (
            format!("{{{base}}}"),
            "Quantity: is required (or QuantityAsDecimal in its place)",
        ),
    ] {
        let err = file_entry(&entry, Strictness::Strict).unwrap_err();
        assert!(err.starts_with(expected), "{entry}: {err}");
        assert!(!err.contains("(value"), "nothing to show: {err}");
    }
    // Read leniently, as the service reads a request: the typo is ignored and bills 0.
    let typo = format!(r#"{{{base}, "Quantiy": 10}}"#);
    let record = file_entry(&typo, Strictness::Lenient).unwrap();
    assert_eq!(record.quantity(), Quantity::ZERO);
    // And a request body is read as the service reads it.
    let body = format!(r#"{{"ProductCode": "prod-a", "Extra": 1, "UsageRecords": [{typo}]}}"#);
    assert_eq!(
        read_request(&body).unwrap().records[0].quantity(),
        Quantity::ZERO
    );
}

#[test]
fn a_file_entry_takes_either_timestamp_form_and_its_own_product() {
    let seconds = r#"{"Timestamp": 1795690800, "CustomerAWSAccountId": "111122223333", "Dimension": "d", "Quantity": 1}"#;
    let text = seconds.replace("1795690800", r#""2026-11-26T11:00:00Z""#);
    for strictness in [Strictness::Strict, Strictness::Lenient] {
        let a = file_entry(seconds, strictness).unwrap();
        let b = file_entry(&text, strictness).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.customer().product().unwrap().as_str(), "prod-a");
    }
    let own = text.replace('{', r#"{"ProductCode": "prod-b", "#);
    let record = file_entry(&own, Strictness::Strict).unwrap();
    assert_eq!(record.customer().product().unwrap().as_str(), "prod-b");
    // A licensed record has no product: the one given for the file is not applied to it.
    let licensed = text.replace(
        '{',
        r#"{"LicenseArn": "arn:aws:license-manager::111122223333:license:l-1", "#,
    );
    let record = file_entry(&licensed, Strictness::Strict).unwrap();
    assert_eq!(record.customer().product(), None);
    assert!(matches!(record.customer(), Customer::Licensed { .. }));
    // Without a product anywhere, the customer mode says what is missing.
    let err = UsageRecord::from_entry_json(&text, None, Strictness::Strict).unwrap_err();
    assert!(
        err.to_string().starts_with("ProductCode: is required"),
        "{err}"
    );
}

#[test]
fn an_error_inside_a_value_names_the_member() {
    let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    for (member, value) in [
        ("Quantity", "1e400"),
        ("Timestamp", "1e400"),
        ("Quantity", deep.as_str()),
    ] {
        let entry = entry().to_string().replace(
            &format!("\"{member}\":{}", entry()[member]),
            &format!("\"{member}\":{value}"),
        );
        assert!(entry.contains(value), "{entry}");
        let body = format!(r#"{{"ProductCode":"prod-a","UsageRecords":[{entry}]}}"#);
        let err = read_request(&body).unwrap_err();
        let named = format!("UsageRecords: {member}: ");
        assert!(err.starts_with(&named), "{member}: {err}");
        assert!(err.contains(" at line 1 column "), "{err}");
        let err = file_entry(&entry, Strictness::Strict).unwrap_err();
        assert!(err.starts_with(&format!("{member}: ")), "{member}: {err}");
        let err =
            UsageRecord::from_request_entry(&mut serde_json::Deserializer::from_str(&entry), None)
                .unwrap_err()
                .to_string();
        assert!(err.starts_with(&format!("{member}: ")), "{member}: {err}");
    }
    // Inside an allocation, the path to it.
    let entry = r#"{"Timestamp":1795690800,"CustomerAWSAccountId":"111122223333","Dimension":"d","Quantity":1,"UsageAllocations":[{"AllocatedUsageQuantity":1e400}]}"#;
    let err = file_entry(entry, Strictness::Strict).unwrap_err();
    assert!(
        err.starts_with("UsageAllocations: AllocatedUsageQuantity: number out of range"),
        "{err}"
    );
}

#[test]
fn a_member_name_that_is_not_a_string_is_refused() {
    // JSON's names are strings; another format's may not be.
    let map = serde::de::value::MapDeserializer::<_, serde::de::value::Error>::new(
        [(1_u8, 2_u8)].into_iter(),
    );
    let err = UsageRecord::from_request_entry(map, None).unwrap_err();
    assert!(err.to_string().contains("expected a member name"), "{err}");
}
