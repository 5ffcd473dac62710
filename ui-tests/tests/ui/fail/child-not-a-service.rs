use suture::{supervisor, Context, Service, ServiceResult};

#[derive(Service)]
struct Worker;

impl Worker {
    async fn run(&mut self, ctx: Context) -> ServiceResult {
        ctx.cancelled().await;
        Ok(())
    }
}

struct Config;

supervisor! {
    struct App {
        worker: Worker,
        config: Config,
    }
}
fn main() {}
