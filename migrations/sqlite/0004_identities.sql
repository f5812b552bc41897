-- Links from an IdP's subject (SAML NameID, OIDC sub) on one connection to a user.
-- A subject belongs to one user per connection.
create table identities (
    org_id         text   not null,
    connection_id  text   not null,
    subject        text   not null,
    user_id        text   not null,
    created_at     bigint not null,
    constraint identities_connection_subject_key unique (connection_id, subject),
    constraint identities_user_fkey foreign key (org_id, user_id)
        references users (org_id, id) on delete cascade
);
create index identities_user_idx on identities (org_id, user_id);
