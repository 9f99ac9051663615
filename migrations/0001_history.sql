-- The relay's history: bays, plates, sessions, their immutable count events, manual
-- corrections beside them, and an audit log of every command. Times are milliseconds
-- since the Unix epoch, UTC.

CREATE TABLE bays (
    id            TEXT PRIMARY KEY,
    name          TEXT,
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms  INTEGER NOT NULL
);

CREATE TABLE plates (
    plate        TEXT PRIMARY KEY,
    last_used_ms INTEGER NOT NULL,
    uses         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX plates_recent ON plates (last_used_ms DESC);

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    bay           TEXT NOT NULL REFERENCES bays (id),
    plate         TEXT,
    started_at_ms INTEGER,
    started_by    TEXT,
    stopped_at_ms INTEGER,
    stopped_by    TEXT,
    -- When the relay first heard of the session; orders sessions whose start is not stored yet.
    created_ms    INTEGER NOT NULL
);
CREATE INDEX sessions_recent ON sessions (COALESCE(started_at_ms, created_ms) DESC);
CREATE INDEX sessions_bay ON sessions (bay);
CREATE INDEX sessions_plate ON sessions (plate);

-- One row per event of a session, as the edge numbered it. Never updated: a session's
-- count is derived from these rows.
CREATE TABLE events (
    session   TEXT NOT NULL REFERENCES sessions (id),
    seq       INTEGER NOT NULL CHECK (seq >= 1),
    at_ms     INTEGER NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('started', 'counted', 'stopped')),
    direction TEXT CHECK (direction IN ('in', 'out')),
    track     INTEGER,
    -- The edge's running totals after this event, kept to check the derived count against.
    count     INTEGER NOT NULL,
    out       INTEGER NOT NULL,
    stored_ms INTEGER NOT NULL,
    PRIMARY KEY (session, seq)
) WITHOUT ROWID;

CREATE TRIGGER events_are_immutable BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'count events are immutable; add a correction instead');
END;

CREATE TRIGGER events_are_kept BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'count events are immutable; add a correction instead');
END;

-- Manual corrections, shown beside the machine count and never editing it.
CREATE TABLE corrections (
    id      INTEGER PRIMARY KEY,
    session TEXT NOT NULL REFERENCES sessions (id),
    at_ms   INTEGER NOT NULL,
    by      TEXT NOT NULL,
    delta   INTEGER NOT NULL CHECK (delta <> 0),
    reason  TEXT NOT NULL
);
CREATE INDEX corrections_session ON corrections (session);

-- Every command given to a bay, with what became of it.
CREATE TABLE audit (
    id      INTEGER PRIMARY KEY,
    at_ms   INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    bay     TEXT,
    action  TEXT NOT NULL,
    command TEXT,
    outcome TEXT NOT NULL,
    detail  TEXT
);
CREATE INDEX audit_recent ON audit (at_ms DESC);
