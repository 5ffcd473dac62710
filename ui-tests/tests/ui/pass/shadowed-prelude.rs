//! The generated code does not depend on the prelude's names.
#![deny(warnings)]
#![allow(non_snake_case, dead_code)]

struct Result;
struct Option;
struct Box;
struct Vec;
struct String;
fn Ok() {}
fn Some() {}
fn Err() {}
mod core {}
mod std {}

#[derive(suture::Service)]
#[service(restart = transient)]
struct Worker;

impl Worker {
    async fn run(&mut self, ctx: suture::Context) -> suture::ServiceResult {
        ctx.cancelled().await;
        ::core::result::Result::Ok(())
    }
}

suture::supervisor! {
    struct App {
        #[child(shutdown = 1s)]
        worker: Worker,
    }
}

fn main() {
    let _ = App::new(Worker);
}
