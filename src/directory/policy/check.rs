//! The one check every user write goes through: the directory calls [`check_user`] before
//! it creates or replaces a user, whichever door the write came in by.

use super::Violation;
use crate::directory::orgs::Org;
use crate::directory::users::{User, UserData};

/// Checks a user about to be written against the organisation's policy, and normalises it
/// where the policy says so (phone numbers, the default role). `current` is the user as
/// stored, None for a create.
pub fn check_user(org: &Org, data: &mut UserData, current: Option<&User>) -> Result<(), Violation> {
    super::identity::check(org, data, current)?;
    super::attributes::check(org, data, current)?;
    super::extension::check_values(org, data)?;
    Ok(())
}
