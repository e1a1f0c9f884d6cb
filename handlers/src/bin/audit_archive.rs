//! `audit-archive`: every change of the Orders and Customers streams into the Audit table. See `handlers::audit`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ddbstream::logging::init();
    let tables = handlers::audit::Tables::from_env()?;
    let config = aws_config::load_from_env().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    handlers::audit::router(client, tables).run().await
}
