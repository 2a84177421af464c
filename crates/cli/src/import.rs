//! `huiyuan import members FILE.csv`.

use clap::Subcommand;
use huiyuan_server::config::Settings;

#[derive(Subcommand)]
pub enum ImportCommand {}

pub async fn run(_settings: Settings, command: ImportCommand) -> anyhow::Result<()> {
    match command {}
}
