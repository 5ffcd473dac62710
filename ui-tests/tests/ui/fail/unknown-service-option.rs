use suture::{Context, Service, ServiceResult};

#[derive(Service)]
#[service(restrat = transient)]
struct Job;

impl Job {
    async fn run(&mut self, ctx: Context) -> ServiceResult {
        ctx.cancelled().await;
        Ok(())
    }
}

fn main() {}
