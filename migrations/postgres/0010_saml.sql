-- SAML: one IdP connection per organisation, the AuthnRequests still awaiting an answer,
-- and the assertion IDs already used.
create table saml_connections (
    org_id         text   not null,
    idp_entity_id  text   not null,
    sso_url        text   not null, -- the IdP's HTTP-Redirect SingleSignOnService
    certificates   text   not null, -- JSON array of base64 DER signing certificates, all accepted
    metadata_url   text,            -- where the metadata was fetched from, if it was
    created_at     bigint not null,
    updated_at     bigint not null,
    constraint saml_connections_pkey primary key (org_id),
    constraint saml_connections_org_fkey foreign key (org_id) references orgs (id) on delete cascade
);

-- Outstanding AuthnRequests. The IdP's answer arrives as a cross-site POST that carries no
-- SameSite=Lax cookie, so the request lives here, found by the opaque RelayState the
-- browser brings back, and is used once.
create table saml_requests (
    id           text   not null, -- the AuthnRequest ID: 128 random bits
    relay_state  text   not null, -- opaque; stands for return_to, never is it
    org_id       text   not null,
    return_to    text   not null,
    expires_at   bigint not null,
    constraint saml_requests_pkey primary key (id),
    constraint saml_requests_relay_key unique (relay_state),
    constraint saml_requests_org_fkey foreign key (org_id) references orgs (id) on delete cascade
);
create index saml_requests_expiry_idx on saml_requests (expires_at);

-- Assertion IDs seen, kept until the assertion expires: a replayed assertion is refused on
-- every server that shares the database.
create table saml_assertions_seen (
    org_id        text   not null,
    assertion_id  text   not null,
    expires_at    bigint not null,
    constraint saml_assertions_seen_pkey primary key (org_id, assertion_id)
);
create index saml_assertions_seen_expiry_idx on saml_assertions_seen (expires_at);
