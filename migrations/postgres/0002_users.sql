-- Users: the one user model behind SCIM and SSO.
-- Columns hold what is looked up, sorted or enforced; the rest of the profile (name parts,
-- emails, addresses, enterprise and extension attributes) is one JSON document, kept
-- exactly as the client sent it.
create table users (
    id                 text   not null, -- UUID, assigned here, never changes
    org_id             text   not null,
    user_name          text   not null, -- as given
    user_name_key      text   not null, -- Unicode-lowercased in Rust: both backends agree
    external_id        text,
    display_name       text,
    primary_email_key  text,            -- lowercased primary (or first) email
    active             bigint not null default 1,
    deleted_at         bigint,          -- soft delete: hidden from SCIM, logins refused
    session_epoch      bigint not null default 0, -- moved on to end every session at once
    profile            text   not null default '{}',
    created_at         bigint not null,
    updated_at         bigint not null,
    version            bigint not null, -- changes on every write; the SCIM ETag
    constraint users_pkey primary key (id),
    constraint users_org_id_key unique (org_id, id), -- target of tenant-scoped foreign keys
    constraint users_org_user_name_key unique (org_id, user_name_key),
    constraint users_org_fkey foreign key (org_id) references orgs (id) on delete cascade
);
create index users_org_external_id_idx on users (org_id, external_id);
create index users_org_primary_email_idx on users (org_id, primary_email_key);
-- Lists walk users in creation order, with the id breaking ties, so a page boundary is a
-- position in an order that concurrent writes cannot shuffle.
create index users_org_created_idx on users (org_id, created_at, id);

-- Every email value of a user, lowercased, so `emails.value eq` is an index lookup.
create table user_emails (
    org_id     text not null,
    user_id    text not null,
    value_key  text not null,
    constraint user_emails_pkey primary key (user_id, value_key),
    constraint user_emails_user_fkey foreign key (org_id, user_id)
        references users (org_id, id) on delete cascade
);
create index user_emails_lookup_idx on user_emails (org_id, value_key);
