//! Placeholder, filled in by the SCIM engine work.
