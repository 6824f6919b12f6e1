-- When each delivered removal order reached its platform, by day and platform, for the
-- summary's "delivered outside staffed hours": a partial index holds only removal orders
-- (legal_basis 2, takedown.v1.LegalBasis REMOVAL_ORDER) once delivered, so reading them
-- costs what a day's removal orders number, not its targets, and ToS referrals pay nothing
-- for it when they are written.
CREATE INDEX targets_removal_orders_delivered ON targets (action_day_id, platform, delivered_at)
    WHERE legal_basis = 2 AND delivered_at IS NOT NULL;
