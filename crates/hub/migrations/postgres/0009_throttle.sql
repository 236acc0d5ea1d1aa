-- Failed sign-in attempts by key ('account:<name>', 'address:<ip>', 'request:<id>'), shared by
-- every hub on this database (the same as SQLite's 0009). A row lives for its window or its
-- lockout, whichever ends later.
CREATE TABLE throttle (
    key          TEXT   PRIMARY KEY NOT NULL,
    failures     BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT NOT NULL DEFAULT 0
);
