-- One index write fewer per ledger entry on the credit hot path: nothing looks the ledger up by
-- request id (statements join it to usage records through the usage table's own key).
DROP INDEX ledger_request;
