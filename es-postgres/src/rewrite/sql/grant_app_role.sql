-- What an application needs, and no more: `{role}` is the quoted role.
-- Events can be read and appended, never updated or deleted; the audit of
-- rewrites can be read only. The role owns nothing, so it cannot disable a
-- trigger or alter a table, and as a non-superuser it cannot set
-- session_replication_role. Migrations and rewrites run as the owner.
GRANT USAGE ON SCHEMA {schema} TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role};
REVOKE UPDATE, DELETE ON {schema}.events, {schema}.rewrites, {schema}.event_revisions FROM {role};
REVOKE INSERT ON {schema}.rewrites, {schema}.event_revisions FROM {role};
REVOKE INSERT, UPDATE, DELETE ON {schema}.schema_migrations FROM {role};
