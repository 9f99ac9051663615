//! JSON schemas of the contract's string-like values, for the relay's OpenAPI document.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::{PartialSchema, ToSchema};

/// A string schema with a description, an example and any further builder settings.
macro_rules! string_schema {
    ($ty:ty, $desc:expr, $example:expr $(, $setting:ident($value:expr))*) => {
        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some($desc))
                    .examples([$example])
                    $(.$setting(Some($value)))*
                    .into()
            }
        }
        impl ToSchema for $ty {}
    };
}

// The patterns are exactly what the parsers accept (plates: in their typed form too, which the
// relay normalises), so that a request valid by the document is one the relay takes.
string_schema!(
    crate::BayId,
    "Bay id: 1-32 letters, digits, '-' or '_'",
    "bay-1",
    pattern("^[A-Za-z0-9-][A-Za-z0-9_-]{0,31}$"),
    min_length(1),
    max_length(crate::bay::MAX_LEN)
);
string_schema!(
    crate::Plate,
    "Truck plate: letters, digits and '-', words separated by single spaces, normalised to upper case",
    "KT 8899 TEST",
    pattern("^[A-Za-z0-9][A-Za-z0-9-]*( [A-Za-z0-9-]+)*$"),
    min_length(1),
    max_length(crate::plate::MAX_LEN)
);
string_schema!(
    crate::Actor,
    "Who acted: telegram, dashboard, api or button, optionally ':' and a user id",
    "telegram:123456"
);
string_schema!(
    crate::SessionId,
    "Session id (UUIDv7)",
    "019abc12-3456-7def-8123-456789abcdef",
    format(SchemaFormat::KnownFormat(KnownFormat::Uuid))
);
string_schema!(
    crate::CommandId,
    "Command id (UUIDv7)",
    "019abc12-3456-7def-8123-456789abcdef",
    format(SchemaFormat::KnownFormat(KnownFormat::Uuid))
);
