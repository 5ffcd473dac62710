use suture::{Context, Service, ServiceResult};

#[derive(Service)]
enum Job {
    Once,
    Forever,
}

impl Job {
    async fn run(&mut self, ctx: Context) -> ServiceResult {
        if let Job::Forever = self {
            ctx.cancelled().await;
        }
        Ok(())
    }
}

fn main() {}
