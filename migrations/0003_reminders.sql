-- Reminders and digests: what was sent, so that nothing is sent twice across restarts or by
-- two instances on one database; snoozes; staff the bot cannot reach; and when each
-- scheduled job last ran, so that a run missed while the bot was down happens at start-up.

-- Set when Telegram refused a message because the person blocked the bot (or left
-- Telegram); cleared when they next write to the bot. Proactive messages skip them meanwhile.
ALTER TABLE staff ADD COLUMN unreachable_since TEXT;

-- One row per reminder about one case's due date. A row is claimed before the message goes
-- out, so a second sweep or a second instance finds it taken; sent_at is filled in after.
CREATE TABLE reminders_sent (
    recipient_id     INTEGER NOT NULL REFERENCES staff (id),
    young_person_id  INTEGER NOT NULL REFERENCES young_people (id),
    due_on           TEXT    NOT NULL,
    kind             TEXT    NOT NULL CHECK (kind IN ('due_soon', 'overdue')),
    claimed_at       TEXT    NOT NULL,
    sent_at          TEXT,
    PRIMARY KEY (recipient_id, young_person_id, due_on, kind)
) WITHOUT ROWID;

-- A practitioner's "remind me later" for one case's due date: the case is left out of
-- reminders until `until` (a local date), then reminded once more (`reminded_at`).
CREATE TABLE snoozes (
    recipient_id     INTEGER NOT NULL REFERENCES staff (id),
    young_person_id  INTEGER NOT NULL REFERENCES young_people (id),
    due_on           TEXT    NOT NULL,
    until            TEXT    NOT NULL,
    created_at       TEXT    NOT NULL,
    reminded_at      TEXT,
    PRIMARY KEY (recipient_id, young_person_id, due_on)
) WITHOUT ROWID;

-- One weekly digest per lead and week (week_of is the local date of the digest's slot).
CREATE TABLE digests_sent (
    recipient_id  INTEGER NOT NULL REFERENCES staff (id),
    week_of       TEXT    NOT NULL,
    claimed_at    TEXT    NOT NULL,
    sent_at       TEXT,
    PRIMARY KEY (recipient_id, week_of)
) WITHOUT ROWID;

-- The scheduled moment of the last completed run of each job.
CREATE TABLE job_runs (
    job          TEXT PRIMARY KEY,
    slot         TEXT NOT NULL,
    finished_at  TEXT NOT NULL
);
