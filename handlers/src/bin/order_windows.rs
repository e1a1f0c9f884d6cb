//! `order-windows`: new orders per tumbling window, from the Orders table's Kinesis
//! streaming destination, into `OrderWindows`. See `handlers::order_windows`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ddbstream::logging::init();
    let config = aws_config::load_from_env().await;
    let windows = handlers::order_windows::Windows::from_env(aws_sdk_dynamodb::Client::new(&config))?;
    handlers::order_windows::router(windows).run().await
}
