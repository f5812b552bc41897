-- OpenID Connect: one provider connection per organisation, and the login flows awaiting
-- their callback.
create table oidc_connections (
    org_id         text   not null,
    issuer         text   not null,
    client_id      text   not null,
    client_secret  text,            -- sealed with the secrets key (secrets.rs); null: a public client
    scopes         text   not null, -- space-separated, `openid` first
    created_at     bigint not null,
    updated_at     bigint not null,
    constraint oidc_connections_pkey primary key (org_id),
    constraint oidc_connections_org_fkey foreign key (org_id) references orgs (id) on delete cascade
);

-- A flow is found by the hash of its `state`, must come back from the browser that started
-- it (the hash of a short-lived cookie), and is used once.
create table oidc_flows (
    state_hash     text   not null,
    org_id         text   not null,
    browser_hash   text   not null,
    nonce          text   not null,
    pkce_verifier  text   not null,
    return_to      text   not null,
    expires_at     bigint not null,
    constraint oidc_flows_pkey primary key (state_hash),
    constraint oidc_flows_org_fkey foreign key (org_id) references orgs (id) on delete cascade
);
create index oidc_flows_expiry_idx on oidc_flows (expires_at);
