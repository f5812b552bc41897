-- Keys that sign the session tokens /auth/check hands the app (X-Gatehouse-Token), all
-- published at /.well-known/jwks.json. The newest signs; a key is replaced after
-- session.token_key_rotation_days and stays published for as long again, so a token
-- signed just before the switch still verifies. private_key is sealed (SecretBox).
create table token_keys (
    kid          text   not null,
    private_key  text   not null,
    public_key   text   not null,
    created_at   bigint not null,
    constraint token_keys_pkey primary key (kid)
);
