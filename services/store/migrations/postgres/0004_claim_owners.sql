-- Who holds each claim, and which hubs are alive: a hub restarting under the same
-- instance id takes its own claims back at once, and the others take a dead hub's claims
-- back once its heartbeat stops, both well before the claims' lease would end.
ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;

CREATE TABLE hub_instances (
    instance     TEXT PRIMARY KEY,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);
