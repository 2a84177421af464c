//! `huiyuan rotate-keys`.

use clap::Args;
use huiyuan_server::config::Settings;

#[derive(Args)]
pub struct RotateKeysArgs {}

pub async fn run(_settings: Settings, _args: RotateKeysArgs) -> anyhow::Result<()> {
    anyhow::bail!("rotate-keys is not built yet")
}
