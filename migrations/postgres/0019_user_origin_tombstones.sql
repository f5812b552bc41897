-- Who made a user, and whether SCIM has managed it: a SCIM create adopts a user that a
-- first login made (JIT) and that SCIM never wrote, instead of making a second account.
alter table users add column created_by text not null default 'admin'; -- jit, scim, admin
alter table users add column scim_managed bigint not null default 0;

-- Users made before these columns existed: their events say who made them.
update users set created_by = 'jit'
where id in (select target from events
             where action = 'user.create' and actor like 'idp:%' and events.org_id = users.org_id);
update users set created_by = 'scim'
where id in (select target from events
             where action = 'user.create' and actor like 'scim-token:%' and events.org_id = users.org_id);
update users set scim_managed = 1
where id in (select target from events
             where actor like 'scim-token:%' and events.org_id = users.org_id);

-- What a removed user leaves behind: a hash of each of its keys (userName and emails,
-- externalId, the IdP subjects linked to it), so that a later login of the same person is
-- refused instead of making the user again. Hashed: after an erase, nothing here says who
-- the person was, yet the same key still finds its tombstone.
create table user_tombstones (
    org_id      text   not null,
    key_hash    text   not null,
    user_id     text   not null, -- the id the removed user had
    removed_at  bigint not null,
    constraint user_tombstones_pkey primary key (org_id, key_hash, user_id),
    constraint user_tombstones_org_fkey foreign key (org_id) references orgs (id) on delete cascade
);
create index user_tombstones_user_idx on user_tombstones (org_id, user_id);

-- The event log stays append-only, except for one change: an erase replaces a person's
-- data in its events' detail with the hash that names them (`{"erased": "<hash>"}`).
drop trigger events_no_update_or_delete on events;
create trigger events_no_delete before delete on events
    for each statement execute function events_append_only();
create function events_only_erasure() returns trigger language plpgsql as $$
begin
    if new.id = old.id and new.org_id is not distinct from old.org_id and new.at = old.at
       and new.actor = old.actor and new.action = old.action
       and new.target is not distinct from old.target and new.outcome = old.outcome
       and new.detail like '{"erased":"%' then
        return new;
    end if;
    raise exception 'the event log is append-only';
end
$$;
create trigger events_no_update before update on events
    for each row execute function events_only_erasure();
