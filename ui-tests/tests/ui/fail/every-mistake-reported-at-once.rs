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
    #[supervisor(strategy = one_for_each, jitter = 2.5)]
    struct App {
        #[child(ready = 5, after = nobody)]
        worker: Worker,
    }
}
fn main() {
    // No follow-on error: the struct and its constructor exist despite the mistakes.
    let _ = App::new(Worker);
}
