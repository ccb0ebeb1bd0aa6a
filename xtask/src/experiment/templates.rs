use super::{Ctx, Outcome};
pub fn run(_ctx: &Ctx) -> anyhow::Result<Outcome> {
    anyhow::bail!("not yet")
}
