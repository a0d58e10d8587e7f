-- +goose Up

-- The personal-data vault (infra/privacy): one row per person whose data
-- events carry sealed. A person is an email address, or, for an actor that
-- came without a usable email, an account ID. Each subject has its own
-- random 32-byte key; the events keep only "pii1:<subject>:<ciphertext>".
--
-- Forgetting a person destroys the key (data_key, email and account_id go to
-- NULL, erased_at is set) and never deletes the row: a sealed value naming
-- an erased subject must still be told apart from a value whose subject is
-- unknown, which would mean the table was lost. Once erased, a subject stays
-- erased; the same email sealed again gets a new subject.
CREATE TABLE privacy_subjects (
    subject_id uuid        PRIMARY KEY,
    email      text,
    account_id text,
    data_key   bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    erased_at  timestamptz,
    -- Erased rows hold nothing personal; live rows hold a key and exactly
    -- one of email and account_id.
    CONSTRAINT privacy_subjects_erased_check CHECK (
        CASE WHEN erased_at IS NULL
            THEN octet_length(data_key) = 32 AND (email IS NULL) <> (account_id IS NULL)
            ELSE data_key IS NULL AND email IS NULL AND account_id IS NULL
        END)
);

-- One live subject per email and per account. Erased rows have NULL there,
-- and NULLs never collide, so the constraints cover live rows only.
CREATE UNIQUE INDEX privacy_subjects_email_key ON privacy_subjects (email);
CREATE UNIQUE INDEX privacy_subjects_account_key ON privacy_subjects (account_id);

-- +goose Down
DROP TABLE privacy_subjects;
