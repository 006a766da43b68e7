//! Generators for fuzzing the HTTP APIs (proptest): JSON bodies whose field
//! names are mostly the contracts' own, so the fuzz reaches past the parser.

use proptest::prelude::*;
use serde_json::Value;

/// Any JSON value, nested a little.
pub fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(field(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Field names: mostly the contract's, sometimes anything.
pub fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "SdkAppId", "UserId", "UserSig", "Wnd", "AppProc", "DstPath", "x", "y", "Width",
            "Height", "VideoFps", "VideoBps", "EnableAudio", "EnableUpload", "SliceTime",
            "ClassId", "MaxWidth",
        ])
        .prop_map(str::to_owned),
        1 => "[A-Za-z]{0,8}",
    ]
}
