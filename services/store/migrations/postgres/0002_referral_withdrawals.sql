-- A withdrawal takes back referrals, not targets: an agency withdraws its own referral, and
-- a target is withdrawn (the platform asked to restore it) only once none of its referrals
-- stands. Each referral keeps when, by whom and why it was taken back.
ALTER TABLE referrals
    ADD COLUMN withdrawn_at BIGINT,
    ADD COLUMN withdrawn_by TEXT,
    ADD COLUMN withdraw_reason TEXT;

-- Targets withdrawn before: every referral of theirs was taken back with them.
UPDATE referrals r SET
    withdrawn_at = t.withdrawn_at,
    withdrawn_by = t.withdrawn_by,
    withdraw_reason = t.withdraw_reason
FROM targets t
WHERE t.id = r.target_id AND t.withdrawn_at IS NOT NULL;

-- Standing referrals per target are counted on every withdrawal.
CREATE INDEX referrals_standing ON referrals (target_id) WHERE withdrawn_at IS NULL;
