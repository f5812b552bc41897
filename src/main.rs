use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = gatehouse::cli::Cli::parse();
    match gatehouse::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
