//! The runtime side of a supervisor declared with `supervisor!`. Generated code only.

use std::borrow::Cow;
use std::fmt;

use crate::{
    ChildSpec, Context, Service, ServiceError, ServiceResult, Supervisor, SupervisorBuilder,
    SupervisorHandle,
};

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
                supervisor: fallback(),
                refused: Some(error.to_string()),
            },
        }
    }

    /// Adds a child, its own default spec adjusted by its `#[child(...)]` options.
    pub fn add_child<S: Service>(
        &mut self,
        child: S,
        configure: impl FnOnce(ChildSpec) -> ChildSpec,
    ) {
        let spec = configure(child.child_spec());
        if let Err(error) = self.supervisor.add_with(child, spec)
            && self.refused.is_none()
        {
            self.refused = Some(error.to_string());
        }
    }

    /// The supervisor's handle.
    pub fn handle(&self) -> SupervisorHandle {
        self.supervisor.handle()
    }
}

fn fallback() -> Supervisor {
    match Supervisor::builder("supervisor").build() {
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
