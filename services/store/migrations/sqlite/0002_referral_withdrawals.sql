-- A withdrawal takes back referrals, not targets: an agency withdraws its own referral, and
-- a target is withdrawn (the platform asked to restore it) only once none of its referrals
-- stands. Each referral keeps when, by whom and why it was taken back.
ALTER TABLE referrals ADD COLUMN withdrawn_at INTEGER;
ALTER TABLE referrals ADD COLUMN withdrawn_by TEXT;
ALTER TABLE referrals ADD COLUMN withdraw_reason TEXT;

-- Targets withdrawn before: every referral of theirs was taken back with them.
UPDATE referrals SET
    withdrawn_at = (SELECT t.withdrawn_at FROM targets t WHERE t.id = referrals.target_id),
    withdrawn_by = (SELECT t.withdrawn_by FROM targets t WHERE t.id = referrals.target_id),
    withdraw_reason = (SELECT t.withdraw_reason FROM targets t WHERE t.id = referrals.target_id)
WHERE target_id IN (SELECT id FROM targets WHERE withdrawn_at IS NOT NULL);

-- Standing referrals per target are counted on every withdrawal.
CREATE INDEX referrals_standing ON referrals (target_id) WHERE withdrawn_at IS NULL;
