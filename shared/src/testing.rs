//! Test helpers shared by the unit tests of several modules.

use proptest::prelude::*;
use serde_json::{Value, json};

/// Arbitrary JSON that often looks like the input under test: objects keyed by `keys`,
/// strings drawn from `words` among random text, numbers and nesting up to four levels.
pub fn arbitrary_json(
    words: Vec<&'static str>,
    keys: Vec<&'static str>,
) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        (0u32..20).prop_map(|n| json!(n)),
        ".{0,40}".prop_map(Value::String),
        "[A-Z]{2}".prop_map(Value::String),
        "[0-9A-Z]{20}".prop_map(Value::String),
        prop::sample::select(words).prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(keys.clone()).prop_map(str::to_string),
                inner,
                0..8
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}
