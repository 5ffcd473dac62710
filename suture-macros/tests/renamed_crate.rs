//! With `crate = path`, generated code reaches suture through a renamed dependency (here
//! `suture_renamed`; no crate named `suture` is visible to this test).

use suture_renamed::{Context, Restart, Service, ServiceResult};

#[derive(suture_renamed::Service)]
#[service(crate = suture_renamed, restart = transient)]
struct Worker;

impl Worker {
    async fn run(&mut self, ctx: Context) -> ServiceResult {
        ctx.cancelled().await;
        Ok(())
    }
}

suture_renamed::supervisor! {
    #[supervisor(crate = suture_renamed, strategy = one_for_all)]
    struct App {
        worker: Worker,
    }
}

#[test]
fn generated_code_follows_the_renamed_crate() {
    assert_eq!(Worker.child_spec().get_restart(), Restart::Transient);
    let app = App::new(Worker);
    assert_eq!(app.name(), "app");
    assert_eq!(App::START_ORDER, ["worker"]);
}
