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
--
-- Each write takes the row's lock until it commits, so user creations in one organisation
-- commit one after another (SQLite's writers take turns anyway). Lock order: a transaction
-- that also locks the organisation's row (the unique-email check) takes that one first.
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

-- Statement-level triggers over transition tables: a bulk import's multi-row INSERT
-- updates each organisation's row once, not once per user.
create function org_user_positions_added() returns trigger language plpgsql as $$
begin
    insert into org_user_positions (org_id, positions, renumbered)
    select distinct org_id, 0, 0 from added_users
    on conflict (org_id) do nothing;
    with batch as (
        select org_id, count(*) as n from added_users group by org_id
    ), firsts as (
        select distinct on (org_id) org_id, created_at, id from added_users
        order by org_id, created_at, id
    ), lasts as (
        select distinct on (org_id) org_id, created_at, id from added_users
        order by org_id, created_at desc, id desc
    )
    update org_user_positions p set
        positions = p.positions + b.n,
        -- Rows of one statement land together: only the batch's first key is compared.
        renumbered = p.renumbered + case
            when p.last_created_at is not null
                 and (f.created_at, f.id) <= (p.last_created_at, p.last_id) then 1
            else 0 end,
        last_created_at = case
            when p.last_created_at is null
                 or (l.created_at, l.id) > (p.last_created_at, p.last_id) then l.created_at
            else p.last_created_at end,
        last_id = case
            when p.last_created_at is null
                 or (l.created_at, l.id) > (p.last_created_at, p.last_id) then l.id
            else p.last_id end
    from batch b
    join firsts f on f.org_id = b.org_id
    join lasts l on l.org_id = b.org_id
    where p.org_id = b.org_id;
    return null;
end
$$;

create trigger users_positions_insert after insert on users
    referencing new table as added_users
    for each statement execute function org_user_positions_added();

-- A plain update, not an upsert: when the organisation itself is being deleted, its row
-- may be gone already, and must not come back.
create function org_user_positions_removed() returns trigger language plpgsql as $$
begin
    update org_user_positions p set positions = p.positions - r.n, renumbered = p.renumbered + 1
    from (select org_id, count(*) as n from removed_users group by org_id) r
    where p.org_id = r.org_id;
    return null;
end
$$;

create trigger users_positions_delete after delete on users
    referencing old table as removed_users
    for each statement execute function org_user_positions_removed();
