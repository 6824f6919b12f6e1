-- Each referral keeps its own legal basis and removal-order reference, so that a target's
-- basis can be the strongest of its standing referrals (a removal order merged into an
-- earlier ToS referral raises it; withdrawing the order lowers it again before delivery).
ALTER TABLE referrals ADD COLUMN legal_basis INTEGER NOT NULL DEFAULT 0;
ALTER TABLE referrals ADD COLUMN removal_order_ref TEXT NOT NULL DEFAULT '';

-- Referrals stored before: the best known is their target's basis (the first referral's).
UPDATE referrals SET
    legal_basis = (SELECT t.legal_basis FROM targets t WHERE t.id = referrals.target_id),
    removal_order_ref = (SELECT t.removal_order_ref FROM targets t WHERE t.id = referrals.target_id);
