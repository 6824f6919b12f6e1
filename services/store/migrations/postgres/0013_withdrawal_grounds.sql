-- withdraw_ground: on what ground a referral was taken back (takedown.v1.WithdrawalGround:
-- 0 unspecified or the agency's own correction, 1 appeal, 2 scrutiny of a cross-border
-- removal order, TCO Art 4(4), 3 review, Art 9). Unlike withdraw_reason (free text) it
-- survives retention: the TCO figures count it. Referrals withdrawn before are 0.
ALTER TABLE referrals ADD COLUMN withdraw_ground INTEGER NOT NULL DEFAULT 0;
