-- Optional autovacuum settings for mailhub's busiest tables on PostgreSQL 13 or later, for
-- installations that send more than about a million emails a day. Why each one, and why this
-- is a script and not a migration: docs/DEPLOY.md, "PostgreSQL care".
--
--   psql "$DATABASE_URL" -f deploy/postgres/message_table.sql
--
-- Run it as the tables' owner (the user mailhub migrates with). It only changes storage
-- parameters: no rewrite, a brief SHARE UPDATE EXCLUSIVE lock per table, safe while mailhub
-- runs, and safe to run again. Undo one with ALTER TABLE ... RESET (parameter).

-- The queue: vacuum after ~1 % of the rows changed (not the default 20 %), without the
-- default cost throttling, and keep the planner's statistics fresh while campaigns swing
-- the share of queued rows.
ALTER TABLE queueing_message SET (
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 10000,
    autovacuum_vacuum_cost_limit = 2000,
    autovacuum_analyze_scale_factor = 0.005,
    autovacuum_analyze_threshold = 10000
);

-- Batches: one row per provider request, updated like messages.
ALTER TABLE queueing_sendbatch SET (
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_cost_limit = 2000
);

-- Timeline events: inserted, rarely updated; vacuum for the visibility map after 5 % new rows.
ALTER TABLE queueing_messageevent SET (
    autovacuum_vacuum_insert_scale_factor = 0.05,
    autovacuum_vacuum_cost_limit = 2000
);
