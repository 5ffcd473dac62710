//! 03: a whole tree declared in one `supervisor!` block.
//!
//! Each struct is a supervisor and each field a child; the policy is checked when the program
//! compiles (try misspelling `one_for_all`). Here a pipeline reads, transforms and writes; the
//! transformer crashes once, and because the pipeline is `rest_for_one`, the writer that
//! depends on it restarts with it while the reader keeps going.
//! Run with `cargo run --example 03_declared_tree`.
#![allow(clippy::print_stdout)] // an example talks to its reader

use std::time::Duration;

use suture::{Context, Service, ServiceError, ServiceResult, supervisor};
use tokio_util::sync::CancellationToken;

supervisor! {
    /// The program: a metrics reporter beside the pipeline.
    #[supervisor(shutdown = 2s)]
    struct Program {
        pipeline: Pipeline,
        #[child(restart = transient)]
        report: Stage,
    }

    /// Stages in dependency order: when one restarts, those after it restart too.
    #[supervisor(strategy = rest_for_one, intensity = 3 / 10s)]
    struct Pipeline {
        read: Stage,
        transform: Stage,
        write: Stage,
    }
}

/// A pipeline stage that announces itself, and fails once if told to.
#[derive(Service)]
struct Stage {
    fail_once: bool,
}

impl Stage {
    async fn run(&mut self, ctx: Context) -> ServiceResult {
        println!("{}: started", ctx.path());
        if std::mem::take(&mut self.fail_once) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            return Err(ServiceError::msg("bad record"));
        }
        ctx.cancelled().await;
        println!("{}: stopped", ctx.path());
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), suture::BoxError> {
    println!("pipeline start order: {:?}", Pipeline::START_ORDER);
    let stage = |fail_once| Stage { fail_once };
    let mut program = Program::new(
        Pipeline::new(stage(false), stage(true), stage(false)),
        stage(false),
    );
    let handle = program.handle().supervisor();
    let stop = CancellationToken::new();
    let stopper = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        stopper.cancel();
    });
    let serving = tokio::spawn(async move { program.serve(suture::Context::new(stop)).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!("\n{}", handle.tree().await?);
    serving.await??;
    Ok(())
}
