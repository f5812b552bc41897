-- The event log: append-only, written in the same transaction as the change it records.
-- No foreign key to orgs: the record of what happened outlives what it happened to.
create table events (
    id          integer primary key autoincrement,
    org_id      text,            -- null for platform events (admin accounts)
    at          bigint not null,
    actor       text   not null, -- "cli", "scim-token:<id>", "admin:<id>", "user:<id>", "system"
    action      text   not null, -- "user.deactivate", "token.create", ...
    target      text,            -- the id of what was acted on
    outcome     text   not null, -- "success" or "failure"
    detail      text   not null default '{}' -- JSON; on failure, the reason
);
create index events_org_idx on events (org_id, id);

create trigger events_no_update before update on events
begin
    select raise(abort, 'the event log is append-only');
end;
create trigger events_no_delete before delete on events
begin
    select raise(abort, 'the event log is append-only');
end;
