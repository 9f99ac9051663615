-- The history cannot be rewritten by a bay, and tampering with the file shows.

-- The relay's own record of every start and stop command it sent, written before sending:
-- where the relay gave the command, a session's plate, who started or stopped it and the
-- earliest it can have happened come from here, not from what the bay reports.
CREATE TABLE commands (
    id      TEXT PRIMARY KEY,
    at_ms   INTEGER NOT NULL,
    bay     TEXT NOT NULL,
    action  TEXT NOT NULL CHECK (action IN ('start', 'stop')),
    session TEXT NOT NULL,
    plate   TEXT,
    by      TEXT NOT NULL
);
CREATE INDEX commands_session ON commands (session, action);

-- Each bay's chain of finished sessions: link n seals one session (its plate, times, actors,
-- events and the corrections up to `corrections_upto`) with a SHA-256 digest that covers the
-- previous link's digest. A correction to a sealed session adds a link. `baycount-relay
-- verify` recomputes every link.
CREATE TABLE chain (
    bay              TEXT NOT NULL,
    n                INTEGER NOT NULL CHECK (n >= 1),
    session          TEXT NOT NULL REFERENCES sessions (id),
    corrections_upto INTEGER NOT NULL,
    at_ms            INTEGER NOT NULL,
    prev             TEXT NOT NULL,
    digest           TEXT NOT NULL,
    PRIMARY KEY (bay, n)
) WITHOUT ROWID;
CREATE INDEX chain_session ON chain (session, n);

CREATE TRIGGER chain_is_immutable BEFORE UPDATE ON chain
BEGIN
    SELECT RAISE(ABORT, 'the chain of sealed sessions is append-only');
END;

CREATE TRIGGER chain_is_kept BEFORE DELETE ON chain
BEGIN
    SELECT RAISE(ABORT, 'the chain of sealed sessions is append-only');
END;

CREATE TRIGGER commands_are_immutable BEFORE UPDATE ON commands
BEGIN
    SELECT RAISE(ABORT, 'the command record is append-only');
END;

CREATE TRIGGER corrections_are_immutable BEFORE UPDATE ON corrections
BEGIN
    SELECT RAISE(ABORT, 'corrections are kept as given; add another correction instead');
END;

CREATE TRIGGER corrections_are_kept BEFORE DELETE ON corrections
BEGIN
    SELECT RAISE(ABORT, 'corrections are kept as given; add another correction instead');
END;

-- A session's plate, start and stop are written once: what is known is never replaced.
CREATE TRIGGER session_facts_are_final BEFORE UPDATE ON sessions
WHEN (OLD.plate IS NOT NULL AND NEW.plate IS NOT OLD.plate)
  OR (OLD.started_at_ms IS NOT NULL AND NEW.started_at_ms IS NOT OLD.started_at_ms)
  OR (OLD.started_by IS NOT NULL AND NEW.started_by IS NOT OLD.started_by)
  OR (OLD.stopped_at_ms IS NOT NULL AND NEW.stopped_at_ms IS NOT OLD.stopped_at_ms)
  OR (OLD.stopped_by IS NOT NULL AND NEW.stopped_by IS NOT OLD.stopped_by)
  OR NEW.bay IS NOT OLD.bay
BEGIN
    SELECT RAISE(ABORT, 'a session''s plate, start and stop are final once stored');
END;
