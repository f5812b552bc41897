//! SCIM 2.0 service provider (RFC 7643, RFC 7644): the provisioning door. Wire format only:
//! every change goes through the directory.

pub mod attrs;
pub mod filter;
pub mod patch;
