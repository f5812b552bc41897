//! Rules about a user's attributes: required attributes, phone numbers, roles.

use super::Violation;
use crate::directory::orgs::Org;
use crate::directory::users::{User, UserData};

pub fn check(_org: &Org, _data: &mut UserData, _current: Option<&User>) -> Result<(), Violation> {
    Ok(())
}
