-- Schema version 1 of the Meter's SQLite ledger. Times are Unix seconds (UTC); read them
-- with datetime(column, 'unixepoch'). Quantities in `_micros` columns are millionths of a
-- unit; elsewhere they are decimal text as sent to the service.

-- The seal watermark: one row. Every hour starting before `sealed_before` is sealed.
CREATE TABLE ledger (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    sealed_before INTEGER
);
INSERT INTO ledger (id, sealed_before) VALUES (1, NULL);

-- Per process start (instance), the last checkpoint applied: a checkpoint numbered at or
-- below it is a retry and changes nothing.
CREATE TABLE instances (
    instance        TEXT PRIMARY KEY,
    last_checkpoint INTEGER NOT NULL,
    committed_at    INTEGER NOT NULL
);

-- Every usage key seen: a customer, a dimension and a tag set. A customer is four columns,
-- '' where its mode has none: legacy (product, customer_identifier), account-based
-- (product, account), licence-based (account, license).
CREATE TABLE usage_keys (
    id                  INTEGER PRIMARY KEY,
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
    key_id      INTEGER NOT NULL REFERENCES usage_keys (id),
    hour        INTEGER NOT NULL, -- the hour's start
    micros      INTEGER NOT NULL,
    late_micros INTEGER NOT NULL DEFAULT 0, -- of which arrived after its own hour was sealed
    PRIMARY KEY (key_id, hour)
);

-- Customers sealed ahead of the others (they unsubscribed): their hours starting before
-- `sealed_before` are sealed.
CREATE TABLE customer_seals (
    product             TEXT NOT NULL,
    customer_identifier TEXT NOT NULL,
    account             TEXT NOT NULL,
    license             TEXT NOT NULL,
    sealed_before       INTEGER NOT NULL,
    PRIMARY KEY (product, customer_identifier, account, license)
);

-- Sealed records: one per customer, dimension and hour, sent exactly as stored. Only the
-- columns from `state` on ever change.
CREATE TABLE records (
    id                  INTEGER PRIMARY KEY,
    product             TEXT NOT NULL, -- '' for licence-based records (the request scope)
    customer_identifier TEXT NOT NULL,
    account             TEXT NOT NULL,
    license             TEXT NOT NULL,
    dimension           TEXT NOT NULL,
    hour                INTEGER NOT NULL, -- the record's timestamp
    quantity            TEXT NOT NULL,
    allocations         TEXT, -- JSON [{"quantity", "tags"}]; NULL for untagged usage only
    late                TEXT NOT NULL, -- how much of `quantity` came late
    sealed_at           INTEGER NOT NULL,
    state               TEXT NOT NULL CHECK (state IN ('unsent', 'leased', 'success',
                            'not_subscribed', 'duplicate', 'quarantined')),
    attempt             INTEGER NOT NULL DEFAULT 0, -- claims so far; fences stale settles
    lease_owner         TEXT,
    lease_expires       INTEGER,
    next_attempt_at     INTEGER NOT NULL, -- an unsent record is claimable from then on
    metering_record_id  TEXT,  -- the service's ID, once billed
    detail              TEXT,  -- why quarantined, or the last retryable error
    settled_at          INTEGER,
    UNIQUE (product, customer_identifier, account, license, dimension, hour)
);
CREATE INDEX records_by_state ON records (state, hour);
CREATE INDEX records_by_account ON records (account, hour);

-- Usage that fits no record, kept for a person with the reason.
CREATE TABLE set_aside (
    id     INTEGER PRIMARY KEY,
    key_id INTEGER NOT NULL REFERENCES usage_keys (id),
    hour   INTEGER NOT NULL,
    micros INTEGER NOT NULL,
    reason TEXT NOT NULL,
    at     INTEGER NOT NULL
);
