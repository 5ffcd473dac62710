//! Supervised panics are captured without reaching the previous panic hook (which prints to
//! stderr by default); other panics still reach it. A binary of its own: the hook is global.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use suture::Supervisor;
use suture::testing::{Running, Scripted, Step};

#[tokio::test(start_paused = true)]
async fn supervised_panics_skip_the_previous_hook_and_others_reach_it() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    std::panic::set_hook(Box::new(move |_| {
        seen.fetch_add(1, Ordering::SeqCst);
    }));

    let sup = Supervisor::builder("app").build().unwrap();
    let svc = Scripted::new("svc", [Step::Panic, Step::Panic, Step::Run]);
    let probe = svc.probe();
    sup.add(svc).unwrap();
    let tree = Running::start(sup).await;
    probe.wait_for_starts(3).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "supervised panics are captured"
    );

    // An unsupervised panic, after suture installed its hook, still goes to the previous one.
    let outside = std::panic::catch_unwind(|| panic!("not supervised"));
    assert!(outside.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    tree.shutdown().await.unwrap();
    let _ = std::panic::take_hook();
}
