-- The facts of each removal order (Annex I of Regulation (EU) 2021/784) that the TCO figures
-- count by: who issued it, from which member state, when, and the host member state that
-- received a copy when it is cross-border (Art 4; NULL: not cross-border). One row per
-- removal-order referral; the whole order stays in the referral's signed item bytes.
-- Orders accepted before this migration have no row.
CREATE TABLE removal_orders (
    list_id           TEXT NOT NULL,
    item_index        BIGINT NOT NULL,
    target_id         BIGINT NOT NULL REFERENCES targets (id),
    reference         TEXT NOT NULL,
    issuing_authority TEXT NOT NULL,
    member_state      TEXT NOT NULL,
    issued_at         BIGINT NOT NULL,
    host_member_state TEXT,
    PRIMARY KEY (list_id, item_index),
    FOREIGN KEY (list_id, item_index) REFERENCES referrals (list_id, item_index)
);
CREATE INDEX removal_orders_by_target ON removal_orders (target_id);
