//! The AWS SDK's configuration style for our configurations: a `with_*` setter and a
//! getter per setting, one documentation for both.

/// `settings! { Config + extra...; /// doc \n field: Type, with_field; ... }` writes, for
/// each field of `Config`, `with_field(self, value) -> Self` and `field(&self) -> Type`,
/// and `Config`'s `Debug`: every setting, then each `extra` field (the clock is left out).
macro_rules! settings {
    ($config:ident $(+ $extra:ident)*; $($(#[$doc:meta])* $field:ident: $ty:ty, $with:ident;)*) => {
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

        impl std::fmt::Debug for $config {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($config))
                    $(.field(stringify!($field), &self.$field))*
                    $(.field(stringify!($extra), &self.$extra))*
                    .finish_non_exhaustive()
            }
        }
    };
}
