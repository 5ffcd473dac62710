//! The generated typed handle: nested typed handles, pools, optional children, real `pub`
//! fields reachable from another module, and the untyped handle.
#![deny(warnings, missing_docs)]

use suture::{ChildRef, PoolHandle, SupervisorHandle};

mod app {
    use suture::{supervisor, Context, Service, ServiceResult};

    /// A leaf.
    #[derive(Service)]
    pub struct Leaf;

    impl Leaf {
        async fn run(&mut self, ctx: Context) -> ServiceResult {
            ctx.cancelled().await;
            Ok(())
        }
    }

    supervisor! {
        /// The root.
        pub struct App {
            /// The listeners.
            pub listeners: Listeners,
            pub workers: Vec<Leaf>,
            pub extra: Option<Leaf>,
            hidden: Leaf,
        }

        /// The listeners.
        #[supervisor(strategy = one_for_all)]
        pub struct Listeners {
            pub http: Leaf,
            pub https: Leaf,
        }
    }

    /// The private child, reached from inside the module.
    pub fn hidden_name(app: &App) -> String {
        app.handle().hidden().name().to_owned()
    }
}

use app::{App, Leaf, Listeners, ListenersHandle};

fn assert_handle<T: Clone + Send + Sync + 'static>(_: &T) {}

fn main() {
    let app = App::new(Listeners::new(Leaf, Leaf), vec![Leaf], None, Leaf);
    let handle: app::AppHandle = app.handle();
    assert_handle(&handle);
    let listeners: ListenersHandle = handle.listeners();
    let http: ChildRef<Leaf> = listeners.http();
    assert_eq!(http.name(), "http");
    let _: ChildRef<Leaf> = app.listeners.https(); // a real `pub` field
    let workers: PoolHandle<Leaf> = handle.workers();
    assert_eq!(workers.name(), "workers");
    let added: ChildRef<Leaf> = workers.add(Leaf).unwrap();
    assert_eq!(added.name(), "Leaf#2");
    let extra: Option<ChildRef<Leaf>> = handle.extra();
    assert!(extra.is_none() && app.extra.is_none());
    let untyped: SupervisorHandle = handle.supervisor();
    assert_eq!(untyped.name(), "app");
    assert_eq!(app::hidden_name(&app), "hidden");
    assert_eq!(App::START_ORDER, ["listeners", "workers", "extra", "hidden"]);
    println!("{handle:?} {app:?}");
}
