//! Spans and readable events: each run inside a span carrying its path and incarnation,
//! fields written for people, child stops at `debug` and one line when the tree has stopped.
//!
//! Alone in its own test binary (one test) for the reason given in `tracing_events.rs`:
//! `tracing` caches each call site's interest process-wide.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use suture::testing::{Running, Scripted, Step, settle};
use suture::{Context, ServiceError, Supervisor, service_fn};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

type Fields = BTreeMap<String, String>;

/// One event: its level, fields, and the fields of the spans it is in, outermost first
/// (each with its name as `"span"`).
#[derive(Debug, Clone)]
struct Traced {
    level: tracing::Level,
    fields: Fields,
    spans: Vec<Fields>,
}

impl Traced {
    fn message(&self) -> &str {
        self.fields.get("message").map_or("", String::as_str)
    }
}

struct Record<'a>(&'a mut Fields);

impl Visit for Record<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Traced>>>);

/// A span's fields, kept in its extensions.
struct SpanFields(Fields);

impl<S> tracing_subscriber::Layer<S> for Capture
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        let mut fields = Fields::new();
        attrs.record(&mut Record(&mut fields));
        fields.insert("span".to_owned(), attrs.metadata().name().to_owned());
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: LayerContext<'_, S>) {
        let mut fields = Fields::new();
        event.record(&mut Record(&mut fields));
        let spans = ctx
            .event_scope(event)
            .map(|scope| {
                scope
                    .from_root()
                    .map(|span| {
                        span.extensions()
                            .get::<SpanFields>()
                            .map(|f| f.0.clone())
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.0.lock().unwrap().push(Traced {
            level: *event.metadata().level(),
            fields,
            spans,
        });
    }
}

impl Capture {
    fn all(&self) -> Vec<Traced> {
        self.0.lock().unwrap().clone()
    }

    fn with_message(&self, message: &str) -> Vec<Traced> {
        self.all()
            .into_iter()
            .filter(|t| t.message() == message)
            .collect()
    }
}

fn span(path: &str, incarnation: u32) -> Fields {
    [
        ("span", "service".to_owned()),
        ("path", path.to_owned()),
        ("incarnation", incarnation.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

#[tokio::test(start_paused = true)]
async fn runs_are_attributed_and_events_read_as_people_write() {
    let capture = Capture::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));

    // `worker` fails once, then runs; both runs log.
    let runs = Arc::new(AtomicU32::new(0));
    let worker = service_fn("worker", move |ctx: Context| {
        let run = runs.fetch_add(1, Ordering::SeqCst);
        async move {
            tracing::info!(run, "hello");
            if run == 0 {
                return Err(ServiceError::msg("boom"));
            }
            ctx.cancelled().await;
            Ok(())
        }
    });
    let inner = Supervisor::builder("inner").build().unwrap();
    inner
        .add(service_fn("leaf", |ctx: Context| async move {
            tracing::info!("leaf says hi");
            ctx.cancelled().await;
            Ok(())
        }))
        .unwrap();
    // `flappy` backs off for a minute and a half after its child's second failure.
    let flappy = Supervisor::builder("flappy")
        .intensity(1, Duration::from_secs(30))
        .backoff(Duration::from_secs(90))
        .jitter(0.0)
        .build()
        .unwrap();
    flappy.add(Scripted::new("flaky", [Step::Fail])).unwrap();
    let root = Supervisor::builder("app").build().unwrap();
    root.add(worker).unwrap();
    root.add(inner).unwrap();
    root.add(flappy).unwrap();
    let tree = Running::start(root).await;
    for _ in 0..100 {
        if capture.with_message("hello").len() == 2
            && !capture.with_message("leaf says hi").is_empty()
            && !capture
                .with_message("restart intensity exceeded, backing off")
                .is_empty()
        {
            break;
        }
        settle().await;
    }

    // A service's own lines carry its run's span, and only that one (its path says where).
    let hello = capture.with_message("hello");
    assert_eq!(hello.len(), 2, "{hello:#?}");
    assert_eq!(hello[0].spans, [span("app/worker", 1)]);
    assert_eq!(hello[1].spans, [span("app/worker", 2)]);
    let leaf = capture.with_message("leaf says hi");
    assert_eq!(leaf[0].spans, [span("app/inner/leaf", 1)]);

    // Failure events: the decision in words, the count rounded, the path of the supervisor,
    // inside the span of the supervisor's own run when it is nested.
    let failed = capture.with_message("service failed");
    let worker_failed = failed
        .iter()
        .find(|t| t.fields["service"] == "worker")
        .expect("worker's failure");
    assert_eq!(worker_failed.fields["supervisor"], "app");
    assert_eq!(worker_failed.fields["restarting"], "now");
    assert_eq!(worker_failed.fields["failures"], "1.0");
    let flaky_failed: Vec<&Traced> = failed
        .iter()
        .filter(|t| t.fields["service"] == "flaky")
        .collect();
    assert_eq!(flaky_failed.len(), 2, "{flaky_failed:#?}");
    assert_eq!(flaky_failed[0].fields["restarting"], "now");
    assert_eq!(flaky_failed[1].fields["restarting"], "after backoff");
    assert_eq!(flaky_failed[1].fields["supervisor"], "app/flappy");
    assert_eq!(flaky_failed[1].spans, [span("app/flappy", 1)]);
    let backoff = &capture.with_message("restart intensity exceeded, backing off")[0];
    assert_eq!(backoff.level, tracing::Level::WARN);
    assert_eq!(backoff.fields["pause"], "1m 30s");
    assert_eq!(backoff.fields["failures"], "2.0");

    tree.shutdown().await.unwrap();

    // Each child stopping at shutdown: `debug`. The whole tree stopped: one `info` line.
    let stopped = capture.with_message("service stopped");
    let mut names: Vec<(&str, &str)> = stopped
        .iter()
        .map(|t| {
            (
                t.fields["supervisor"].as_str(),
                t.fields["service"].as_str(),
            )
        })
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            ("app", "flappy"),
            ("app", "inner"),
            ("app", "worker"),
            ("app/inner", "leaf")
        ]
    );
    assert!(stopped.iter().all(|t| t.level == tracing::Level::DEBUG));
    assert!(stopped.iter().all(|t| t.fields["aborted"] == "false"));
    let done = capture.with_message("tree stopped");
    assert_eq!(done.len(), 1, "only the root says it: {done:#?}");
    assert_eq!(done[0].level, tracing::Level::INFO);
    assert_eq!(done[0].fields["supervisor"], "app");
    assert_eq!(done[0].fields["stopped_cleanly"], "4");
    assert_eq!(done[0].fields["aborted"], "0");
    assert_eq!(done[0].fields["unstoppable"], "0");
}
