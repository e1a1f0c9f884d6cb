//! `fault-injection`: a Lambda function to try the framework's failure handling with
//! `cargo lambda invoke`. See `handlers::fault_injection`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ddbstream::logging::init();
    handlers::fault_injection::router().run().await
}
