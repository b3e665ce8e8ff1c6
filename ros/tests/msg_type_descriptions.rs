//! Our CDR mirrors of `a4mer_msgs` against the type descriptions the real rosidl generator
//! wrote for the `.msg` files (`scripts/build-msgs.sh`, `scripts/msg_type_hashes.py`;
//! `ros/msgs/type_descriptions/`). CDR carries no field names, so a field added, dropped,
//! retyped or moved in one and not the other would be misread without a word: this fails
//! instead, naming the message and the field.

use std::collections::BTreeMap;

use a4mer_ros::msg::{MotifAnticipation, PoseForecast, Skeleton3DArray};
use serde::Deserialize;
use serde_json::Value;
use serde_reflection::{ContainerFormat, Format, Registry, Tracer, TracerConfig};

/// One field as rosidl's type description states it.
#[derive(Debug)]
struct RosField {
    name: String,
    type_id: u64,
    nested: String,
}

/// Every type a message's description holds, itself included, by ROS type name.
fn ros_types(message: &str) -> (String, BTreeMap<String, Vec<RosField>>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("msgs/type_descriptions")
        .join(format!("{message}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let msg = &doc["type_description_msg"];
    let fields = |t: &Value| -> Vec<RosField> {
        t["fields"]
            .as_array()
            .unwrap_or_else(|| panic!("{}: a type without fields", path.display()))
            .iter()
            .map(|f| RosField {
                name: f["name"].as_str().unwrap_or_default().to_string(),
                type_id: f["type"]["type_id"].as_u64().unwrap_or(0),
                nested: f["type"]["nested_type_name"].as_str().unwrap_or_default().to_string(),
            })
            .collect()
    };
    let top = &msg["type_description"];
    let mut all = BTreeMap::new();
    let name = top["type_name"].as_str().unwrap_or_default().to_string();
    all.insert(name.clone(), fields(top));
    for r in msg["referenced_type_descriptions"].as_array().into_iter().flatten() {
        all.insert(r["type_name"].as_str().unwrap_or_default().to_string(), fields(r));
    }
    (name, all)
}

/// rosidl's type id of a primitive (`rosidl_runtime_c/type_description/field_type.h`), and
/// the offsets that make it a fixed array, a bounded or an unbounded sequence.
fn primitive_id(f: &Format) -> Option<u64> {
    Some(match f {
        Format::U8 => 3,
        Format::I8 => 2,
        Format::I16 => 4,
        Format::U16 => 5,
        Format::I32 => 6,
        Format::U32 => 7,
        Format::I64 => 8,
        Format::U64 => 9,
        Format::F32 => 10,
        Format::F64 => 11,
        Format::Bool => 15,
        Format::Str => 17,
        _ => return None,
    })
}
const NESTED: u64 = 1;
const UNBOUNDED_SEQUENCE: u64 = 144;

fn trace<'de, T: Deserialize<'de>>() -> (String, Registry) {
    let mut tracer = Tracer::new(TracerConfig::default());
    let (format, _) = tracer
        .trace_simple_type::<T>()
        .unwrap_or_else(|e| panic!("tracing {}: {e}", std::any::type_name::<T>()));
    let Format::TypeName(name) = format else {
        panic!("{} is not a struct", std::any::type_name::<T>());
    };
    (name, tracer.registry().expect("every traced type is complete"))
}

/// Walks our struct `ours` against ROS type `theirs`, field by field, recursing into nested
/// types; every disagreement is pushed to `errors` with its path.
fn compare(
    path: &str,
    ours: &str,
    theirs: &str,
    registry: &Registry,
    ros: &BTreeMap<String, Vec<RosField>>,
    errors: &mut Vec<String>,
) {
    let Some(ContainerFormat::Struct(fields)) = registry.get(ours) else {
        errors.push(format!("{path}: our {ours} is not a struct with named fields"));
        return;
    };
    let Some(want) = ros.get(theirs) else {
        errors.push(format!("{path}: no description of {theirs}"));
        return;
    };
    let names = |v: Vec<&str>| v.join(", ");
    if fields.len() != want.len() || fields.iter().zip(want).any(|(a, b)| a.name != b.name) {
        errors.push(format!(
            "{path} ({theirs}): fields [{}] in our mirror, [{}] in the .msg",
            names(fields.iter().map(|f| f.name.as_str()).collect()),
            names(want.iter().map(|f| f.name.as_str()).collect())
        ));
        return;
    }
    for (f, w) in fields.iter().zip(want) {
        let at = format!("{path}.{}", f.name);
        let (element, offset) = match &f.value {
            Format::Seq(inner) => (inner.as_ref(), UNBOUNDED_SEQUENCE),
            other => (other, 0),
        };
        match element {
            Format::TypeName(inner) if w.type_id == NESTED + offset => {
                compare(&at, inner, &w.nested, registry, ros, errors)
            }
            p => match primitive_id(p) {
                Some(id) if id + offset == w.type_id => {}
                _ => errors.push(format!(
                    "{at}: {:?} in our mirror, type id {} ({}) in the .msg",
                    f.value, w.type_id, w.nested
                )),
            },
        }
    }
}

fn check<'de, T: Deserialize<'de>>(message: &str) -> Vec<String> {
    let (ours, registry) = trace::<T>();
    let (theirs, ros) = ros_types(message);
    let mut errors = Vec::new();
    compare(message, &ours, &theirs, &registry, &ros, &mut errors);
    errors
}

#[test]
fn every_mirror_matches_its_generated_type_description() {
    let errors: Vec<String> = [
        check::<PoseForecast>("PoseForecast"),
        check::<MotifAnticipation>("MotifAnticipation"),
        check::<Skeleton3DArray>("Skeleton3DArray"),
    ]
    .concat();
    assert!(errors.is_empty(), "mirror and .msg disagree:\n{}", errors.join("\n"));
}

/// The check itself can fail: a mirror with two fields swapped is caught, by name.
#[test]
fn a_reordered_field_is_named() {
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Swapped {
        header: a4mer_ros::msg::Header,
        bodies: Vec<SwappedBody>,
    }
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct SwappedBody {
        id: u32,
        joint_names: Vec<String>,
        layout: String,
        joints: Vec<a4mer_ros::msg::Point>,
        confidences: Vec<f32>,
    }
    let errors = check::<Swapped>("Skeleton3DArray");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("Skeleton3DArray.bodies (a4mer_msgs/msg/Skeleton3D): fields [id, joint_names, layout"),
        "{}",
        errors[0]
    );
}

/// ... and so is a field whose type changed.
#[test]
fn a_retyped_field_is_named() {
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Retyped {
        header: a4mer_ros::msg::Header,
        person_id: i32,
        step_period: a4mer_ros::msg::Duration,
        joint_names: Vec<String>,
        num_steps: u32,
        points: Vec<a4mer_ros::msg::Point>,
        spread_m: Vec<f64>,
        guard_sources: Vec<String>,
        guard_horizons_s: Vec<f32>,
        guard_weights: Vec<f32>,
        model_losing: Vec<bool>,
    }
    let errors = check::<Retyped>("PoseForecast");
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("PoseForecast.person_id: I32"), "{}", errors[0]);
    assert!(
        errors[1].starts_with("PoseForecast.spread_m: Seq(F64)"),
        "{}",
        errors[1]
    );
}
