-- The coordinator's view of the deliveries the hub gave up on (state 3, FAILED) reads them
-- by id; they are few, so a partial index keeps the read off the whole outbox.
CREATE INDEX deliveries_failed ON deliveries (id) WHERE state = 3;
