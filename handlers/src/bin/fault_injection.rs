//! `fault-injection`: a Lambda function to try the framework's failure handling with
//! `cargo lambda invoke`. See `handlers::fault_injection`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    handlers::fault_injection::router().run().await
}
