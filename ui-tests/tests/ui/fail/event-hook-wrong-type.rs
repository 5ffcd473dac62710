use suture::{supervisor, Context, Service, ServiceResult};

#[derive(Service)]
struct Worker;

impl Worker {
    async fn run(&mut self, ctx: Context) -> ServiceResult {
        ctx.cancelled().await;
        Ok(())
    }
}

fn not_a_hook(count: u32) -> u32 {
    count
}

supervisor! {
    #[supervisor(event_hook = not_a_hook)]
    struct App {
        worker: Worker,
    }
}

fn main() {}
