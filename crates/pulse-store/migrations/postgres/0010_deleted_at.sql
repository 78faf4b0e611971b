-- Records deleted at their source: an export marks them (a deleted
-- status, mapped to `deleted_at`), and from that instant on features
-- leave them out; before it they count, as they did when the models of
-- that time were trained. Re-importing the record without the mark
-- restores it. Accounts are not deleted this way: `pulse accounts forget`
-- erases one, and a churn event ends a customer.

ALTER TABLE contacts ADD COLUMN deleted_at BIGINT;
ALTER TABLE interactions ADD COLUMN deleted_at BIGINT;
ALTER TABLE subscription_events ADD COLUMN deleted_at BIGINT;
ALTER TABLE survey_responses ADD COLUMN deleted_at BIGINT;
ALTER TABLE operational_events ADD COLUMN deleted_at BIGINT;
