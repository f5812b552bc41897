-- A group's members, read in list order (the SCIM group resource, member paging), and a
-- group's deletion cascading to its memberships, by (org_id, group_id). Without this index
-- SQLite took group_members_user_idx (equality on org_id alone) and read every membership of
-- the organisation, then sorted, for one group's members.
create index group_members_group_idx on group_members (org_id, group_id, created_at, user_id);
