-- Claims take due deliveries in (next_at, id) order, LIMIT n. SQLite's index already ended
-- with the rowid (= id), so this changes no plan here; it keeps the index the same as
-- PostgreSQL's, where every claim used to sort all of a platform's due deliveries.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (platform, next_at, id) WHERE state IN (0, 1);
