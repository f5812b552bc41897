-- The admin console and the admin API.

-- Failed password sign-ins to the console, by email key (whether or not an admin has that
-- email, so the answer never tells which emails are admins). Too many failures within the
-- window lock the email until `locked_until`.
create table admin_login_failures (
    email_key     text   not null,
    failures      bigint not null,
    first_at      bigint not null, -- start of the counting window
    locked_until  bigint not null default 0,
    constraint admin_login_failures_pkey primary key (email_key)
);

-- Console sessions, apart from end users' sessions and shorter. The cookie holds a random
-- secret; only its SHA-256 is stored. Three kinds:
--   platform: a platform admin (admin_id), every organisation;
--   customer: a user of one organisation who is its admin (org_id, user_id, user_epoch);
--   setup:    whoever opened a setup link (org_id, link_id), that organisation's setup only.
create table admin_sessions (
    id_hash       text   not null,
    kind          text   not null,
    admin_id      text,
    org_id        text,
    user_id       text,
    user_epoch    bigint,
    link_id       text,
    csrf_token    text   not null, -- forms of this session must carry it
    created_at    bigint not null,
    last_seen_at  bigint not null, -- for the idle timeout; written at most once a minute
    expires_at    bigint not null, -- the absolute timeout
    constraint admin_sessions_pkey primary key (id_hash),
    constraint admin_sessions_kind_check check (kind in ('platform', 'customer', 'setup')),
    constraint admin_sessions_admin_fkey foreign key (admin_id)
        references admins (id) on delete cascade,
    constraint admin_sessions_org_fkey foreign key (org_id)
        references orgs (id) on delete cascade
);
create index admin_sessions_expiry_idx on admin_sessions (expires_at);
create index admin_sessions_user_idx on admin_sessions (org_id, user_id);

-- Users a platform admin has made admins of their own organisation (besides the members of
-- the IdP group that the organisation's `admin_group` setting names).
create table org_admins (
    org_id      text   not null,
    user_id     text   not null,
    created_at  bigint not null,
    constraint org_admins_pkey primary key (org_id, user_id),
    constraint org_admins_user_fkey foreign key (org_id, user_id)
        references users (org_id, id) on delete cascade
);

-- One-time links, stored as a hash of their secret:
--   setup:       lets a customer's IT admin set up one organisation without an account;
--   first_admin: printed by the first start, lets the first person create the first admin.
create table admin_links (
    id          text   not null,
    kind        text   not null,
    org_id      text,
    token_hash  text   not null,
    note        text   not null default '',
    created_by  text   not null, -- the actor, as the event log writes it
    created_at  bigint not null,
    expires_at  bigint not null,
    used_at     bigint,
    revoked_at  bigint,
    constraint admin_links_pkey primary key (id),
    constraint admin_links_token_key unique (token_hash),
    constraint admin_links_kind_check check (kind in ('setup', 'first_admin')),
    constraint admin_links_org_fkey foreign key (org_id) references orgs (id) on delete cascade
);
create index admin_links_org_idx on admin_links (org_id, created_at);

-- Admin API keys for /api/v1, stored as a hash like SCIM tokens. A key with an org_id acts
-- on that organisation only; one without acts as a platform admin.
create table api_keys (
    id            text   not null,
    org_id        text,
    prefix        text   not null, -- the first characters of the secret, to tell keys apart
    key_hash      text   not null,
    description   text   not null default '',
    created_by    text   not null,
    created_at    bigint not null,
    expires_at    bigint,
    last_used_at  bigint,
    revoked_at    bigint,
    constraint api_keys_pkey primary key (id),
    constraint api_keys_hash_key unique (key_hash),
    constraint api_keys_org_fkey foreign key (org_id) references orgs (id) on delete cascade
);
create index api_keys_org_idx on api_keys (org_id, created_at);
