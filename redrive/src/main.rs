//! `redrive --function <name> (--bucket <bucket> [--prefix <prefix>] | --queue <url>) [--force]`:
//! runs what a failure destination kept through that function's router again, one line per
//! record; exits 1 unless every record was processed. A record whose idempotency claim may
//! have expired (older than the function keeps its claims) is refused, named, unless
//! `--force` says to run its effect anyway. The function's settings come from the
//! same environment variables as on Lambda (`ORDERS_TABLE`...), the AWS endpoints from the
//! SDK's (`AWS_ENDPOINT_URL*` locally).

use std::io::Write;
use std::process::ExitCode;

use ddbstream::runner::DynamoDbStreams;

#[tokio::main]
async fn main() -> ExitCode {
    ddbstream::logging::init();
    match run().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "redrive: {error}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> Result<bool, ddbstream::BoxError> {
    let mut args = std::env::args().skip(1);
    let (mut function, mut bucket, mut prefix, mut queue) = (None, None, String::new(), None);
    let mut expired = ddbstream::redrive::ExpiredClaims::Refuse;
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--function" => function = Some(value()?),
            "--bucket" => bucket = Some(value()?),
            "--prefix" => prefix = value()?,
            "--queue" => queue = Some(value()?),
            "--force" => expired = ddbstream::redrive::ExpiredClaims::Run,
            other => return Err(format!("unknown argument `{other}`\n{USAGE}").into()),
        }
    }
    let function = function.ok_or(USAGE)?;
    if !redrive::FUNCTIONS.contains(&function.as_str()) {
        return Err(format!("unknown function `{function}`: one of {}", redrive::FUNCTIONS.join(", ")).into());
    }
    let config = aws_config::load_from_env().await;
    let router = redrive::router_of(&function, &config).await?;
    let stream = DynamoDbStreams::new(aws_sdk_dynamodbstreams::Client::new(&config));
    let outcomes = match (bucket, queue) {
        (Some(bucket), None) => {
            redrive::from_bucket(&redrive::s3_client(&config), &bucket, &prefix, &router, Some(&stream), expired)
                .await?
        }
        (None, Some(queue)) => {
            redrive::from_queue(&aws_sdk_sqs::Client::new(&config), &queue, &router, Some(&stream), expired).await?
        }
        _ => return Err(USAGE.into()),
    };
    let mut out = std::io::stdout().lock();
    let (mut records, mut processed) = (0, 0);
    for outcome in &outcomes {
        for line in outcome.lines() {
            writeln!(out, "{line}")?;
        }
        if let Ok(redriven) = &outcome.result {
            records += redriven.records.len();
            processed +=
                redriven.records.iter().filter(|(_, f)| *f == ddbstream::redrive::RecordFate::Processed).count();
        }
    }
    let complete = outcomes.iter().all(redrive::Outcome::all_processed);
    writeln!(out, "{} documents, {records} records, {processed} processed", outcomes.len())?;
    Ok(complete)
}

const USAGE: &str =
    "usage: redrive --function <name> (--bucket <bucket> [--prefix <prefix>] | --queue <queue url>) [--force]";
