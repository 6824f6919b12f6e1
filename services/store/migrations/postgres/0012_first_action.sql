-- first_acted_at: the time of a target's earliest decision that left the content
-- unreachable (BLOCKED, ALREADY_GONE, NOT_FOUND, GEO_BLOCKED), whatever the platform decided
-- after it. A ToS referral's clock runs from delivered_at to it, with no pauses (the pauses
-- of Art 3(7)-(8) of the TCO regulation are a removal order's alone). Kept by the report
-- batch's one update of its targets. Targets decided before this migration have none: their
-- ToS clock does not run.
ALTER TABLE targets ADD COLUMN first_acted_at BIGINT;
