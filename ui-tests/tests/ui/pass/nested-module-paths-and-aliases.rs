//! The macro inside a nested module, child types written as paths and type aliases, nested
//! supervisors written with `self::`, and an event hook.
#![deny(warnings)]

pub mod outer {
    pub mod services {
        use suture::{Context, Service, ServiceResult};

        #[derive(Service)]
        pub struct Worker;

        impl Worker {
            async fn run(&mut self, ctx: Context) -> ServiceResult {
                ctx.cancelled().await;
                Ok(())
            }
        }
    }

    pub mod tree {
        type Alias = super::services::Worker;

        fn log(event: &suture::Event) {
            let _ = event;
        }

        suture::supervisor! {
            #[supervisor(event_hook = log)]
            pub struct App {
                pub first: crate::outer::services::Worker,
                pub second: Alias,
                pub group: self::Group,
            }

            #[supervisor(event_hook = self::log)]
            pub struct Group {
                pub one: super::services::Worker,
            }
        }
    }
}

use outer::services::Worker;
use outer::tree::{App, Group};

fn main() {
    let app = App::new(Worker, Worker, Group::new(Worker));
    assert_eq!(app.handle().group().one().name(), "one");
    assert_eq!(app.handle().second().name(), "second");
}
