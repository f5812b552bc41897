-- The member's `display` as the client sent it (RFC 7643 §4.2): clients compare what they
-- read back with what they wrote, so it is kept, not derived from the user.
alter table group_members add column display text;
