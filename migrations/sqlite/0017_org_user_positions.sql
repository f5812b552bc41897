-- How many positions each organisation's user list has, kept by triggers so that a page of
-- GET /Users (RFC 7644 §3.4.2.4, startIndex paging) reads one row for its totalResults
-- instead of counting the organisation's users. A position counts soft-deleted users too
-- (see src/directory/user_lists.rs), so this is every row of `users`. Triggers rather than
-- code: every path that writes users (SCIM, login, console, command line, bulk import)
-- keeps it right without knowing it exists. The row appears with the organisation's first
-- user; no row means no positions.
--
-- `renumbered` moves on whenever a position may have changed its user: on every hard
-- delete (the users after it move up one place) and when a user is created ahead of the
-- last one in list order (a server whose clock is behind another's). The page cache of
-- src/directory/page_keys.rs keeps the key that leads to a position only as long as this
-- count stays what it was when the key was read, in this process or any other.
-- `last_created_at`, `last_id`: the greatest (created_at, id) ever created here, which
-- tells a creation at the end of the list from one ahead of it. A user's org_id,
-- created_at and id never change (no statement updates them), so updates need no trigger.
create table org_user_positions (
    org_id           text   not null,
    positions        bigint not null,
    renumbered       bigint not null,
    last_created_at  bigint,
    last_id          text,
    constraint org_user_positions_pkey primary key (org_id),
    constraint org_user_positions_org_fkey foreign key (org_id)
        references orgs (id) on delete cascade
);

insert into org_user_positions (org_id, positions, renumbered, last_created_at)
select org_id, count(*), 0, max(created_at) from users group by org_id;
update org_user_positions set last_id = (
    select max(u.id) from users u
    where u.org_id = org_user_positions.org_id and u.created_at = org_user_positions.last_created_at
);

-- Row triggers: SQLite has no statement-level ones. Each costs two lookups by primary key.
create trigger users_positions_insert after insert on users
begin
    insert into org_user_positions (org_id, positions, renumbered)
    values (new.org_id, 0, 0)
    on conflict (org_id) do nothing;
    update org_user_positions set
        positions = positions + 1,
        renumbered = renumbered + case
            when last_created_at is not null
                 and (new.created_at, new.id) <= (last_created_at, last_id) then 1
            else 0 end,
        last_created_at = case
            when last_created_at is null
                 or (new.created_at, new.id) > (last_created_at, last_id) then new.created_at
            else last_created_at end,
        last_id = case
            when last_created_at is null
                 or (new.created_at, new.id) > (last_created_at, last_id) then new.id
            else last_id end
    where org_id = new.org_id;
end;

-- A plain update, not an upsert: when the organisation itself is being deleted, its row
-- may be gone already, and must not come back.
create trigger users_positions_delete after delete on users
begin
    update org_user_positions set positions = positions - 1, renumbered = renumbered + 1
    where org_id = old.org_id;
end;
