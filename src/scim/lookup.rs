//! The schema tables as the filter and PATCH engines read them.

use super::attrs::{AttrInfo, AttrLookup, AttrType, Mutability};
use super::schema::{self, Attribute, ResourceType};

impl AttrLookup for ResourceType {
    fn attr(&self, urn: Option<&str>, name: &str) -> Option<AttrInfo> {
        let r = self.resolve(urn, name)?;
        Some(info(r.schema.id, r.core, r.attribute))
    }

    fn sub_attr(&self, parent: &AttrInfo, name: &str) -> Option<AttrInfo> {
        let r = self.resolve(Some(&parent.schema), &parent.name)?;
        let sub = r.attribute.sub(name)?;
        Some(info(r.schema.id, r.core, sub))
    }

    fn schema_urns(&self) -> Vec<String> {
        std::iter::once(self.core.id)
            .chain(self.extensions.iter().map(|s| s.id))
            .map(str::to_string)
            .collect()
    }
}

fn info(schema: &str, core: bool, a: &Attribute) -> AttrInfo {
    AttrInfo {
        schema: schema.to_string(),
        name: a.name.to_string(),
        ty: match a.ty {
            schema::Type::String => AttrType::String,
            schema::Type::Boolean => AttrType::Boolean,
            schema::Type::DateTime => AttrType::DateTime,
            schema::Type::Binary => AttrType::Binary,
            schema::Type::Reference => AttrType::Reference,
            schema::Type::Complex => AttrType::Complex,
        },
        multi_valued: a.multi_valued,
        case_exact: a.case_exact,
        mutability: match a.mutability {
            schema::Mutability::ReadOnly => Mutability::ReadOnly,
            schema::Mutability::ReadWrite => Mutability::ReadWrite,
            schema::Mutability::Immutable => Mutability::Immutable,
            schema::Mutability::WriteOnly => Mutability::WriteOnly,
        },
        core,
    }
}
