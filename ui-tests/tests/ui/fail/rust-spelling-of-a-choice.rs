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
    #[supervisor(strategy = OneForAll)]
    struct App {
        worker: Worker,
    }

    #[supervisor(shutdown_order = suture::ShutdownOrder::Concurrent)]
    struct Other {
        #[child(restart = Restart::Transient)]
        worker: Worker,
    }
}

fn main() {}
