//! `orders-projector`: per-customer totals and shipping notifications from the Orders stream. See `handlers::orders`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ddbstream::logging::init();
    let tables = handlers::orders::Tables::from_env()?;
    let config = aws_config::load_from_env().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    handlers::orders::router(client, tables).run().await
}
