import GRDB

/// The versioned schema. Migrations are append-only: a released one is never edited, only followed.
enum Schema {
    /// One step of the schema; `version` is its position (1-based) and becomes `PRAGMA user_version`.
    struct Migration: Sendable {
        let name: String
        let apply: @Sendable (Database) throws -> Void
    }

    /// Every migration this build knows, oldest first. Append only: a released one is never edited.
    static let migrations: [Migration] = [
        Migration(name: "v1-registry", apply: createV1),
        Migration(name: "v2-reconciler", apply: addReconcilerState),
        Migration(name: "v3-probe-login", apply: addProbeLogin),
    ]

    /// The version a database has once all known migrations ran.
    static var currentVersion: Int { migrations.count }

    /// Brings `db` from its version to `target` inside one IMMEDIATE transaction, so that processes
    /// opening a new file at the same time cannot both run a migration (GRDB's own migrator reads the
    /// applied list before taking the write lock).
    static func migrate(_ db: Database, to target: Int = currentVersion) throws {
        try db.inTransaction(.immediate) {
            let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
            if version > currentVersion {
                throw StoreError.newerSchema(found: version, known: currentVersion)
            }
            for index in version..<max(version, target) {
                try migrations[index].apply(db)
                try db.execute(sql: "PRAGMA user_version = \(index + 1)")
            }
            return .commit
        }
    }

    /// The daemon's bookkeeping: endpoint failure count and retry time per customer, and a registry version the CLI bumps so the
    /// sleeping daemon notices registrations within seconds.
    private static func addReconcilerState(_ db: Database) throws {
        try db.execute(sql: """
            ALTER TABLE customer ADD COLUMN endpointFailures INTEGER NOT NULL DEFAULT 0 CHECK (endpointFailures >= 0);
            ALTER TABLE customer ADD COLUMN nextEndpointAttemptAt DATETIME;
            CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) WITHOUT ROWID;
            INSERT INTO meta (key, value) VALUES ('registryVersion', 0);
            """)
    }

    /// Optional login stage of the probe: a user name and the PATH of a password file. The password
    /// itself never enters the database.
    private static func addProbeLogin(_ db: Database) throws {
        try db.execute(sql: """
            ALTER TABLE customer ADD COLUMN probeUser TEXT CHECK (probeUser IS NULL OR length(probeUser) BETWEEN 1 AND 63);
            ALTER TABLE customer ADD COLUMN probePasswordFile TEXT CHECK (probePasswordFile IS NULL OR probePasswordFile GLOB '/*');
            ALTER TABLE customer ADD COLUMN probeDatabase TEXT;
            """)
    }

    private static func createV1(_ db: Database) throws {
        let states = CustomerState.sqlList
        try db.execute(sql: """
            CREATE TABLE customer (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL
                    CHECK (length(name) BETWEEN 1 AND 40 AND name GLOB '[a-z]*' AND name NOT GLOB '*[^a-z0-9-]*' AND name NOT GLOB '*-'),
                resourceConfigurationArn TEXT NOT NULL
                    CHECK (resourceConfigurationArn GLOB 'arn:*:vpc-lattice:*:[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]:resourceconfiguration/rcfg-*'),
                partition TEXT NOT NULL CHECK (partition GLOB 'aws*'),
                region TEXT NOT NULL CHECK (length(region) > 0),
                accountId TEXT NOT NULL CHECK (length(accountId) = 12 AND accountId NOT GLOB '*[^0-9]*'),
                port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
                note TEXT,
                state TEXT NOT NULL DEFAULT 'awaiting_share' CHECK (state IN (\(states))),
                stateDetail TEXT,
                hint TEXT,
                keepEndpoint BOOLEAN NOT NULL DEFAULT 0 CHECK (keepEndpoint IN (0, 1)),
                resourceShareArn TEXT,
                invitationArn TEXT,
                createdAt DATETIME NOT NULL,
                updatedAt DATETIME NOT NULL,
                stateChangedAt DATETIME NOT NULL,
                removedAt DATETIME,
                CHECK ((state = 'removed') = (removedAt IS NOT NULL))
            );
            -- A removed customer stays as history; its name and ARN may be registered again.
            CREATE UNIQUE INDEX customer_live_name ON customer(name) WHERE state <> 'removed';
            CREATE UNIQUE INDEX customer_live_arn ON customer(resourceConfigurationArn) WHERE state <> 'removed';

            CREATE TABLE endpoint (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                customerId INTEGER NOT NULL REFERENCES customer(id) ON DELETE CASCADE,
                region TEXT NOT NULL,
                clientToken TEXT NOT NULL UNIQUE CHECK (length(clientToken) BETWEEN 1 AND 64),
                generation INTEGER NOT NULL CHECK (generation >= 1),
                vpcEndpointId TEXT UNIQUE CHECK (vpcEndpointId IS NULL OR vpcEndpointId GLOB 'vpce-*'),
                state TEXT NOT NULL CHECK (state IN ('creating','pending','available','failed','deleting','deleted')),
                awsState TEXT,
                dnsName TEXT,
                lastError TEXT,
                createdAt DATETIME NOT NULL,
                updatedAt DATETIME NOT NULL,
                UNIQUE (customerId, generation)
            );
            -- At most one endpoint per customer is alive at any time.
            CREATE UNIQUE INDEX endpoint_one_live ON endpoint(customerId) WHERE state NOT IN ('deleted', 'failed');

            CREATE TABLE invitation (
                invitationArn TEXT PRIMARY KEY NOT NULL CHECK (invitationArn GLOB 'arn:*:ram:*'),
                region TEXT NOT NULL,
                resourceShareArn TEXT NOT NULL,
                resourceShareName TEXT,
                senderAccountId TEXT NOT NULL,
                status TEXT NOT NULL,
                resources TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(resources) AND json_type(resources) = 'array'),
                decision TEXT NOT NULL CHECK (decision IN ('pending','accepted','ignored','rejected')),
                reason TEXT CHECK (reason IS NULL OR reason IN ('unregistered_resource','sender_mismatch','unexpected_resource_type','empty_share')),
                acceptClientToken TEXT,
                firstSeen DATETIME NOT NULL,
                lastSeen DATETIME NOT NULL,
                decidedAt DATETIME,
                CHECK ((decision IN ('ignored','rejected')) = (reason IS NOT NULL))
            ) WITHOUT ROWID;

            CREATE TABLE event (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                time DATETIME NOT NULL,
                customerId INTEGER REFERENCES customer(id) ON DELETE SET NULL,
                customerName TEXT,
                event TEXT NOT NULL CHECK (length(event) > 0),
                fromState TEXT CHECK (fromState IS NULL OR fromState IN (\(states))),
                toState TEXT CHECK (toState IS NULL OR toState IN (\(states))),
                detail TEXT
            );
            CREATE INDEX event_customer ON event(customerId, id);

            CREATE TABLE probeResult (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                customerId INTEGER NOT NULL REFERENCES customer(id) ON DELETE CASCADE,
                time DATETIME NOT NULL,
                ok BOOLEAN NOT NULL CHECK (ok IN (0, 1)),
                stage TEXT NOT NULL CHECK (stage IN ('dns','connect','postgres','login')),
                errorKind TEXT,
                error TEXT,
                hint TEXT,
                latencyMs TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(latencyMs)),
                vpcEndpointId TEXT,
                dnsName TEXT,
                port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
                CHECK (ok = (errorKind IS NULL))
            );
            CREATE INDEX probeResult_customer_time ON probeResult(customerId, id);
            """)
    }
}
