//! `significant` without a `restart` option is legal when the child type's own spec is
//! transient: the type decides, so the macro does not reject it.
#![deny(warnings)]

use suture::{supervisor, Context, Service, ServiceResult};

#[derive(Service)]
#[service(restart = transient)]
struct Job;

impl Job {
    async fn run(&mut self, ctx: Context) -> ServiceResult {
        ctx.cancelled().await;
        Ok(())
    }
}

supervisor! {
    #[supervisor(auto_shutdown = any_significant)]
    struct App {
        #[child(significant)]
        job: Job,
        #[child(after = [job], significant)]
        other: Job,
    }
}

fn main() {
    let _ = App::new(Job, Job);
}
