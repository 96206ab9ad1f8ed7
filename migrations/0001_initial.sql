-- The first schema: staff and teams, young people, assessments with their answers and notes,
-- the chat state that lets a practitioner carry on after a restart, and the audit trail.
-- Timestamps are ISO 8601 in UTC with an explicit offset; dates are ISO (YYYY-MM-DD).

CREATE TABLE teams (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    created_at  TEXT    NOT NULL
);

-- Staff are known by their Telegram user id only: no names are stored.
CREATE TABLE staff (
    id                INTEGER PRIMARY KEY,
    telegram_user_id  INTEGER NOT NULL UNIQUE,
    team_id           INTEGER REFERENCES teams (id),
    role              TEXT    NOT NULL CHECK (role IN ('practitioner', 'lead', 'admin')),
    created_at        TEXT    NOT NULL,
    revoked_at        TEXT
);

-- A young person is a case reference and nothing else that identifies them.
CREATE TABLE young_people (
    id               INTEGER PRIMARY KEY,
    reference        TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    team_id          INTEGER NOT NULL REFERENCES teams (id),
    practitioner_id  INTEGER NOT NULL REFERENCES staff (id),
    created_at       TEXT    NOT NULL,
    closed_on        TEXT
);

CREATE INDEX young_people_by_practitioner ON young_people (practitioner_id);
CREATE INDEX young_people_by_team ON young_people (team_id);

-- One row per assessment. While status is 'draft', step and current_item say where the
-- practitioner is, and chat_id/message_id which chat message shows it.
CREATE TABLE assessments (
    id                  INTEGER PRIMARY KEY,
    young_person_id     INTEGER NOT NULL REFERENCES young_people (id),
    kind                TEXT    NOT NULL CHECK (kind IN ('baseline', 'review', 'closure')),
    status              TEXT    NOT NULL CHECK (status IN ('draft', 'submitted', 'discarded')),
    instrument_id       TEXT    NOT NULL,
    instrument_version  TEXT    NOT NULL,
    assessed_on         TEXT,
    step                TEXT    NOT NULL,
    current_item        TEXT,
    editing             INTEGER NOT NULL DEFAULT 0,
    chat_id             INTEGER,
    message_id          INTEGER,
    started_by          INTEGER NOT NULL REFERENCES staff (id),
    started_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL,
    submitted_by        INTEGER REFERENCES staff (id),
    submitted_at        TEXT,
    risk_score          REAL,
    risk_band           TEXT,
    resilience_score    REAL,
    resilience_band     TEXT,
    scores_json         TEXT
);

CREATE UNIQUE INDEX one_draft_per_young_person
    ON assessments (young_person_id) WHERE status = 'draft';
CREATE INDEX assessments_by_young_person ON assessments (young_person_id, status, assessed_on);

-- value is JSON: a rating (0..3), null for Unknown, an option id, a list of option ids,
-- a number or an ISO date, as the item's kind says.
CREATE TABLE answers (
    assessment_id  INTEGER NOT NULL REFERENCES assessments (id) ON DELETE CASCADE,
    item_id        TEXT    NOT NULL,
    value          TEXT,
    answered_by    INTEGER NOT NULL REFERENCES staff (id),
    answered_at    TEXT    NOT NULL,
    PRIMARY KEY (assessment_id, item_id)
) WITHOUT ROWID;

CREATE TABLE notes (
    assessment_id  INTEGER NOT NULL REFERENCES assessments (id) ON DELETE CASCADE,
    item_id        TEXT    NOT NULL,
    text           TEXT    NOT NULL,
    written_by     INTEGER NOT NULL REFERENCES staff (id),
    written_at     TEXT    NOT NULL,
    PRIMARY KEY (assessment_id, item_id)
) WITHOUT ROWID;

-- The practitioner's one-step change of a computed band, with the reason.
CREATE TABLE band_adjustments (
    assessment_id  INTEGER NOT NULL REFERENCES assessments (id) ON DELETE CASCADE,
    section_id     TEXT    NOT NULL,
    band           TEXT    NOT NULL,
    reason         TEXT    NOT NULL,
    adjusted_by    INTEGER NOT NULL REFERENCES staff (id),
    adjusted_at    TEXT    NOT NULL,
    PRIMARY KEY (assessment_id, section_id)
) WITHOUT ROWID;

-- What the bot waits for from a staff member's next typed message, if anything.
CREATE TABLE chat_state (
    staff_id           INTEGER PRIMARY KEY REFERENCES staff (id),
    awaiting           TEXT    NOT NULL,
    payload            TEXT    NOT NULL DEFAULT '{}',
    prompt_message_id  INTEGER,
    updated_at         TEXT    NOT NULL
);

-- Who did what to which case and when. Ids are not foreign keys, so the record outlives an
-- erased case; the triggers make the table append-only.
CREATE TABLE audit (
    id               INTEGER PRIMARY KEY,
    at               TEXT    NOT NULL,
    staff_id         INTEGER,
    action           TEXT    NOT NULL,
    young_person_id  INTEGER,
    assessment_id    INTEGER,
    detail           TEXT
);

CREATE INDEX audit_by_young_person ON audit (young_person_id, at);

CREATE TRIGGER audit_refuses_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;

CREATE TRIGGER audit_refuses_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
