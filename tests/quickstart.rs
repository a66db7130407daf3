//! The README's main example, run as a test: every line of its output checked.

#[allow(dead_code, reason = "the example's `main` is not called here")]
#[path = "../examples/quickstart.rs"]
mod quickstart;

#[tokio::test]
async fn the_quickstart_seals_sends_and_bills_each_record_once() {
    let mut out = Vec::new();
    quickstart::run(&mut out).await.unwrap();
    let out = String::from_utf8(out).unwrap();
    println!("{out}");
    assert!(
        out.starts_with("4 records sealed; 1 request sent: 3 billed, 1 customer not subscribed\n"),
        "{out}"
    );
    for line in [
        "  success         111122223333 api_calls           1260  2026-05-12T10:00:00Z",
        "  success         111122223333 storage_gb_hours    42.5  2026-05-12T10:00:00Z",
        "  success         444455556666 api_calls              3  2026-05-12T10:00:00Z",
        "  not_subscribed  999999999999 api_calls              5  2026-05-12T10:00:00Z",
        "  111122223333 api_calls           1260",
        "  111122223333 storage_gb_hours    42.5",
        "  444455556666 api_calls              3",
    ] {
        assert!(
            out.contains(&format!("{line}\n")),
            "missing {line:?} in\n{out}"
        );
    }
    let (_, billed) = out.split_once("billed by the emulator:").unwrap();
    assert_eq!(
        billed.lines().count(),
        4,
        "three rows, nothing for the unsubscribed: {out}"
    );
}
