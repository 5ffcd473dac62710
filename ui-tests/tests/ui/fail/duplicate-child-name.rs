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
        #[child(name = "main")]
        first: Worker,
        #[child(name = "main")]
        second: Worker,
        r#type: Worker,
        #[child(name = "type")]
        kind: Worker,
    }
}

fn main() {}
