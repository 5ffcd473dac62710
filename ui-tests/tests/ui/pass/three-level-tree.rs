//! A root, a declared middle level, leaves, a supervisor declared in another block and a
//! dynamic `Supervisor` as children; served and stopped.
#![deny(warnings)]

use suture::{supervisor, Context, Service, ServiceResult, Supervisor};
use tokio_util::sync::CancellationToken;

#[derive(Service)]
struct Leaf;

impl Leaf {
    async fn run(&mut self, ctx: Context) -> ServiceResult {
        ctx.cancelled().await;
        Ok(())
    }
}

mod elsewhere {
    use super::Leaf;

    suture::supervisor! {
        /// Declared in another block.
        pub struct Remote {
            leaf: Leaf,
        }
    }
}

supervisor! {
    struct Root {
        middle: Middle,
        remote: elsewhere::Remote,
        pool: Supervisor,
    }

    #[supervisor(strategy = one_for_all)]
    struct Middle {
        left: Leaf,
        right: Leaf,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let pool = Supervisor::builder("pool").build().unwrap();
    pool.add(Leaf).unwrap();
    let root = Root::new(Middle::new(Leaf, Leaf), elsewhere::Remote::new(Leaf), pool);
    let handle = root.handle().supervisor();
    let stop = CancellationToken::new();
    let task = suture::Supervisor::builder("top").build().unwrap();
    task.add(root).unwrap();
    let running = task.serve_background(Context::new(stop.clone())).await;
    let mut paths = Vec::new();
    while paths.len() < 8 {
        paths.clear();
        handle.tree().await.unwrap().walk(&mut |n| paths.push(n.path.clone()));
        tokio::task::yield_now().await;
    }
    assert!(paths.contains(&"top/root/middle/left".to_owned()), "{paths:?}");
    assert!(paths.contains(&"top/root/pool/Leaf".to_owned()), "{paths:?}");
    stop.cancel();
    running.await.unwrap().unwrap();
}
