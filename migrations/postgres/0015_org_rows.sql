-- An organisation with its verified domains in one row (space-separated), so that reading an
-- organisation is one statement. The aggregate is the only backend-specific part.
create view org_rows as
select o.id, o.slug, o.name, o.settings, o.created_at, o.updated_at,
       (select string_agg(d.domain, ' ' order by d.domain) from org_domains d
         where d.org_id = o.id) as domain_list
from orgs o;
