#![doc = include_str!("../../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(no_crate_inject, attr(deny(warnings))))]

// Lets generated code say `::suture::...` inside this crate's own tests and doctests.
#[allow(unused_extern_crates)]
extern crate self as suture;

#[cfg(any(all(feature = "systemd", unix), feature = "health"))]
mod assess;
mod child_ref;
mod context;
mod declared;
mod error;
mod event;
mod panic;
mod run;
mod service;
mod spec;
mod supervisor;
mod tree;

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub mod guide;

pub mod health;

pub use child_ref::{ChildRef, PoolHandle};
pub use context::Context;
pub use error::{
    BoxError, BuildError, IntensityExceeded, NotReady, ServiceError, ServiceResult, SpecError,
    SupervisorError,
};
pub use event::{Event, EventHook, EventKind, Restarting};
pub use health::Health;
pub use run::{Runner, run};
pub use service::{Service, ServiceFn, service_fn};
pub use spec::{AutoShutdown, ChildSpec, OnExceeded, Restart, Shutdown, ShutdownOrder, Strategy};
pub use supervisor::{Supervisor, SupervisorBuilder, SupervisorHandle};
pub use tree::{ChildInfo, ChildState, ChildToken, TreeNode, UnstoppedService};

/// The `tokio-util` types in [`Context`]'s API, re-exported so that a service needs no
/// dependency of its own on `tokio-util` (nor to match its version).
pub use tokio_util::sync::{
    CancellationToken, WaitForCancellationFuture, WaitForCancellationFutureOwned,
};

#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
#[doc = include_str!("../docs/supervisor.md")]
pub use suture_macros::supervisor;

#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
#[doc = include_str!("../docs/derive_service.md")]
pub use suture_macros::Service;

/// What generated code needs, under one stable path. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::declared::{Declared, RunFuture, TypedSupervisor};
    pub use crate::{
        AutoShutdown, ChildRef, ChildSpec, Context, Event, OnExceeded, PoolHandle, Restart,
        Service, ServiceResult, Shutdown, ShutdownOrder, Strategy, Supervisor, SupervisorBuilder,
        SupervisorHandle,
    };
    pub use ::core;
    pub use ::core::option::Option;
    pub use ::std;
    pub use ::std::borrow::Cow;
    pub use ::std::time::Duration;
    pub use ::std::vec::Vec;
}
