-- Each event's picture, as its bay sent it on `evidence` (DESIGN.md, Pictures): one row per
-- (session, seq) like the events, kept even when it comes before its event (the two travel on
-- separate topics), so no foreign key to sessions. A row is shown and confirmed to the edge
-- only when its bay is the session's bay; the bay is part of the key so that another bay's
-- piece, kept while the session was not known, cannot take the place of the owner's. After `evidence_days` the picture is pruned: its row
-- in `evidence_pictures` is deleted and `pruned_ms` says when; this row, and every event, stays.
CREATE TABLE evidence (
    id          INTEGER PRIMARY KEY,
    session     TEXT NOT NULL,
    seq         INTEGER NOT NULL CHECK (seq >= 1),
    -- The bay whose topic it came on.
    bay         TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('start', 'crossing', 'stop')),
    direction   TEXT CHECK (direction IN ('in', 'out')),
    track       INTEGER,
    -- The capture time of the frame shown (the edge's clock).
    at_ms       INTEGER NOT NULL,
    -- The edge dropped the picture (its budget was full, or no frame): there is none, ever.
    dropped     INTEGER NOT NULL CHECK (dropped IN (0, 1)),
    -- When the relay stored it (its own clock): retention counts from here.
    received_ms INTEGER NOT NULL,
    pruned_ms   INTEGER CHECK (pruned_ms IS NULL OR dropped = 0),
    UNIQUE (session, seq, bay)
);
-- The pictures still held, oldest first, for retention.
CREATE INDEX evidence_held ON evidence (received_ms) WHERE dropped = 0 AND pruned_ms IS NULL;

-- The JPEGs, apart from what they show: pruning deletes these rows, which frees their pages for
-- the next pictures (setting a BLOB to NULL in place frees none: each ~2.6 KB picture has a 4 KiB
-- page to itself, and the page stays, near empty).
CREATE TABLE evidence_pictures (
    id   INTEGER PRIMARY KEY REFERENCES evidence (id),
    jpeg BLOB NOT NULL
);

-- A piece is stored once, as it came; the one change is marking it pruned.
CREATE TRIGGER evidence_is_kept BEFORE UPDATE ON evidence
WHEN NEW.id IS NOT OLD.id OR NEW.session IS NOT OLD.session OR NEW.seq IS NOT OLD.seq
  OR NEW.bay IS NOT OLD.bay OR NEW.kind IS NOT OLD.kind OR NEW.direction IS NOT OLD.direction
  OR NEW.track IS NOT OLD.track OR NEW.at_ms IS NOT OLD.at_ms
  OR NEW.dropped IS NOT OLD.dropped OR NEW.received_ms IS NOT OLD.received_ms
  OR OLD.pruned_ms IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'evidence is kept as the bay sent it; only its picture may be pruned');
END;

CREATE TRIGGER evidence_rows_are_kept BEFORE DELETE ON evidence
BEGIN
    SELECT RAISE(ABORT, 'evidence is kept as the bay sent it; only its picture may be pruned');
END;

CREATE TRIGGER evidence_pictures_are_kept BEFORE UPDATE ON evidence_pictures
BEGIN
    SELECT RAISE(ABORT, 'a picture is kept as the bay sent it');
END;

-- A picture goes only once its row says it was pruned.
CREATE TRIGGER evidence_pictures_go_when_pruned BEFORE DELETE ON evidence_pictures
WHEN (SELECT pruned_ms FROM evidence WHERE id = OLD.id) IS NULL
BEGIN
    SELECT RAISE(ABORT, 'a picture is deleted only by pruning: mark its evidence pruned first');
END;
