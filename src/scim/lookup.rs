//! The schema tables as the filter and PATCH engines read them.

use super::attrs::{AttrInfo, AttrLookup};
use super::schema::{Attribute, ResourceType, Returned};

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

    fn returned_always(&self, name: &str) -> bool {
        self.resolve(None, name)
            .is_some_and(|r| r.core && r.attribute.returned == Returned::Always)
    }
}

fn info(schema: &str, core: bool, a: &Attribute) -> AttrInfo {
    AttrInfo {
        schema: schema.to_string(),
        name: a.name.to_string(),
        ty: a.ty,
        multi_valued: a.multi_valued,
        case_exact: a.case_exact,
        mutability: a.mutability,
        core,
    }
}
