-- Platform admins: they sign in to the console with an email and an argon2id password hash.
create table admins (
    id             text   not null,
    email          text   not null, -- as given
    email_key      text   not null, -- lowercased, for the unique check and sign-in
    password_hash  text   not null, -- PHC string, argon2id
    created_at     bigint not null,
    updated_at     bigint not null,
    constraint admins_pkey primary key (id),
    constraint admins_email_key unique (email_key)
);
