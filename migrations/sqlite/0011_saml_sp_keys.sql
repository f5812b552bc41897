-- The SP's own key pairs, per organisation, for signing AuthnRequests when the organisation
-- asks for it. Made on first need. A new key is published in the SP metadata beside the old
-- one and takes over signing once the old one is retired, so an IdP is never left with a
-- certificate it has not seen.
create table saml_sp_keys (
    id           text   not null,
    org_id       text   not null,
    private_key  text   not null, -- PKCS#8 PEM
    certificate  text   not null, -- base64 DER, self-signed
    created_at   bigint not null,
    retired_at   bigint,
    constraint saml_sp_keys_pkey primary key (id),
    constraint saml_sp_keys_org_fkey foreign key (org_id) references orgs (id) on delete cascade
);
create index saml_sp_keys_org_idx on saml_sp_keys (org_id, created_at);
