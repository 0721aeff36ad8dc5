/**
 * Versioned migrations of the SQLite store, applied in order at open. A
 * released migration is never edited; changes come as a new version.
 */
export const SQLITE_MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        digest TEXT NOT NULL
      );
      CREATE INDEX runs_by_created ON runs (created_at DESC, run_id DESC);
      CREATE INDEX runs_by_tenant ON runs (tenant, created_at DESC, run_id DESC);
      CREATE INDEX runs_unfinished ON runs (created_at, run_id)
        WHERE status NOT IN ('succeeded', 'failed', 'cancelled');
      CREATE TABLE records (
        run_id TEXT NOT NULL REFERENCES runs (run_id),
        seq INTEGER NOT NULL,
        type TEXT NOT NULL,
        line TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
      ) WITHOUT ROWID;
      CREATE TABLE skill_modules (
        sha256 TEXT PRIMARY KEY,
        bytes BLOB NOT NULL
      );
      CREATE TABLE skills (
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        sha256 TEXT NOT NULL REFERENCES skill_modules (sha256),
        manifest TEXT NOT NULL,
        installed_at INTEGER NOT NULL,
        PRIMARY KEY (name, version)
      );
    `,
  },
  {
    // Statuses grew (partial); unfinished runs are simply the running ones.
    version: 2,
    sql: `
      DROP INDEX runs_unfinished;
      CREATE INDEX runs_running ON runs (created_at, run_id) WHERE status = 'running';
    `,
  },
  {
    // Run ownership: a lease (holder, expiry) and the epoch that fences appends.
    version: 3,
    sql: `
      ALTER TABLE runs ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
      ALTER TABLE runs ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE runs ADD COLUMN lease_expires_at INTEGER NOT NULL DEFAULT 0;
      `,
  },
  {
    // A cancel request for whichever node holds the run.
    version: 4,
    sql: `ALTER TABLE runs ADD COLUMN cancel_reason TEXT;`,
  },
  {
    // The latest state snapshot of each run (recovery folds only what follows),
    // and paused runs next to running ones among those nodes claim.
    version: 5,
    sql: `
      CREATE INDEX runs_live ON runs (created_at, run_id)
        WHERE status IN ('running', 'paused');
      CREATE TABLE run_snapshots (
        run_id TEXT PRIMARY KEY REFERENCES runs (run_id),
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL,
        log_bytes INTEGER NOT NULL,
        version INTEGER NOT NULL,
        state TEXT NOT NULL
      );
    `,
  },
  {
    // Listing a tenant's runs of one status (GET /v1/runs?status=) reads
    // only those runs, newest first, however much history the store holds.
    version: 6,
    sql: `
      CREATE INDEX runs_by_tenant_status ON runs (tenant, status, created_at DESC, run_id DESC);
    `,
  },
  {
    // The skill filter of listRuns, and Idempotency-Key of POST /v1/runs.
    // Existing runs get their skills from the pins of their first record.
    version: 7,
    sql: `
      CREATE TABLE run_skills (
        skill TEXT NOT NULL,
        run_id TEXT NOT NULL REFERENCES runs (run_id),
        PRIMARY KEY (skill, run_id)
      ) WITHOUT ROWID;
      INSERT OR IGNORE INTO run_skills (skill, run_id)
        SELECT json_extract(pin.value, '$.name'), records.run_id
        FROM records, json_each(json_extract(records.line, '$.body.pins')) AS pin
        WHERE records.seq = 0 AND json_extract(pin.value, '$.name') IS NOT NULL;
      CREATE TABLE idempotency_keys (
        tenant TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        state TEXT NOT NULL,
        run_id TEXT,
        response TEXT,
        created_at INTEGER NOT NULL,
        locked_until INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (tenant, key)
      ) WITHOUT ROWID;
      CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at);
    `,
  },
  {
    // Tenants, their hashed API keys, and the budget ledger: one row per
    // tenant and UTC day (the conditional update enforces the limit) and one
    // per reservation (its key makes reserve and settle idempotent).
    version: 8,
    sql: `
      CREATE TABLE tenants (
        id TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        daily_budget_cents INTEGER
      );
      CREATE TABLE api_keys (
        key_id TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('admin', 'tenant')),
        tenant TEXT REFERENCES tenants (id),
        sha256 TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
      );
      CREATE INDEX api_keys_by_tenant ON api_keys (tenant, created_at);
      CREATE TABLE budget_days (
        tenant TEXT NOT NULL,
        day TEXT NOT NULL,
        spent_cents INTEGER NOT NULL DEFAULT 0,
        reserved_cents INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant, day)
      ) WITHOUT ROWID;
      CREATE TABLE budget_entries (
        key TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        tenant TEXT NOT NULL,
        day TEXT NOT NULL,
        reserved_cents INTEGER NOT NULL,
        charged_cents INTEGER
      );
      CREATE INDEX budget_entries_open ON budget_entries (key)
        WHERE charged_cents IS NULL;
      CREATE INDEX budget_entries_by_day ON budget_entries (tenant, day);
    `,
  },
  {
    // Parked runs: nothing to do until a time or a message. They hold no
    // lease; wake_at (null: only a message wakes the run) is indexed so
    // claimers find the due ones without reading the others.
    version: 9,
    sql: `
      ALTER TABLE runs ADD COLUMN parked INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE runs ADD COLUMN wake_at INTEGER;
      CREATE INDEX runs_claimable ON runs (created_at, run_id)
        WHERE status IN ('running', 'paused') AND parked = 0;
      CREATE INDEX runs_by_wake ON runs (wake_at) WHERE parked = 1;
    `,
  },
  {
    // No statement reads runs_running any more (runs_live and
    // runs_claimable serve the unfinished and claimable runs; the query
    // plan test holds every statement to an index), yet every run's
    // creation and end wrote it.
    version: 10,
    sql: `DROP INDEX IF EXISTS runs_running;`,
  },
  {
    // Records in the order they arrive (a rowid table), found by run
    // through an index. Keyed by (run_id, seq), a record sat beside the
    // others of its run, so a group commit wrote a leaf page (and split
    // pages) for every run it appended to: half of what it wrote to the
    // WAL. In arrival order a group's records fill the same last pages,
    // and only the index's small entries land beside their run's. The
    // type is left out: the line holds it.
    version: 11,
    sql: `
      CREATE TABLE records_by_arrival (
        run_id TEXT NOT NULL REFERENCES runs (run_id),
        seq INTEGER NOT NULL,
        line TEXT NOT NULL
      );
      INSERT INTO records_by_arrival (run_id, seq, line)
        SELECT run_id, seq, line FROM records ORDER BY run_id, seq;
      DROP TABLE records;
      ALTER TABLE records_by_arrival RENAME TO records;
      CREATE UNIQUE INDEX records_by_run ON records (run_id, seq);
    `,
  },
  {
    // Signals sent through a node that does not hold the run wait here for
    // the node that does (src/store/_sqlite_signal_requests.ts), in the
    // order they came (seq). signals_waiting counts a run's requests: a park
    // is refused while one waits.
    version: 12,
    sql: `
      ALTER TABLE runs ADD COLUMN signals_waiting INTEGER NOT NULL DEFAULT 0;
      CREATE TABLE signal_requests (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        run_id TEXT NOT NULL,
        name TEXT NOT NULL,
        payload TEXT NOT NULL
      );
      CREATE INDEX signal_requests_by_run ON signal_requests (run_id, seq);
    `,
  },
  {
    // A resume sent through a node that does not hold the paused run waits
    // in the run's row for the node that does
    // (src/store/_sqlite_resume_requests.ts); a park is refused meanwhile.
    version: 13,
    sql: `
      ALTER TABLE runs ADD COLUMN resume_id TEXT;
      ALTER TABLE runs ADD COLUMN resume_body TEXT;
    `,
  },
];
