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
    struct App {
        worker: Worker
        other: Worker,
    }

    struct Fine {
        app: App,
    }
}

fn main() {
    // `Fine` is complete, and `App` still exists as a service.
    let _ = Fine::START_ORDER;
}
