-- Schema version 2: kinds of usage (issue 20). A key's kind is stored with it ('sum' for
-- every key of version 1); a delta of another kind is set aside, naming both.
ALTER TABLE usage_keys ADD COLUMN kind TEXT NOT NULL DEFAULT 'sum'
    CHECK (kind IN ('sum', 'max', 'distinct', 'level'));
-- A level key's hours before this one are integrated (into open usage, then records).
ALTER TABLE usage_keys ADD COLUMN level_until {int64};

-- Identifiers of distinct keys seen in open hours, 128 bits as two 64-bit halves: sealing
-- counts them into the key's open usage and deletes them.
CREATE TABLE open_identifiers (
    key_id {int64} NOT NULL REFERENCES usage_keys (id),
    hour   {int64} NOT NULL,
    high   {int64} NOT NULL,
    low    {int64} NOT NULL,
    PRIMARY KEY (key_id, hour, high, low)
);

-- Level changes of level keys: the level (millionths) holds from `at` (Unix microseconds)
-- until the next change. Sealing integrates them hour by hour and keeps, per key, the
-- last change before the sealed hours: the level carried into the next hour.
CREATE TABLE level_changes (
    key_id {int64} NOT NULL REFERENCES usage_keys (id),
    at     {int64} NOT NULL,
    level  {int64} NOT NULL,
    PRIMARY KEY (key_id, at)
);
