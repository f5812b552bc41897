//! Every URN Gatehouse names, in one place: the SCIM schemas (RFC 7643 §8.7), its message
//! schemas (RFC 7644 §3.1, §3.4.2, §3.4.3, §3.5.2, §3.12) and Gatehouse's own extension.
//! The SCIM server, the directory's policies and the projection all read them from here.

/// The core User schema (RFC 7643 §4.1).
pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The enterprise User extension (RFC 7643 §4.3).
pub const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The Group schema (RFC 7643 §4.2).
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Gatehouse's extension for an organisation's custom user attributes, unless it names
/// another.
pub const GATEHOUSE_EXTENSION_URN: &str =
    "urn:ietf:params:scim:schemas:extension:gatehouse:2.0:User";
/// Schema definitions (RFC 7643 §7).
pub const SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
/// Resource types (RFC 7643 §6).
pub const RESOURCE_TYPE_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// The service provider configuration (RFC 7643 §5).
pub const SPC_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// A list answer (RFC 7644 §3.4.2).
pub const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// A search by POST (RFC 7644 §3.4.3).
pub const SEARCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// A PATCH body (RFC 7644 §3.5.2).
pub const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// An error answer (RFC 7644 §3.12).
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// What every core schema's URN starts with (custom extensions may not).
pub const CORE_PREFIX: &str = "urn:ietf:params:scim:schemas:core:";
/// What every SCIM message schema's URN starts with.
pub const API_PREFIX: &str = "urn:ietf:params:scim:api:";
