-- Where each subject's read models were last projected again from its facts stream (a
-- withdrawal, projected at once by the query that made it): an event of the stream at or
-- before that version, delivered to the read models' consumer after it (a backlog), is in
-- them already as it counts, and is not recorded again (it brought back, until the
-- consumer caught up, a fact the withdrawal had just removed).
CREATE TABLE synthesis.reprojected (
    stream_id      text   PRIMARY KEY,
    stream_version bigint NOT NULL
);
