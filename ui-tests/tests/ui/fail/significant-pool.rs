use suture::{supervisor, Context, Service, ServiceResult};

#[derive(Service)]
struct Worker;

impl Worker {
    async fn run(&mut self, ctx: Context) -> ServiceResult {
        ctx.cancelled().await;
        Ok(())
    }
}

supervisor! {
    #[supervisor(auto_shutdown = any_significant)]
    struct App {
        #[child(restart = transient, significant)]
        workers: Vec<Worker>,
    }
}

fn main() {}
