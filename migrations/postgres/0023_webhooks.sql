-- Webhook endpoints (DESIGN.md, Change feed): an organisation's changes pushed, in seq
-- order, to a URL it registers. types is a comma-separated list of change types ('' for
-- all). The signing secret is kept sealed (SecretBox); after a rotation the previous one
-- still signs until previous_until, so receivers can switch without losing a delivery.
-- delivered_through is the last seq the endpoint acknowledged (or that did not match its
-- types); failures counts the attempts at the next one, and next_attempt_at says when
-- the next try is due. failing_since is set when the retries are spent: delivery stops
-- until an operator redelivers.
create table webhook_endpoints (
    id                 text   not null,
    org_id             text   not null,
    url                text   not null,
    description        text   not null default '',
    types              text   not null default '',
    secret             text   not null,
    previous_secret    text,
    previous_until     bigint,
    paused             bigint not null default 0,
    delivered_through  bigint not null,
    failures           bigint not null default 0,
    next_attempt_at    bigint not null default 0,
    failing_since      bigint,
    last_error         text,
    attempts_made      bigint not null default 0,
    created_at         bigint not null,
    constraint webhook_endpoints_pkey primary key (id),
    constraint webhook_endpoints_org_fkey foreign key (org_id) references orgs (id) on delete cascade
);
create index webhook_endpoints_org_idx on webhook_endpoints (org_id);

-- Each delivery attempt, numbered per endpoint (n): which change, when, the receiver's
-- status or why there was none. Only the most recent are kept.
create table webhook_attempts (
    endpoint_id  text   not null,
    n            bigint not null,
    seq          bigint not null,
    attempt      bigint not null,
    at           bigint not null,
    status       bigint,
    error        text,
    constraint webhook_attempts_pkey primary key (endpoint_id, n),
    constraint webhook_attempts_endpoint_fkey foreign key (endpoint_id) references webhook_endpoints (id) on delete cascade
);

-- Work that one instance at a time must do (the webhook deliveries): whoever holds the
-- row until a time in the future has it; the holder renews, another takes it once expired.
create table leases (
    name    text   not null,
    holder  text   not null,
    until   bigint not null,
    constraint leases_pkey primary key (name)
);
