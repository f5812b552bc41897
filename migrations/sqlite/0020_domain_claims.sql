-- Domains an organisation has named but not yet proven. A claim routes nothing: /login
-- follows org_domains alone. A claim becomes a row of org_domains when the DNS TXT record
-- it names is found, or when a platform admin approves it; claims of the same domain by
-- several organisations may exist side by side, and the first to be proven wins (the
-- primary key of org_domains keeps a domain to one organisation).
create table domain_claims (
    org_id      text   not null,
    domain      text   not null, -- lowercase, as parsed by directory::model::Domain
    token       text   not null, -- the random value the TXT record must carry
    created_at  bigint not null,
    checked_at  bigint,          -- the last DNS check, if any
    problem     text,            -- what that check found instead, for the console
    constraint domain_claims_pkey primary key (org_id, domain),
    constraint domain_claims_org_fkey foreign key (org_id) references orgs (id) on delete cascade
);
