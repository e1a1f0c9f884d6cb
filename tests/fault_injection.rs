//! The fault-injection function, in process, against every fixture: the same expectations
//! `tests/lambda_invoke.py` checks through `cargo lambda watch` / `invoke`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use workspace_tests::{context_with_budget, fixture, fixtures_dir, respond};

#[derive(Deserialize)]
struct Expectations {
    responses: BTreeMap<String, serde_json::Value>,
    errors: BTreeMap<String, String>,
}

fn expectations() -> Expectations {
    let path = fixtures_dir().join("../fault-injection-expected.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

// Multi-thread, as under `run`: `fault-block.json` holds a thread past the margin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_gets_the_expected_answer() {
    let expected = expectations();
    let fixtures: Vec<String> = std::fs::read_dir(fixtures_dir())
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .filter(|e| e.path().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    for name in &fixtures {
        assert!(
            expected.responses.contains_key(name) || expected.errors.contains_key(name),
            "{name} has no expectation"
        );
    }
    // Two seconds to spend, as the black-box check gives it.
    let router = handlers::fault_injection::router().deadline_margin(Duration::from_secs(1));
    for (name, response) in &expected.responses {
        let got = respond(&router, &fixture(name), &context_with_budget(Duration::from_secs(3))).await;
        assert_eq!(got.ok(), Some(response.to_string()), "{name}");
    }
    for (name, error_type) in &expected.errors {
        let got = respond(&router, &fixture(name), &context_with_budget(Duration::from_secs(3))).await;
        let diagnostic = got.err().map(lambda_runtime_diagnostic);
        assert_eq!(diagnostic.as_deref(), Some(error_type.as_str()), "{name}");
    }
}

fn lambda_runtime_diagnostic(error: ddbstream::Error) -> String {
    format!("ddbstream::{}", error.kind())
}
