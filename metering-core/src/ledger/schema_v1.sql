-- Schema version 1 of the Meter's ledger, one text for SQLite and PostgreSQL: each backend
-- writes its own types where this file has two words in braces (a 64-bit integer: INTEGER
-- in SQLite, BIGINT in PostgreSQL; a key the database assigns). Times are Unix seconds
-- (UTC): datetime(column, 'unixepoch') in SQLite, to_timestamp(column) in PostgreSQL.
-- Quantities in `micros` columns are millionths of a unit; elsewhere they are decimal text
-- as sent to the service.

-- The seal watermark: one row. Every hour starting before `sealed_before` is sealed. In
-- PostgreSQL it is also the lock that keeps commits and seals apart: a commit holds it FOR
-- SHARE, a seal FOR UPDATE, so no usage lands in an hour while that hour is being sealed.
CREATE TABLE ledger (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    sealed_before {int64}
);
INSERT INTO ledger (id, sealed_before) VALUES (1, NULL);

-- Per process start (instance), the last checkpoint applied: a checkpoint numbered at or
-- below it is a retry and changes nothing.
CREATE TABLE instances (
    instance        TEXT PRIMARY KEY,
    last_checkpoint {int64} NOT NULL,
    committed_at    {int64} NOT NULL
);

-- Every usage key seen: a customer, a dimension and a tag set. A customer is four columns,
-- '' where its mode has none: legacy (product, customer_identifier), account-based
-- (product, account), licence-based (account, license).
CREATE TABLE usage_keys (
    id                  {id},
    product             TEXT NOT NULL,
    customer_identifier TEXT NOT NULL,
    account             TEXT NOT NULL,
    license             TEXT NOT NULL,
    dimension           TEXT NOT NULL,
    tags                TEXT NOT NULL, -- JSON object sorted by key; '' for untagged usage
    UNIQUE (product, customer_identifier, account, license, dimension, tags)
);

-- Usage of hours not sealed yet, summed over every instance's checkpoints.
CREATE TABLE open_usage (
    key_id      {int64} NOT NULL REFERENCES usage_keys (id),
    hour        {int64} NOT NULL, -- the hour's start
    micros      {int64} NOT NULL,
    late_micros {int64} NOT NULL DEFAULT 0, -- of which arrived after its own hour was sealed
    PRIMARY KEY (key_id, hour)
);

-- Customers sealed ahead of the others (they unsubscribed): their hours starting before
-- `sealed_before` are sealed.
CREATE TABLE customer_seals (
    product             TEXT NOT NULL,
    customer_identifier TEXT NOT NULL,
    account             TEXT NOT NULL,
    license             TEXT NOT NULL,
    sealed_before       {int64} NOT NULL,
    PRIMARY KEY (product, customer_identifier, account, license)
);

-- Sealed records: one per customer, dimension and hour, sent exactly as stored. Only the
-- columns from `state` on ever change.
CREATE TABLE records (
    id                  {id},
    product             TEXT NOT NULL, -- '' for licence-based records (the request scope)
    customer_identifier TEXT NOT NULL,
    account             TEXT NOT NULL,
    license             TEXT NOT NULL,
    dimension           TEXT NOT NULL,
    hour                {int64} NOT NULL, -- the record's timestamp
    quantity            TEXT NOT NULL,
    allocations         TEXT, -- JSON [{"quantity", "tags"}]; NULL for untagged usage only
    late                TEXT NOT NULL, -- how much of `quantity` came late
    sealed_at           {int64} NOT NULL,
    state               TEXT NOT NULL CHECK (state IN ('unsent', 'leased', 'success',
                            'not_subscribed', 'duplicate', 'quarantined')),
    attempt             INTEGER NOT NULL DEFAULT 0, -- claims so far; fences stale settles
    lease_owner         TEXT,
    lease_expires       {int64},
    next_attempt_at     {int64} NOT NULL, -- an unsent record is claimable from then on
    metering_record_id  TEXT,  -- the service's ID, once billed
    detail              TEXT,  -- why quarantined, or the last retryable error
    settled_at          {int64},
    UNIQUE (product, customer_identifier, account, license, dimension, hour)
);
CREATE INDEX records_by_state ON records (state, hour);
CREATE INDEX records_by_account ON records (account, hour);

-- Usage that fits no record, kept for a person with the reason.
CREATE TABLE set_aside (
    id     {id},
    key_id {int64} NOT NULL REFERENCES usage_keys (id),
    hour   {int64} NOT NULL,
    micros {int64} NOT NULL,
    reason TEXT NOT NULL,
    at     {int64} NOT NULL
);
