//! `layouts!`: each layout declared once, as its struct of names, the constant holding the
//! spellings and its table entry.

/// Declares layouts. Each
///
/// ```text
/// /// What the layout is.
/// TENSOR: TensorLayout = "vineyard::Tensor"<T> {
///     member buffer = "buffer_",
///     field shape = "shape_",
///     list elements = "__elements_",
///     map values = "__values_",
/// }
/// ```
///
/// gives the struct `TensorLayout` (a `typename`, a field per name, and `of` when the typename
/// takes a template argument `<T>`), the constant `TENSOR`, and `TensorLayout::LAYOUT`, its
/// [`Layout`](crate::Layout) entry. `LAYOUTS` lists the entries of the invoking module. A
/// layout without `= typename` declares names that several layouts share; those layouts say
/// `with SharedLayout` after their typename.
macro_rules! layouts {
    (@type member) => { &'static str };
    (@type field) => { &'static str };
    (@type list) => { $crate::MemberList };
    (@type map) => { $crate::MemberMap };
    (@value member $spelled:literal) => { $spelled };
    (@value field $spelled:literal) => { $spelled };
    (@value list $spelled:literal) => { $crate::MemberList::new($spelled) };
    (@value map $spelled:literal) => { $crate::MemberMap::new($spelled) };
    (@role member) => { $crate::Role::Member };
    (@role field) => { $crate::Role::Field };
    (@role list) => { $crate::Role::List };
    (@role map) => { $crate::Role::Map };
    (@typename) => { None };
    (@typename $typename:tt) => { Some($typename) };
    (@generic) => { false };
    (@generic $argument:ident) => { true };
    (@shares) => { None };
    (@shares $shared:ident) => { Some(&$shared::LAYOUT) };
    (
        $(
            $(#[doc = $doc:literal])+
            $constant:ident: $layout:ident
                $(= $typename:tt $(<$argument:ident>)? $(with $shared:ident)?)? {
                $(
                    $(#[doc = $name_doc:literal])*
                    $role:ident $attribute:ident = $spelled:literal
                ),* $(,)?
            }
        )+
    ) => {
        $(
            $(#[doc = $doc])+
            #[derive(Clone, Copy, Debug, PartialEq, Eq)]
            #[non_exhaustive]
            pub struct $layout {
                $(
                    #[doc = concat!(
                        "The typename, ", stringify!($typename),
                        " (without its template argument, if it takes one)."
                    )]
                    pub typename: &'static str,
                )?
                $(
                    #[doc = concat!("`", $spelled, "`: a ", stringify!($role), ".")]
                    $(#[doc = $name_doc])*
                    pub $attribute: $crate::macros::layouts!(@type $role),
                )*
            }

            $(#[doc = $doc])+
            pub const $constant: $layout = $layout {
                $(typename: $typename,)?
                $($attribute: $crate::macros::layouts!(@value $role $spelled),)*
            };

            impl $layout {
                /// This layout's entry in the table.
                pub const LAYOUT: $crate::Layout = $crate::Layout {
                    constant: stringify!($constant),
                    typename: $crate::macros::layouts!(@typename $($typename)?),
                    generic: $crate::macros::layouts!(@generic $($($argument)?)?),
                    shares: $crate::macros::layouts!(@shares $($($shared)?)?),
                    names: &[$(
                        $crate::Name {
                            attribute: stringify!($attribute),
                            role: $crate::macros::layouts!(@role $role),
                            spelled: $spelled,
                        },
                    )*],
                };
            }

            $($(
                impl $layout {
                    #[doc = concat!(
                        "The typename with `argument` as its template argument ",
                        stringify!($argument), ": `typename<argument>`."
                    )]
                    pub fn of(&self, argument: &str) -> String {
                        $crate::instantiate(self.typename, argument)
                    }
                }
            )?)?
        )+

        /// The entries of the layouts declared here.
        pub(crate) const LAYOUTS: &[$crate::Layout] = &[$($layout::LAYOUT),+];
    };
}

pub(crate) use layouts;
