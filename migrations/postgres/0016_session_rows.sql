-- A session as `/auth/check` and `/me` read it on every request: the session, its user, the
-- user's organisation and the names of the user's groups, in one row and one statement.
-- Only the aggregate of the group names differs between the backends.
create view session_rows as
select s.id_hash, s.epoch as s_epoch, s.csrf_token, s.created_at as s_created_at,
       s.last_seen_at, s.expires_at, o.slug, o.settings,
       u.id, u.org_id, u.user_name, u.external_id, u.active, u.deleted_at, u.session_epoch,
       u.profile, u.created_at, u.updated_at, u.version,
       (select coalesce(json_agg(g.display_name order by g.display_name_key), '[]')::text
          from group_members m join groups g on g.org_id = m.org_id and g.id = m.group_id
         where m.org_id = u.org_id and m.user_id = u.id) as group_names
from sessions s
join users u on u.org_id = s.org_id and u.id = s.user_id
join orgs o on o.id = s.org_id;
