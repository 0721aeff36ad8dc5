/**
 * Versioned migrations of the PostgreSQL store, applied in order at open and
 * by `aos migrate`. A released migration is never edited; changes come as a
 * new version. Text keys use the "C" collation so that ordering (pages,
 * cursors) is bytewise, as in SQLite, whatever the database's locale.
 */
export const POSTGRES_MIGRATIONS: readonly { version: number; sql: string }[] =
  [
    {
      version: 1,
      sql: `
      CREATE TABLE runs (
        run_id TEXT COLLATE "C" PRIMARY KEY,
        tenant TEXT COLLATE "C" NOT NULL,
        status TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        last_seq BIGINT NOT NULL,
        digest TEXT NOT NULL,
        lease_owner TEXT NOT NULL DEFAULT '',
        lease_epoch BIGINT NOT NULL DEFAULT 0,
        lease_expires_at BIGINT NOT NULL DEFAULT 0
      );
      CREATE INDEX runs_by_created ON runs (created_at DESC, run_id DESC);
      CREATE INDEX runs_by_tenant ON runs (tenant, created_at DESC, run_id DESC);
      CREATE INDEX runs_running ON runs (created_at, run_id) WHERE status = 'running';
      CREATE INDEX runs_by_lease_owner ON runs (lease_owner) WHERE lease_owner <> '';
      CREATE TABLE records (
        run_id TEXT COLLATE "C" NOT NULL REFERENCES runs (run_id),
        seq BIGINT NOT NULL,
        type TEXT NOT NULL,
        line TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
      );
      CREATE TABLE skill_modules (
        sha256 TEXT PRIMARY KEY,
        bytes BYTEA NOT NULL
      );
      CREATE TABLE skills (
        name TEXT COLLATE "C" NOT NULL,
        version TEXT COLLATE "C" NOT NULL,
        sha256 TEXT NOT NULL REFERENCES skill_modules (sha256),
        manifest TEXT NOT NULL,
        installed_at BIGINT NOT NULL,
        PRIMARY KEY (name, version)
      );
    `,
    },
    {
      // A cancel request for whichever node holds the run.
      version: 2,
      sql: `ALTER TABLE runs ADD COLUMN cancel_reason TEXT;`,
    },
    {
      // Paused runs are claimed like running ones: a node must hold a paused
      // run to take its resume, its signals or its cancel.
      version: 3,
      sql: `
      CREATE INDEX runs_live ON runs (created_at, run_id)
        WHERE status IN ('running', 'paused');
    `,
    },
    {
      // The skill filter of listRuns, and Idempotency-Key of POST /v1/runs.
      // Existing runs get their skills from the pins of their first record.
      version: 4,
      sql: `
      CREATE TABLE run_skills (
        skill TEXT COLLATE "C" NOT NULL,
        run_id TEXT COLLATE "C" NOT NULL REFERENCES runs (run_id),
        PRIMARY KEY (skill, run_id)
      );
      INSERT INTO run_skills (skill, run_id)
        SELECT DISTINCT pin.value ->> 'name', first.run_id
        FROM (SELECT run_id, (line::jsonb) -> 'body' -> 'pins' AS pins
              FROM records WHERE seq = 0) AS first,
          jsonb_each(CASE WHEN jsonb_typeof(first.pins) = 'object'
                     THEN first.pins ELSE '{}'::jsonb END) AS pin
        WHERE pin.value ->> 'name' IS NOT NULL
        ON CONFLICT DO NOTHING;
      CREATE INDEX runs_by_tenant_status ON runs (tenant, status, created_at DESC, run_id DESC);
      CREATE TABLE idempotency_keys (
        tenant TEXT COLLATE "C" NOT NULL,
        key TEXT COLLATE "C" NOT NULL,
        fingerprint TEXT NOT NULL,
        state TEXT NOT NULL,
        run_id TEXT,
        response TEXT,
        created_at BIGINT NOT NULL,
        locked_until BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (tenant, key)
      );
      CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at);
    `,
    },
    {
      // Tenants, their hashed API keys, and the budget ledger: one row per
      // tenant and UTC day (its conditional update enforces the limit) and
      // one per reservation (its key makes reserve and settle idempotent).
      version: 5,
      sql: `
      CREATE TABLE tenants (
        id TEXT COLLATE "C" PRIMARY KEY,
        created_at BIGINT NOT NULL,
        daily_budget_cents BIGINT
      );
      CREATE TABLE api_keys (
        key_id TEXT COLLATE "C" PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('admin', 'tenant')),
        tenant TEXT COLLATE "C" REFERENCES tenants (id),
        sha256 TEXT NOT NULL UNIQUE,
        created_at BIGINT NOT NULL,
        revoked_at BIGINT
      );
      CREATE INDEX api_keys_by_tenant ON api_keys (tenant, created_at);
      CREATE TABLE budget_days (
        tenant TEXT COLLATE "C" NOT NULL,
        day TEXT COLLATE "C" NOT NULL,
        spent_cents BIGINT NOT NULL DEFAULT 0,
        reserved_cents BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant, day)
      );
      CREATE TABLE budget_entries (
        key TEXT COLLATE "C" PRIMARY KEY,
        run_id TEXT COLLATE "C" NOT NULL,
        tenant TEXT COLLATE "C" NOT NULL,
        day TEXT COLLATE "C" NOT NULL,
        reserved_cents BIGINT NOT NULL,
        charged_cents BIGINT
      );
      CREATE INDEX budget_entries_open ON budget_entries (key)
        WHERE charged_cents IS NULL;
      CREATE INDEX budget_entries_by_day ON budget_entries (tenant, day);
    `,
    },
    {
      // Snapshots of long runs' folded state, so recovery on any node reads
      // only the records after the latest one.
      version: 6,
      sql: `
      CREATE TABLE run_snapshots (
        run_id TEXT COLLATE "C" PRIMARY KEY REFERENCES runs (run_id),
        seq BIGINT NOT NULL,
        hash TEXT NOT NULL,
        log_bytes BIGINT NOT NULL,
        version INTEGER NOT NULL,
        state TEXT NOT NULL
      );
    `,
    },
    {
      // Parked runs: nothing to do until a time or a message. They hold no
      // lease; wake_at (null: only a message wakes the run) is indexed so
      // claimers find the due ones without reading the others.
      version: 7,
      sql: `
      ALTER TABLE runs ADD COLUMN parked BOOLEAN NOT NULL DEFAULT false;
      ALTER TABLE runs ADD COLUMN wake_at BIGINT;
      CREATE INDEX runs_claimable ON runs (created_at, run_id)
        WHERE status IN ('running', 'paused') AND NOT parked;
      CREATE INDEX runs_by_wake ON runs (wake_at) WHERE parked;
    `,
    },
    {
      // No statement reads runs_running (every one asks for running and
      // paused runs, which runs_live and runs_claimable hold, or lists a
      // tenant's runs of one status through runs_by_tenant_status), yet
      // every run's creation wrote an entry to it. The SQLite store
      // dropped it at its version 10.
      version: 8,
      sql: `DROP INDEX IF EXISTS runs_running;`,
    },
    {
      // The unfinished runs (running or paused), counted as they change.
      // Each run's creation checks the admission bound; counting rows of
      // runs_live for it read, besides the live entries, every entry of a
      // run that ended since the last vacuum (an index keeps a dead row's
      // entry until then), so under steady load a creation cost more with
      // every run that ended: 625 runs/s fell to 314 within 75 s, until
      // autovacuum came round. Triggers keep the count whatever writes the
      // table (any code path, any node's version), and fire only for the
      // rows that enter or leave the count (their WHEN is checked without
      // calling them). Only the sum of the rows means anything: a change is
      // added to the row of its connection (backend pid mod 64), so a
      // transaction locks one counter row at most and concurrent writers
      // rarely share one. The table is locked first so that no write slips
      // between the count taken here and the triggers.
      version: 9,
      sql: `
      LOCK TABLE runs IN SHARE ROW EXCLUSIVE MODE;
      CREATE TABLE run_counts (
        shard SMALLINT PRIMARY KEY,
        unfinished BIGINT NOT NULL
      );
      INSERT INTO run_counts (shard, unfinished)
        SELECT shard, 0 FROM generate_series(0, 63) AS shard;
      UPDATE run_counts SET unfinished = (
        SELECT count(*) FROM runs WHERE status IN ('running', 'paused')
      ) WHERE shard = 0;
      CREATE FUNCTION aos_count_unfinished() RETURNS trigger
      LANGUAGE plpgsql AS $$
      BEGIN
        UPDATE run_counts SET unfinished = unfinished + TG_ARGV[0]::bigint
        WHERE shard = pg_backend_pid() % 64;
        RETURN NULL;
      END $$;
      CREATE TRIGGER runs_counted_created AFTER INSERT ON runs FOR EACH ROW
        WHEN (NEW.status IN ('running', 'paused'))
        EXECUTE FUNCTION aos_count_unfinished('1');
      CREATE TRIGGER runs_counted_ended AFTER UPDATE OF status ON runs
        FOR EACH ROW
        WHEN (OLD.status IN ('running', 'paused')
          AND NEW.status NOT IN ('running', 'paused'))
        EXECUTE FUNCTION aos_count_unfinished('-1');
      CREATE TRIGGER runs_counted_reopened AFTER UPDATE OF status ON runs
        FOR EACH ROW
        WHEN (OLD.status NOT IN ('running', 'paused')
          AND NEW.status IN ('running', 'paused'))
        EXECUTE FUNCTION aos_count_unfinished('1');
      CREATE TRIGGER runs_counted_deleted AFTER DELETE ON runs FOR EACH ROW
        WHEN (OLD.status IN ('running', 'paused'))
        EXECUTE FUNCTION aos_count_unfinished('-1');
    `,
    },
    {
      // Signals sent through a node that does not hold the run wait here
      // for the node that does (src/store/_pg_signal_requests.ts), in the
      // order they came (seq). signals_waiting counts a run's requests: a
      // park is refused while one waits. Adding a column with a constant
      // default rewrites nothing.
      version: 10,
      sql: `
      ALTER TABLE runs ADD COLUMN signals_waiting INTEGER NOT NULL DEFAULT 0;
      CREATE TABLE signal_requests (
        seq BIGSERIAL PRIMARY KEY,
        id TEXT COLLATE "C" NOT NULL UNIQUE,
        run_id TEXT COLLATE "C" NOT NULL,
        name TEXT NOT NULL,
        payload TEXT NOT NULL
      );
      CREATE INDEX signal_requests_by_run ON signal_requests (run_id, seq);
    `,
    },
    {
      // A resume sent through a node that does not hold the paused run
      // waits in the run's row for the node that does
      // (src/store/_pg_resume_requests.ts); a park is refused meanwhile.
      version: 11,
      sql: `
      ALTER TABLE runs ADD COLUMN resume_id TEXT COLLATE "C";
      ALTER TABLE runs ADD COLUMN resume_body TEXT;
    `,
    },
  ];
