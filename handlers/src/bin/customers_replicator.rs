//! `customers-replicator`: the CustomersByEmail view from the Customers stream. See `handlers::replica`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ddbstream::logging::init();
    let tables = handlers::replica::Tables::from_env()?;
    let config = aws_config::load_from_env().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    handlers::replica::router(client, tables).run().await
}
