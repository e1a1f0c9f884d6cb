//! `{{name}}`: the Lambda glue. The logic is in `src/lib.rs`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ddbstream::logging::init();
    let table = std::env::var("TABLE_NAME").unwrap_or_else(|_| {{crate_name}}::DEFAULT_TABLE.to_owned());
    {{crate_name}}::router(&table).run().await
}
