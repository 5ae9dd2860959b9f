-- How far each tenant's account stream is projected into the tables: a change projects
-- the events after it, in the stream's order, under the tenant's lock.
CREATE TABLE accounts.projected (
    tenant_id text PRIMARY KEY,
    version   bigint NOT NULL
);
