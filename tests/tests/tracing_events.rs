//! What reaches `tracing`: target `suture`, levels and structured fields.
//!
//! Alone in its own test binary on purpose: `tracing` caches each call site's interest
//! process-wide, and a test on another thread hitting the same call site while this one
//! installs its scoped subscriber can leave that cache saying "nobody listens".

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use suture::Supervisor;
use suture::testing::{Running, Scripted, Step, settle};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};

/// One `tracing` event: its target, level, message and fields.
#[derive(Debug, Clone)]
struct Traced {
    target: String,
    level: tracing::Level,
    fields: BTreeMap<String, String>,
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Traced>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: LayerContext<'_, S>) {
        struct Fields<'a>(&'a mut BTreeMap<String, String>);
        impl Visit for Fields<'_> {
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                self.0.insert(field.name().to_owned(), format!("{value:?}"));
            }
            fn record_str(&mut self, field: &Field, value: &str) {
                self.0.insert(field.name().to_owned(), value.to_owned());
            }
        }
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(Traced {
            target: event.metadata().target().to_owned(),
            level: *event.metadata().level(),
            fields,
        });
    }
}

#[tokio::test(start_paused = true)]
async fn events_reach_tracing_under_the_suture_target_with_structured_fields() {
    let capture = Capture::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    let sup = Supervisor::builder("app").build().unwrap();
    let svc = Scripted::new("svc", [Step::Fail, Step::Panic, Step::Run]);
    let probe = svc.probe();
    sup.add(svc).unwrap();
    // A nested supervisor whose hook panics: its loop runs as a supervised service, whose
    // panics are captured rather than printed, so the event line must carry the message.
    let inner = Supervisor::builder("inner")
        .event_hook(|_: &suture::Event| panic!("hook boom"))
        .build()
        .unwrap();
    inner.add(Scripted::running("x")).unwrap();
    sup.add(inner).unwrap();
    let tree = Running::start(sup).await;
    probe.wait_for_starts(3).await;
    settle().await;
    tree.shutdown().await.unwrap();

    let traced = capture.0.lock().unwrap().clone();
    let ours: Vec<&Traced> = traced.iter().filter(|t| t.target == "suture").collect();
    let message = |t: &Traced| t.fields.get("message").cloned().unwrap_or_default();
    let failed = ours
        .iter()
        .find(|t| message(t) == "service failed")
        .expect("a failure event");
    assert_eq!(failed.level, tracing::Level::ERROR);
    assert_eq!(failed.fields["supervisor"], "app");
    assert_eq!(failed.fields["service"], "svc");
    assert_eq!(failed.fields["error"], "scripted failure");
    assert!(failed.fields.contains_key("restarting"));
    let panicked = ours
        .iter()
        .find(|t| t.fields.get("panic").is_some_and(|p| p == "scripted panic"))
        .unwrap_or_else(|| panic!("a panic event with its message: {ours:#?}"));
    assert!(panicked.fields.contains_key("location"), "{panicked:?}");
    let hook = ours
        .iter()
        .find(|t| message(t) == "event hook panicked")
        .expect("the hook's panic is reported");
    assert_eq!(hook.level, tracing::Level::ERROR);
    assert_eq!(hook.fields["supervisor"], "app/inner");
    assert_eq!(hook.fields["panic"], "hook boom");
    assert!(
        hook.fields["location"].contains("tracing_events.rs"),
        "{hook:?}"
    );
    let started = ours
        .iter()
        .filter(|t| message(t) == "service started" && t.fields["service"] == "svc")
        .count();
    assert_eq!(started, 3);
}
