-- Fewer index writes per request on the credit hot path. Nothing looks reservations up by
-- request id (the ledger has its own index for that), and the sweeper only ever scans held
-- reservations: a partial index drops a reservation when it settles instead of moving it.
DROP INDEX reservations_request;
DROP INDEX reservations_held;
CREATE INDEX reservations_held ON reservations(expires_at) WHERE status = 'held';
