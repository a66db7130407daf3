//! The AWS SDK's configuration style for our configurations: a `with_*` setter and a
//! getter per setting, one documentation for both.

/// `settings! { Config; /// doc \n field: Type, with_field; ... }` writes, for each
/// field of `Config`, `with_field(self, value) -> Self` and `field(&self) -> Type`.
macro_rules! settings {
    ($config:ty; $($(#[$doc:meta])* $field:ident: $ty:ty, $with:ident;)*) => {
        impl $config {
            $(
                $(#[$doc])*
                #[must_use]
                pub fn $with(mut self, $field: $ty) -> Self {
                    self.$field = $field;
                    self
                }

                $(#[$doc])*
                #[must_use]
                pub fn $field(&self) -> $ty {
                    self.$field
                }
            )*
        }
    };
}
