//! Checks of the TypeScript-facing shapes (built only with the `specta` feature): newtypes export
//! as their wire primitive, PATCH fields are optional, and no 64-bit integer reaches TypeScript.

use specta::datatype::{DataType, PrimitiveType, StructFields};
use specta::{Generics, Type, TypeMap};

fn inline<T: Type>(map: &mut TypeMap) -> DataType {
    T::inline(map, Generics::Definition)
}

/// Every primitive reachable from `dt`, following references through the type map.
fn primitives(dt: &DataType, map: &TypeMap, out: &mut Vec<PrimitiveType>) {
    match dt {
        DataType::Primitive(p) => out.push(p.clone()),
        DataType::List(l) => primitives(l.ty(), map, out),
        DataType::Nullable(inner) => primitives(inner, map, out),
        DataType::Map(m) => {
            primitives(m.key_ty(), map, out);
            primitives(m.value_ty(), map, out);
        }
        DataType::Struct(s) => match s.fields() {
            StructFields::Named(n) => {
                n.fields().iter().filter_map(|(_, f)| f.ty()).for_each(|t| primitives(t, map, out))
            }
            StructFields::Unnamed(u) => {
                u.fields().iter().filter_map(|f| f.ty()).for_each(|t| primitives(t, map, out))
            }
            StructFields::Unit => {}
        },
        DataType::Enum(e) => {
            for (_, v) in e.variants() {
                match v.inner() {
                    specta::datatype::EnumVariants::Named(n) => {
                        n.fields().iter().filter_map(|(_, f)| f.ty()).for_each(|t| primitives(t, map, out))
                    }
                    specta::datatype::EnumVariants::Unnamed(u) => {
                        u.fields().iter().filter_map(|f| f.ty()).for_each(|t| primitives(t, map, out))
                    }
                    specta::datatype::EnumVariants::Unit => {}
                }
            }
        }
        DataType::Tuple(t) => t.elements().iter().for_each(|e| primitives(e, map, out)),
        DataType::Reference(r) => {
            if let Some(named) = map.get(r.sid()) {
                primitives(&named.inner, map, out);
            }
        }
        _ => {}
    }
}

fn optional_fields(dt: &DataType) -> Vec<String> {
    match dt {
        DataType::Struct(s) => match s.fields() {
            StructFields::Named(n) => {
                n.fields().iter().filter(|(_, f)| f.optional()).map(|(name, _)| name.to_string()).collect()
            }
            _ => vec![],
        },
        _ => vec![],
    }
}

#[test]
fn string_newtypes_export_as_strings() {
    let mut map = TypeMap::default();
    let string = DataType::Primitive(PrimitiveType::String);
    assert_eq!(inline::<crate::PhoneNumber>(&mut map), string);
    assert_eq!(inline::<crate::IanaZone>(&mut map), string);
    assert_eq!(inline::<crate::office_hours::LocalTime>(&mut map), string);
    assert_eq!(inline::<crate::organization::OrgName>(&mut map), string);
    assert_eq!(inline::<crate::campaign::AgentId>(&mut map), string);
    assert_eq!(
        inline::<crate::organization::ConcurrentCallLimit>(&mut map),
        DataType::Primitive(PrimitiveType::u32)
    );
}

#[test]
fn patch_inputs_export_every_field_as_optional() {
    let mut map = TypeMap::default();
    let org = inline::<crate::organization::OrganizationUpdate>(&mut map);
    assert_eq!(
        optional_fields(&org),
        [
            "name",
            "timeZone",
            "officeHours",
            "callerNumber",
            "concurrentCallLimit",
            "callsPerMinute",
            "uploadRetentionDays",
            "transcriptRetentionDays"
        ]
    );
    let campaign = inline::<crate::campaign::CampaignUpdate>(&mut map);
    assert_eq!(optional_fields(&campaign).len(), 8);
}

#[test]
fn no_exported_type_uses_a_64_bit_integer() {
    use crate::{audit, campaign, lifecycle, office_hours, organization, retry};
    let mut map = TypeMap::default();
    let roots = [
        inline::<crate::ValidationErrors>(&mut map),
        inline::<office_hours::OfficeHours>(&mut map),
        inline::<office_hours::OfficeHoursInput>(&mut map),
        inline::<organization::OrgSettings>(&mut map),
        inline::<organization::OrganizationUpdate>(&mut map),
        inline::<campaign::CampaignDefinition>(&mut map),
        inline::<campaign::NewCampaign>(&mut map),
        inline::<campaign::CampaignUpdate>(&mut map),
        inline::<campaign::builtins::BuiltinVariable>(&mut map),
        inline::<retry::RetryPolicy>(&mut map),
        inline::<lifecycle::RunStatus>(&mut map),
        inline::<lifecycle::RowStatus>(&mut map),
        inline::<lifecycle::CallStatus>(&mut map),
        inline::<lifecycle::CallOutcome>(&mut map),
        inline::<audit::AuditAction>(&mut map),
        inline::<audit::ActorKind>(&mut map),
        inline::<crate::prompt::VariationWarning>(&mut map),
    ];
    let mut found = Vec::new();
    for root in &roots {
        primitives(root, &map, &mut found);
    }
    assert!(found.contains(&PrimitiveType::String));
    for p in found {
        assert!(
            !matches!(
                p,
                PrimitiveType::i64
                    | PrimitiveType::u64
                    | PrimitiveType::i128
                    | PrimitiveType::u128
                    | PrimitiveType::isize
                    | PrimitiveType::usize
            ),
            "{p:?} reaches TypeScript"
        );
    }
}

#[test]
fn the_integer_check_sees_through_nested_named_types() {
    #[derive(specta::Type)]
    #[allow(dead_code)]
    struct Inner {
        x: Option<Vec<u64>>,
    }
    #[derive(specta::Type)]
    #[allow(dead_code)]
    struct Outer {
        inner: Inner,
    }
    let mut map = TypeMap::default();
    let outer = inline::<Outer>(&mut map);
    let mut found = Vec::new();
    primitives(&outer, &map, &mut found);
    assert_eq!(found, [PrimitiveType::u64]);
}
