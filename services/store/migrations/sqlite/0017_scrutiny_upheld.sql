-- scrutiny_upheld_at: when the host member state's competent authority scrutinised this
-- cross-border removal order and found no infringement (TCO Art 4(4)): the order stands.
-- An infringement found is a withdrawal on ground scrutiny (referrals.withdraw_ground 2).
-- The TCO figures (Art 8(1)) count the orders scrutinised as both. NULL: not scrutinised.
ALTER TABLE removal_orders ADD COLUMN scrutiny_upheld_at INTEGER;
