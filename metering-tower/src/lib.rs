#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod customer;
mod events;
mod layer;
#[cfg(feature = "axum")]
mod registration;

pub use customer::CustomerError;
pub use events::{Action, Applied, EventError, SubscriptionEvent};

pub use layer::{
    Failures, FromExtensions, Measure, MeterLayer, MeterService, NoOneSeen, Nobody, ResponseFuture,
    Seen, SeenFromExtensions, SeenOf, Usage, UsageOf,
};
#[cfg(feature = "axum")]
pub use registration::{Registered, Registrar, Registration, RegistrationError, TOKEN_FIELD};
