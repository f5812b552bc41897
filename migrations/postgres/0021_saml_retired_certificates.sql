-- Signing certificates that a metadata refresh removed, still accepted for an overlap so
-- that logins signed just before the IdP's switch pass: a JSON array of
-- {"certificate": base64 DER, "until": ms}. An admin's own replacement clears it.
alter table saml_connections add column retired_certificates text not null default '[]';
