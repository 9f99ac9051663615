-- Each event's picture, as its bay sent it on `evidence` (DESIGN.md, Pictures): one row per
-- (session, seq) like the events, kept even when it comes before its event (the two travel on
-- separate topics), so no foreign key to sessions. A row is shown and confirmed to the edge
-- only when its bay is the session's bay. After `evidence_days` the picture is pruned: `jpeg`
-- becomes NULL and `pruned_ms` says when; the row, and every event, stays.
CREATE TABLE evidence (
    session     TEXT NOT NULL,
    seq         INTEGER NOT NULL CHECK (seq >= 1),
    -- The bay whose topic it came on.
    bay         TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('start', 'crossing', 'stop')),
    direction   TEXT CHECK (direction IN ('in', 'out')),
    track       INTEGER,
    -- The capture time of the frame shown (the edge's clock).
    at_ms       INTEGER NOT NULL,
    -- The edge dropped the picture (its budget was full, or no frame): no JPEG, ever.
    dropped     INTEGER NOT NULL CHECK (dropped IN (0, 1)),
    -- When the relay stored it (its own clock): retention counts from here.
    received_ms INTEGER NOT NULL,
    pruned_ms   INTEGER,
    -- Last, so that reading the other columns reads none of the picture's pages.
    jpeg        BLOB,
    PRIMARY KEY (session, seq),
    CHECK ((dropped = 1 OR pruned_ms IS NOT NULL) = (jpeg IS NULL))
);
-- The pictures still held, oldest first, for retention.
CREATE INDEX evidence_held ON evidence (received_ms) WHERE jpeg IS NOT NULL;

-- A piece is stored once, as it came; the one change is pruning its picture.
CREATE TRIGGER evidence_is_kept BEFORE UPDATE ON evidence
WHEN NEW.session IS NOT OLD.session OR NEW.seq IS NOT OLD.seq OR NEW.bay IS NOT OLD.bay
  OR NEW.kind IS NOT OLD.kind OR NEW.direction IS NOT OLD.direction
  OR NEW.track IS NOT OLD.track OR NEW.at_ms IS NOT OLD.at_ms
  OR NEW.dropped IS NOT OLD.dropped OR NEW.received_ms IS NOT OLD.received_ms
  OR (NEW.jpeg IS NOT NULL AND NEW.jpeg IS NOT OLD.jpeg)
  OR (OLD.pruned_ms IS NOT NULL AND NEW.pruned_ms IS NOT OLD.pruned_ms)
BEGIN
    SELECT RAISE(ABORT, 'evidence is kept as the bay sent it; only its picture may be pruned');
END;
