-- Which embedder made the vectors of each search collection: another one means re-index.
CREATE TABLE retrieval.index_meta (
    collection text PRIMARY KEY,
    embedder   text    NOT NULL,
    dim        integer NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
