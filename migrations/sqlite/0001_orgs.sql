-- Organisations (tenants). Every other tenant-owned row names one, and goes with it.
-- Times are BIGINT milliseconds since 1970 and flags BIGINT 0/1, so that one set of queries
-- reads the same values from SQLite and PostgreSQL.
create table orgs (
    id          text   not null,
    slug        text   not null,
    name        text   not null,
    settings    text   not null default '{}', -- JSON of directory::orgs::OrgSettings
    created_at  bigint not null,
    updated_at  bigint not null,
    constraint orgs_pkey primary key (id),
    constraint orgs_slug_key unique (slug)
);

-- Verified email domains. The primary key makes a domain belong to one organisation at most,
-- which is what lets /login find the organisation from an email address.
create table org_domains (
    domain      text   not null, -- lowercase, stored as parsed by directory::model::Domain
    org_id      text   not null,
    created_at  bigint not null,
    constraint org_domains_pkey primary key (domain),
    constraint org_domains_org_fkey foreign key (org_id) references orgs (id) on delete cascade
);
create index org_domains_org_idx on org_domains (org_id);
