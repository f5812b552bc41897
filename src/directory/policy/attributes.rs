//! Rules about a user's attributes: the role (default and allowed values), phone numbers,
//! required attributes. They run in that order, so that a default role counts for a
//! required role attribute and a required phone number is checked in its stored form.

use super::Violation;
use crate::directory::orgs::Org;
use crate::directory::users::{User, UserData};

pub use super::paths::check_paths;
pub use super::roles::{check_role_attribute, check_settings, role_in, role_of, set_role};

pub fn check(org: &Org, data: &mut UserData, current: Option<&User>) -> Result<(), Violation> {
    let policy = &org.settings.policy;
    super::roles::check(policy, data, current)?;
    super::phones::check(policy, data, current)?;
    super::required::check(&policy.required_attributes, data, current)
}
