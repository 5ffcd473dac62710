//! The runtime side of a supervisor declared with `supervisor!`. Generated code only.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::child_ref::{ChildRef, PoolHandle};
use crate::{
    ChildSpec, Context, Service, ServiceError, ServiceResult, ShutdownOrder, Strategy, Supervisor,
    SupervisorBuilder, SupervisorHandle,
};

/// A supervisor declared with `supervisor!`, and its generated typed handle.
///
/// Generated code only: it lets a parent in the block take a child supervisor's typed handle.
pub trait TypedSupervisor: Service {
    /// The generated handle type (`App` -> `AppHandle`).
    type Handle: Clone + Send + Sync + 'static;
    /// The typed handle.
    fn typed_handle(&self) -> Self::Handle;
}

/// A declared supervisor: the runtime supervisor, plus any child its type refused at
/// construction (reported when it is served, instead of a panic in `new`).
pub struct Declared {
    supervisor: Supervisor,
    refused: Option<String>,
}

impl Declared {
    /// Builds the supervisor. The macro has checked every setting at compile time, so this
    /// cannot fail; if it ever did, the error is kept and returned by `serve`.
    pub fn new(builder: SupervisorBuilder) -> Self {
        match builder.build() {
            Ok(supervisor) => Declared {
                supervisor,
                refused: None,
            },
            Err(error) => Declared {
                supervisor: fallback("supervisor"),
                refused: Some(error.to_string()),
            },
        }
    }

    /// Adds a child, its own default spec adjusted by its `#[child(...)]` options.
    pub fn add_child<S: Service>(
        &mut self,
        child: S,
        configure: impl FnOnce(ChildSpec) -> ChildSpec,
    ) -> ChildRef<S> {
        let mut spec = configure(child.child_spec());
        let name: Arc<str> = Arc::from(spec.take_name().unwrap_or_else(|| child.name()));
        let handle = self.supervisor.handle();
        let token = match handle.add_with(child, spec.name(name.to_string())) {
            Ok(token) => token,
            Err(error) => {
                self.refuse(error.to_string());
                // A token no child has: every request answers "unknown child".
                handle.shared.token(u64::MAX)
            }
        };
        ChildRef::new(handle, token, name)
    }

    /// Adds a child that is a declared supervisor, and returns its typed handle.
    pub fn add_declared<S: TypedSupervisor>(
        &mut self,
        child: S,
        configure: impl FnOnce(ChildSpec) -> ChildSpec,
    ) -> S::Handle {
        let handle = child.typed_handle();
        self.add_child(child, configure);
        handle
    }

    /// Adds an optional child: `None` adds nothing.
    pub fn add_optional<S: Service>(
        &mut self,
        child: Option<S>,
        configure: impl FnOnce(ChildSpec) -> ChildSpec,
    ) -> Option<ChildRef<S>> {
        child.map(|child| self.add_child(child, configure))
    }

    /// Adds a pool: a nested one_for_one supervisor named `name`, stopping its elements
    /// concurrently, each element configured by `configure`. `shutdown` is the declaring
    /// supervisor's stop budget, if set, so that elements get the same default.
    pub fn add_pool<S: Service>(
        &mut self,
        name: &'static str,
        shutdown: Option<Duration>,
        children: Vec<S>,
        configure: impl Fn(ChildSpec) -> ChildSpec + Send + Sync + 'static,
        configure_pool: impl FnOnce(ChildSpec) -> ChildSpec,
    ) -> PoolHandle<S> {
        let mut builder = Supervisor::builder(name)
            .strategy(Strategy::OneForOne)
            .shutdown_order(ShutdownOrder::Concurrent);
        if let Some(budget) = shutdown {
            builder = builder.shutdown(budget);
        }
        let pool = builder.build().unwrap_or_else(|error| {
            self.refuse(error.to_string());
            fallback(name)
        });
        let handle = PoolHandle::new(pool.handle(), Box::new(configure));
        for child in children {
            if let Err(error) = handle.add(child) {
                self.refuse(error.to_string());
            }
        }
        self.add_child(pool, configure_pool);
        handle
    }

    fn refuse(&mut self, error: String) {
        if self.refused.is_none() {
            self.refused = Some(error);
        }
    }

    /// The supervisor's handle.
    pub fn handle(&self) -> SupervisorHandle {
        self.supervisor.handle()
    }
}

/// What `#[derive(Service)]` accepts from the `run` method: a `Send` future of any
/// `Result<(), E>` with `E: Into<ServiceError>`.
#[diagnostic::on_unimplemented(
    message = "the `run` method of a `#[derive(Service)]` type returns `{Self}`",
    label = "expected `async fn run(&mut self, ctx: suture::Context) -> Result<(), E>`, with `E: Into<suture::ServiceError>` (e.g. `suture::ServiceResult`), whose future is `Send`"
)]
pub trait RunFuture: Send {
    /// The run method's future, its error converted into a [`ServiceError`].
    fn into_service_result(self) -> impl Future<Output = ServiceResult> + Send;
}

impl<F, E> RunFuture for F
where
    F: Future<Output = Result<(), E>> + Send,
    E: Into<ServiceError>,
{
    async fn into_service_result(self) -> ServiceResult {
        self.await.map_err(Into::into)
    }
}

fn fallback(name: &'static str) -> Supervisor {
    match Supervisor::builder(name).build() {
        Ok(supervisor) => supervisor,
        Err(error) => unreachable!("the default settings are valid: {error}"),
    }
}

impl Service for Declared {
    async fn serve(&mut self, ctx: Context) -> ServiceResult {
        if let Some(refused) = &self.refused {
            return Err(ServiceError::msg(refused.clone()));
        }
        self.supervisor.serve(ctx).await
    }

    fn name(&self) -> Cow<'static, str> {
        self.supervisor.name()
    }

    fn child_spec(&self) -> ChildSpec {
        self.supervisor.child_spec()
    }

    fn __supervisor_handle(&self) -> Option<SupervisorHandle> {
        self.supervisor.__supervisor_handle()
    }
}

impl fmt::Debug for Declared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Declared")
            .field("supervisor", &self.supervisor)
            .finish_non_exhaustive()
    }
}
