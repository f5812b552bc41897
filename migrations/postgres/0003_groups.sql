-- Groups, pushed by SCIM or named at login; one set, matched by displayName.
create table groups (
    id                text   not null,
    org_id            text   not null,
    display_name      text   not null,
    display_name_key  text   not null, -- Unicode-lowercased in Rust
    external_id       text,
    created_at        bigint not null,
    updated_at        bigint not null,
    version           bigint not null,
    constraint groups_pkey primary key (id),
    constraint groups_org_id_key unique (org_id, id),
    constraint groups_org_display_name_key unique (org_id, display_name_key),
    constraint groups_org_fkey foreign key (org_id) references orgs (id) on delete cascade
);
create index groups_org_external_id_idx on groups (org_id, external_id);
create index groups_org_created_idx on groups (org_id, created_at, id);

-- Memberships, indexed both ways: a group's members (primary key) and a user's groups.
-- Both foreign keys carry org_id, so a membership can never join two organisations.
create table group_members (
    org_id      text   not null,
    group_id    text   not null,
    user_id     text   not null,
    created_at  bigint not null,
    constraint group_members_pkey primary key (group_id, user_id),
    constraint group_members_group_fkey foreign key (org_id, group_id)
        references groups (org_id, id) on delete cascade,
    constraint group_members_user_fkey foreign key (org_id, user_id)
        references users (org_id, id) on delete cascade
);
create index group_members_user_idx on group_members (org_id, user_id, group_id);
