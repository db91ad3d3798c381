-- Event ids the receiver refused as possible replays (a timestamp outside its window). Only the
-- id is signed, so the same captured delivery re-sent with a fresh timestamp would otherwise pass:
-- once refused, an id stays refused, whatever timestamp comes with it later.
CREATE TABLE refused_replays (
    event_id   uuid        PRIMARY KEY,
    tenant     text        NOT NULL,
    refused_at timestamptz NOT NULL DEFAULT now()
);
