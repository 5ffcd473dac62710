//! A raw identifier is named without `r#` (a field, a supervisor, a sibling in `after`);
//! fields named like generated items collide with nothing.
#![deny(warnings)]

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
        r#type: Worker,
        r#match: Vec<Worker>,
        __suture: Worker,
        __suture_2: Worker,
        spec: Worker,
        new: Worker,
        handle: Worker,
    }

    struct r#Raw {
        #[child(after = r#type)]
        first: Worker,
        r#type: Worker,
    }
}

fn main() {
    let app = App::new(Worker, vec![Worker], Worker, Worker, Worker, Worker, Worker);
    assert_eq!(
        App::START_ORDER,
        ["type", "match", "__suture", "__suture_2", "spec", "new", "handle"]
    );
    let handle = app.handle();
    assert_eq!(handle.r#type().name(), "type");
    assert_eq!(handle.r#match().name(), "match");
    assert_eq!(handle.__suture().name(), "__suture");
    assert_eq!(app.__suture_2.name(), "__suture_2");
    assert_eq!(handle.handle().name(), "handle");
    assert_eq!(handle.new().name(), "new");

    let raw = Raw::new(Worker, Worker);
    assert_eq!(Service::name(&raw), "raw");
    assert_eq!(Raw::START_ORDER, ["type", "first"]);
}
