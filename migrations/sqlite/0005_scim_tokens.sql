-- SCIM bearer tokens. Only a SHA-256 of the secret is kept: a token has 256 random bits,
-- so a slow password hash would add nothing but latency to every SCIM call.
create table scim_tokens (
    id            text   not null,
    org_id        text   not null,
    prefix        text   not null, -- the first characters of the secret, to recognise it
    token_hash    text   not null, -- lowercase hex SHA-256 of the whole secret
    description   text   not null default '',
    created_at    bigint not null,
    expires_at    bigint,
    last_used_at  bigint,
    revoked_at    bigint,
    constraint scim_tokens_pkey primary key (id),
    constraint scim_tokens_hash_key unique (token_hash),
    constraint scim_tokens_org_fkey foreign key (org_id) references orgs (id) on delete cascade
);
create index scim_tokens_org_idx on scim_tokens (org_id, created_at);
