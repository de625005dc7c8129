-- Past `ivf_threshold` passages, a model's searchable vectors live in a table of their own
-- (`ann_<hash of the model key>`, made by the product: its column type carries the model's
-- dimension) under a pgvector index (IVFFlat or HNSW); this table lists them.
CREATE TABLE ann_spaces (
    model text PRIMARY KEY,
    tbl text NOT NULL UNIQUE,
    dim integer NOT NULL,
    count bigint NOT NULL,  -- rows of the table, kept with every change
    method text NOT NULL,  -- its pgvector index: ivfflat or hnsw
    lists integer,  -- an ivfflat index's lists
    built_at timestamptz NOT NULL DEFAULT now()
);

-- every search's published set and every statistic filter on it
CREATE INDEX items_status ON items (status);

-- browse order, covering what the facet index reads (`published_items`): read in order, not sorted
CREATE INDEX items_browse ON items (lower(title), id) INCLUDE (start_year, end_year) WHERE status = 'published';

UPDATE meta SET value = '2' WHERE key = 'schema_version';
