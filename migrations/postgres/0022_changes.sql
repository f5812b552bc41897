-- The change feed's outbox (DESIGN.md, Change feed). Each organisation's changes are
-- numbered 1, 2, 3... without gaps: a write takes the next numbers from change_seqs in
-- its own transaction (which, on PostgreSQL, holds that row's lock until it commits, so
-- changes become visible in the order of their numbers), and a write that rolls back
-- takes its numbers back with it. pruned_through is the last number the retention
-- removed: a reader asking for what follows an older one has missed changes.
create table change_seqs (
    org_id          text   not null,
    last_seq        bigint not null,
    pruned_through  bigint not null default 0,
    constraint change_seqs_pkey primary key (org_id),
    constraint change_seqs_org_fkey foreign key (org_id) references orgs (id) on delete cascade
);

-- One change: what happened (kind), when, who did it and through which door (source),
-- and the resource as it was after the change, in the directory's own terms (the API
-- shows it as SCIM does). After an erase, a user's earlier changes keep only its id.
create table changes (
    org_id         text   not null,
    seq            bigint not null,
    kind           text   not null,
    at             bigint not null,
    actor          text   not null,
    source         text   not null,
    resource_type  text   not null,
    resource_id    text   not null,
    body           text   not null,
    constraint changes_pkey primary key (org_id, seq),
    constraint changes_org_fkey foreign key (org_id) references orgs (id) on delete cascade
);
create index changes_org_resource_idx on changes (org_id, resource_id);
create index changes_at_idx on changes (at);
