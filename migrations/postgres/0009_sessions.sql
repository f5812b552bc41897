-- Browser sessions. The cookie holds a random secret; only its SHA-256 is stored, so the
-- table cannot be replayed from a backup. A session remembers the user's epoch when it was
-- made: once the user's epoch moves on (deactivation), the session is dead everywhere.
create table sessions (
    id_hash       text   not null,
    org_id        text   not null,
    user_id       text   not null,
    epoch         bigint not null,
    csrf_token    text   not null, -- forms of this session must carry it
    created_at    bigint not null,
    last_seen_at  bigint not null, -- for the idle timeout; written at most once a minute
    expires_at    bigint not null, -- the absolute timeout
    constraint sessions_pkey primary key (id_hash),
    constraint sessions_user_fkey foreign key (org_id, user_id)
        references users (org_id, id) on delete cascade
);
create index sessions_user_idx on sessions (org_id, user_id);
create index sessions_expiry_idx on sessions (expires_at);
