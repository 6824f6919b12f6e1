-- max_per_minute: the most deliveries a platform accepts in any minute, across every hub
-- replica (NULL: no cap). platform_sends counts what was claimed for it per second (unix
-- seconds); a claim takes only what the current second and the 62 before it leave of the
-- cap. Rows older than two minutes are deleted by the claims themselves.
ALTER TABLE platforms ADD COLUMN max_per_minute BIGINT;

CREATE TABLE platform_sends (
    platform TEXT NOT NULL REFERENCES platforms (name),
    second   BIGINT NOT NULL,
    sent     BIGINT NOT NULL,
    PRIMARY KEY (platform, second)
);
