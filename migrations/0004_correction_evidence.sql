-- A correction may point at the piece of evidence it is about ("counted twice: same sack"):
-- the seq of an event of the correction's own session, whose picture the API serves as
-- evidence `<session>-<seq>`. NULL for a correction about no picture, and for every
-- correction made before; the chain's digest covers it only when it is set, so every link
-- sealed before hashes as it did.
ALTER TABLE corrections ADD COLUMN evidence_seq INTEGER CHECK (evidence_seq IS NULL OR evidence_seq >= 1);
