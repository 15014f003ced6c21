-- One index fewer on the credit hot path: the ledger's UNIQUE (reservation_id, kind). A
-- reservation is moved only through its own row's state, in the same transaction as its entry
-- (inserted once with its `reserve` entry; out of `held` exactly once, by
-- `UPDATE … WHERE status = 'held'`, with its `settle` or `expire` entry; from `orphaned` to `refunded` once, with its `refund` entry), so no entry can be
-- written twice. `ledger verify` still checks that no reservation has two entries of one kind.
ALTER TABLE ledger_entries DROP CONSTRAINT IF EXISTS ledger_entries_reservation_id_kind_key;
