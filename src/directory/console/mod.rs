//! The console's own accounts: platform and organisation admins, their sign-in links,
//! lockout and sessions, and the queries its pages read.

pub mod admin_links;
pub mod admin_lockout;
pub mod admin_sessions;
pub mod admins;
pub mod org_admins;
pub mod queries;
