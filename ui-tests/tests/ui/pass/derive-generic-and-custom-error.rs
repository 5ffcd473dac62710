//! `#[derive(Service)]` on a generic type adds the `Send + 'static` bounds a service needs,
//! and `run` may return any `Result<(), E>` with `E: Into<ServiceError>`.
#![deny(warnings)]

use std::fmt;

use suture::{supervisor, Context, Service};

#[derive(Debug)]
struct Refused;

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("refused")
    }
}

impl std::error::Error for Refused {}

#[derive(Service)]
struct Relay<T> {
    item: T,
}

impl<T> Relay<T> {
    async fn run(&mut self, ctx: Context) -> Result<(), Refused> {
        let _ = &self.item;
        ctx.cancelled().await;
        Err(Refused)
    }
}

supervisor! {
    struct App {
        text: Relay<String>,
        number: Relay<u64>,
    }
}

fn main() {
    let app = App::new(Relay { item: String::new() }, Relay { item: 7 });
    assert_eq!(app.handle().number().name(), "number");
    assert_eq!(Relay { item: 1u8 }.name(), "Relay");
}
