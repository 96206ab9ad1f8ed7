-- Enrolment, access and privacy: invitations, administrators who also lead, erasure markers.

-- An invitation is kept only as the SHA-256 of its code, so a copy of the database cannot
-- be used to enrol. It is single use (used_at) and expires (expires_at).
CREATE TABLE invitations (
    id          INTEGER PRIMARY KEY,
    code_hash   TEXT    NOT NULL UNIQUE,
    team_id     INTEGER REFERENCES teams (id),
    role        TEXT    NOT NULL CHECK (role IN ('practitioner', 'lead', 'admin')),
    is_admin    INTEGER NOT NULL DEFAULT 0,
    created_by  INTEGER REFERENCES staff (id),
    created_at  TEXT    NOT NULL,
    expires_at  TEXT    NOT NULL,
    used_at     TEXT,
    used_by     INTEGER REFERENCES staff (id)
);

-- role says what case data a person sees (an admin sees none); is_admin lets a practitioner
-- or lead also manage teams, staff and invitations without losing their case access.
ALTER TABLE staff ADD COLUMN is_admin INTEGER NOT NULL DEFAULT 0;
UPDATE staff SET is_admin = 1 WHERE role = 'admin';

-- An erased case keeps its reference and dates for the audit trail; its answers, notes and
-- scores are gone.
ALTER TABLE young_people ADD COLUMN erased_at TEXT;
ALTER TABLE young_people ADD COLUMN erased_by INTEGER REFERENCES staff (id);
