-- policykb's knowledge base in PostgreSQL: the tables of the SQLite store (kb.sqlite) without its
-- FTS5 table. Every text column compares and sorts byte by byte (COLLATE "C"), as SQLite's do, whatever
-- the database's locale. Passage and segment ids come from identity columns and are never reused.
-- Time stamps are ISO 8601 text and JSON is text, exactly as the store writes them.

CREATE TABLE meta (
    key text COLLATE "C" PRIMARY KEY,
    value text COLLATE "C"
);

CREATE TABLE items (
    id text COLLATE "C" PRIMARY KEY,
    kind text COLLATE "C" NOT NULL,
    title text COLLATE "C" NOT NULL,
    summary text COLLATE "C",
    description text COLLATE "C",
    region text COLLATE "C",
    organisation text COLLATE "C",
    start_year integer,
    end_year integer,
    links text COLLATE "C",
    language text COLLATE "C",
    source text COLLATE "C",
    pages integer,
    content_hash text COLLATE "C",
    status text COLLATE "C" DEFAULT 'published',
    added_at text COLLATE "C",
    updated_at text COLLATE "C"
);

-- id: the order in which an item's facet values were written (SQLite's rowid)
CREATE TABLE item_facets (
    id bigint GENERATED ALWAYS AS IDENTITY,
    item_id text COLLATE "C" NOT NULL REFERENCES items (id),
    facet text COLLATE "C" NOT NULL,
    value text COLLATE "C" NOT NULL,
    PRIMARY KEY (item_id, facet, value)
);
CREATE INDEX item_facets_facet_value ON item_facets (facet, value);

CREATE TABLE passages (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    item_id text COLLATE "C" NOT NULL REFERENCES items (id),
    seq integer,
    page integer,
    section text COLLATE "C",
    title text COLLATE "C",
    text text COLLATE "C" NOT NULL,
    hash text COLLATE "C" NOT NULL,
    tokens integer
);
CREATE INDEX passages_item_id ON passages (item_id);
CREATE INDEX passages_hash ON passages (hash);

-- the vector cache: one float32 vector per (model, passage hash), as little-endian bytes
CREATE TABLE vectors (
    model text COLLATE "C" NOT NULL,
    hash text COLLATE "C" NOT NULL,
    vector bytea NOT NULL,
    PRIMARY KEY (model, hash)
);

CREATE TABLE files (
    path text COLLATE "C" PRIMARY KEY,
    hash text COLLATE "C",
    size bigint,
    item_ids text COLLATE "C",
    ingested_at text COLLATE "C"
);

-- the keyword index: segments of (passage uint32, title tf uint16, text tf uint16) records per term
CREATE TABLE postings (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    term text COLLATE "C" NOT NULL,
    size integer NOT NULL,
    data bytea NOT NULL
);
CREATE INDEX postings_term ON postings (term);

CREATE TABLE item_versions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    item_id text COLLATE "C" NOT NULL,
    version integer NOT NULL,
    replaced_at text COLLATE "C" NOT NULL,
    replaced_by text COLLATE "C" NOT NULL,
    status text COLLATE "C",
    item text COLLATE "C" NOT NULL,
    passages text COLLATE "C" NOT NULL,
    UNIQUE (item_id, version)
);

-- items purged from a file that still holds their record: skipped by ingest while it is unchanged
CREATE TABLE purged (
    item_id text COLLATE "C" PRIMARY KEY,
    source text COLLATE "C" NOT NULL,
    content_hash text COLLATE "C",
    purged_at text COLLATE "C" NOT NULL
);

CREATE TABLE contributions (
    id text COLLATE "C" PRIMARY KEY,
    token_hash text COLLATE "C" NOT NULL,
    status text COLLATE "C" NOT NULL,
    record text COLLATE "C" NOT NULL,
    file_name text COLLATE "C",
    file_path text COLLATE "C",
    client text COLLATE "C",
    reason text COLLATE "C",
    item_id text COLLATE "C",
    checks text COLLATE "C",
    submitted_at text COLLATE "C",
    updated_at text COLLATE "C"
);
CREATE INDEX contributions_status ON contributions (status, submitted_at);

-- every submission attempt, accepted or not, for the rate limit (kept for an hour)
CREATE TABLE submissions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client text COLLATE "C" NOT NULL,
    at text COLLATE "C" NOT NULL
);
CREATE INDEX submissions_client ON submissions (client, at);
CREATE INDEX submissions_at ON submissions (at);

CREATE TABLE audit (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at text COLLATE "C" NOT NULL,
    actor text COLLATE "C" NOT NULL,
    action text COLLATE "C" NOT NULL,
    target text COLLATE "C" NOT NULL,
    before text COLLATE "C",
    after text COLLATE "C",
    note text COLLATE "C"
);
CREATE INDEX audit_target ON audit (target, id);

INSERT INTO meta (key, value) VALUES ('schema_version', '1'), ('generation', '0');
