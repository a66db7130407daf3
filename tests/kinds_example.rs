//! The README's example of every kind of usage, run as a test: what is billed per hour,
//! checked exactly.

#[allow(dead_code, reason = "the example's `main` is not called here")]
#[path = "../examples/kinds.rs"]
mod kinds;

#[tokio::test]
async fn every_kind_is_billed_per_hour() {
    let mut out = Vec::new();
    kinds::run(&mut out).await.unwrap();
    let out = String::from_utf8(out).unwrap();
    println!("{out}");
    assert!(
        out.starts_with("8 records sealed; 1 request sent: 8 billed\n"),
        "{out}"
    );
    for line in [
        // 3 requests by alice, bob and alice; hosts 3, 5, 4; 10 GB for the last half hour.
        "  2026-05-12T10:00:00Z  active_users 2 (distinct), gb_stored 5 (level), hosts 5 (max), requests 3 (sum)",
        // 2 requests by carol and alice; 2 hosts; 10 GB for 45 minutes, 20 GB for 15.
        "  2026-05-12T11:00:00Z  active_users 2 (distinct), gb_stored 12.5 (level), hosts 2 (max), requests 2 (sum)",
        "  active_users     4",
        "  gb_stored     17.5",
        "  hosts            7",
        "  requests         5",
    ] {
        assert!(
            out.contains(&format!("{line}\n")),
            "missing {line:?} in\n{out}"
        );
    }
}
