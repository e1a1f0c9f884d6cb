//! Public payloads nobody on this project wrote (`../shared/events`, read in place when
//! present): every real event gets a valid response whose identifiers come from its batch;
//! every malformed one is an invocation error.

use std::path::PathBuf;

use ddbstream::Context;
use workspace_tests::respond;

fn shared_events() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/events");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skip: {} not present", dir.display());
        None
    }
}

fn json_files(dir: PathBuf) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[tokio::test]
async fn real_events_get_a_valid_response() {
    let Some(dir) = shared_events() else { return };
    let router = handlers::fault_injection::router();
    let files = json_files(dir.join("real"));
    assert!(files.len() >= 20, "expected the public events, found {}", files.len());
    for path in files {
        let payload = std::fs::read(&path).unwrap_or_default();
        let event: serde_json::Value = serde_json::from_slice(&payload).unwrap_or_default();
        let batch: Vec<&str> = event["Records"]
            .as_array()
            .map(|records| records.iter().filter_map(|r| r["dynamodb"]["SequenceNumber"].as_str()).collect())
            .unwrap_or_default();
        let response = router.handle(&payload, &Context::default()).await;
        let response = response.unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        if event.get("window").is_some() {
            // A tumbling-window event: folded by the window fallback, whose state counts
            // the records on top of the incoming `records` (absent here: 0).
            let incoming = event["state"]["records"].as_u64().unwrap_or(0);
            let expected = incoming + batch.len() as u64;
            assert_eq!(response.state, Some(serde_json::json!({ "records": expected })), "{}", path.display());
        } else {
            assert_eq!(response.state, None, "{}", path.display());
        }
        for failure in &response.batch_item_failures {
            assert!(failure.item_identifier.as_deref().is_some_and(|id| batch.contains(&id)), "{}", path.display());
        }
    }
}

#[tokio::test]
async fn malformed_public_payloads_are_invocation_errors() {
    let Some(dir) = shared_events() else { return };
    let router = handlers::fault_injection::router();
    let files = json_files(dir.join("public-bad"));
    assert!(!files.is_empty());
    for path in files {
        let payload = std::fs::read(&path).unwrap_or_default();
        let result = respond(&router, &payload, &Context::default()).await;
        assert!(matches!(result, Err(ddbstream::Error::NotAStreamEvent(_))), "{}: {result:?}", path.display());
    }
}
