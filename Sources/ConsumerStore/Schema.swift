import GRDB

/// The versioned schema. Migrations are append-only: a released one is never edited, only followed.
///
/// Each migration's SQL is the literal of its time: no interpolation of today's enums or tables, so
/// that a file written by any earlier build upgrades exactly as it did then.
public enum Schema {
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
        Migration(name: "v4-lifecycle", apply: enforceLifecycle),
        Migration(name: "v5-resource-configuration-checks", apply: addResourceConfigurationChecks),
        Migration(name: "v6-released-endpoints-kept", apply: keepReleasedEndpoints),
        Migration(name: "v7-vpc-pool", apply: addVpcPool),
    ]

    /// The version a database has once all known migrations ran.
    /// The newest schema version this build knows.
    public static var currentVersion: Int { migrations.count }

    /// Brings `db` from its version to `target` inside one IMMEDIATE transaction, so that processes
    /// opening a new file at the same time cannot both run a migration (GRDB's own migrator reads the
    /// applied list before taking the write lock).
    static func migrate(_ db: Database, to target: Int = currentVersion, known: Int = currentVersion) throws {
        try db.inTransaction(.immediate) {
            let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
            if version > known {
                throw StoreError.newerSchema(found: version, known: known)
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

    /// The verdicts of the resource configuration checks, one row per customer and check, and the event
    /// columns that carry a verdict change to the health log (`kind: check` lines).
    private static func addResourceConfigurationChecks(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE customer_check (
                customerId INTEGER NOT NULL REFERENCES customer(id) ON DELETE CASCADE,
                name TEXT NOT NULL CHECK (name IN ('type','definition','port','status')),
                verdict TEXT NOT NULL CHECK (verdict IN ('pass','fail','unknown')),
                detail TEXT NOT NULL,
                hint TEXT,
                checkedAt DATETIME NOT NULL,
                changedAt DATETIME NOT NULL,
                PRIMARY KEY (customerId, name)
            ) WITHOUT ROWID;
            ALTER TABLE event ADD COLUMN checkName TEXT CHECK (checkName IS NULL OR checkName IN ('type','definition','port','status'));
            ALTER TABLE event ADD COLUMN verdict TEXT CHECK (verdict IS NULL OR verdict IN ('pass','fail','unknown'));
            ALTER TABLE event ADD COLUMN hint TEXT;
            """)
    }

    /// The lifecycle enforced by the file itself: the allowed state changes (as `CustomerLifecycle.table`
    /// had them when this migration was written) with who may make each, a trigger that refuses any
    /// other, removal that cannot finish while an endpoint is not confirmed gone, endpoint generations
    /// that stay closed once closed, no new generation for a customer being removed, the actor of every
    /// event, the health log's outbox cursor, and names and ARNs free again as soon as removal starts.
    private static func enforceLifecycle(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE lifecycle_edge (
                fromState TEXT NOT NULL,
                toState TEXT NOT NULL,
                byActor TEXT NOT NULL CHECK (byActor IN ('daemon','cli')),
                PRIMARY KEY (fromState, toState, byActor)
            ) WITHOUT ROWID;
            INSERT INTO lifecycle_edge (fromState, toState, byActor) VALUES
                ('awaiting_share','accepting','daemon'), ('awaiting_share','share_accepted','daemon'), ('awaiting_share','endpoint_pending','daemon'),
                ('awaiting_share','ready','daemon'), ('awaiting_share','share_expired','daemon'), ('awaiting_share','share_rejected','daemon'),
                ('awaiting_share','endpoint_failed','daemon'), ('awaiting_share','removing','cli'), ('awaiting_share','removed','cli'),
                ('accepting','awaiting_share','daemon'), ('accepting','share_accepted','daemon'), ('accepting','endpoint_pending','daemon'),
                ('accepting','ready','daemon'), ('accepting','share_expired','daemon'), ('accepting','share_rejected','daemon'),
                ('accepting','endpoint_failed','daemon'), ('accepting','removing','cli'), ('accepting','removed','cli'),
                ('share_accepted','accepting','daemon'), ('share_accepted','endpoint_pending','daemon'), ('share_accepted','ready','daemon'),
                ('share_accepted','share_revoked','daemon'), ('share_accepted','endpoint_failed','daemon'), ('share_accepted','removing','cli'),
                ('share_accepted','removed','cli'), ('endpoint_pending','accepting','daemon'), ('endpoint_pending','share_accepted','daemon'),
                ('endpoint_pending','ready','daemon'), ('endpoint_pending','share_revoked','daemon'), ('endpoint_pending','endpoint_failed','daemon'),
                ('endpoint_pending','endpoint_missing','daemon'), ('endpoint_pending','removing','cli'), ('endpoint_pending','removed','cli'),
                ('ready','accepting','daemon'), ('ready','share_accepted','daemon'), ('ready','endpoint_pending','daemon'),
                ('ready','share_revoked','daemon'), ('ready','endpoint_failed','daemon'), ('ready','endpoint_missing','daemon'),
                ('ready','removing','cli'), ('ready','removed','cli'), ('share_expired','accepting','daemon'),
                ('share_expired','share_accepted','daemon'), ('share_expired','endpoint_pending','daemon'), ('share_expired','ready','daemon'),
                ('share_expired','endpoint_failed','daemon'), ('share_expired','removing','cli'), ('share_expired','removed','cli'),
                ('share_rejected','accepting','daemon'), ('share_rejected','share_accepted','daemon'), ('share_rejected','endpoint_pending','daemon'),
                ('share_rejected','ready','daemon'), ('share_rejected','endpoint_failed','daemon'), ('share_rejected','removing','cli'),
                ('share_rejected','removed','cli'), ('share_revoked','accepting','daemon'), ('share_revoked','share_accepted','daemon'),
                ('share_revoked','endpoint_pending','daemon'), ('share_revoked','ready','daemon'), ('share_revoked','endpoint_failed','daemon'),
                ('share_revoked','removing','cli'), ('share_revoked','removed','cli'), ('endpoint_failed','accepting','daemon'),
                ('endpoint_failed','share_accepted','daemon'), ('endpoint_failed','endpoint_pending','daemon'), ('endpoint_failed','ready','daemon'),
                ('endpoint_failed','share_revoked','daemon'), ('endpoint_failed','removing','cli'), ('endpoint_failed','removed','cli'),
                ('endpoint_missing','accepting','daemon'), ('endpoint_missing','share_accepted','daemon'), ('endpoint_missing','endpoint_pending','daemon'),
                ('endpoint_missing','ready','daemon'), ('endpoint_missing','share_revoked','daemon'), ('endpoint_missing','endpoint_failed','daemon'),
                ('endpoint_missing','removing','cli'), ('endpoint_missing','removed','cli'), ('removing','removed','daemon');

            ALTER TABLE customer ADD COLUMN stateActor TEXT NOT NULL DEFAULT 'daemon'
                CHECK (stateActor = 'daemon' OR (stateActor GLOB 'cli:?*' AND length(stateActor) <= 68));
            ALTER TABLE event ADD COLUMN actor TEXT NOT NULL DEFAULT 'daemon'
                CHECK (actor = 'daemon' OR (actor GLOB 'cli:?*' AND length(actor) <= 68));

            DROP INDEX customer_live_name;
            DROP INDEX customer_live_arn;
            CREATE UNIQUE INDEX customer_registered_name ON customer(name) WHERE state NOT IN ('removing','removed');
            CREATE UNIQUE INDEX customer_registered_arn ON customer(resourceConfigurationArn) WHERE state NOT IN ('removing','removed');

            CREATE TABLE endpoint_v4 (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                customerId INTEGER NOT NULL REFERENCES customer(id) ON DELETE CASCADE,
                region TEXT NOT NULL,
                clientToken TEXT NOT NULL UNIQUE CHECK (length(clientToken) BETWEEN 1 AND 64),
                generation INTEGER NOT NULL CHECK (generation >= 1),
                vpcEndpointId TEXT CHECK (vpcEndpointId IS NULL OR vpcEndpointId GLOB 'vpce-*'),
                state TEXT NOT NULL CHECK (state IN ('creating','pending','available','failed','deleting','deleted','released')),
                awsState TEXT,
                dnsName TEXT,
                lastError TEXT,
                createRequest TEXT CHECK (createRequest IS NULL OR json_valid(createRequest)),
                createAnsweredAt DATETIME,
                lastSeenAt DATETIME,
                deleteRequestedAt DATETIME,
                createdAt DATETIME NOT NULL,
                updatedAt DATETIME NOT NULL,
                UNIQUE (customerId, generation),
                CHECK (state NOT IN ('pending','available','failed','deleting') OR vpcEndpointId IS NOT NULL)
            );
            INSERT INTO endpoint_v4 (id, customerId, region, clientToken, generation, vpcEndpointId, state, awsState, dnsName,
                                     lastError, createdAt, updatedAt)
                SELECT id, customerId, region, clientToken, generation, vpcEndpointId,
                       CASE WHEN state = 'deleted' THEN 'deleted'
                            -- Removed before this version (--keep-endpoint, or forgotten): released, never touched again.
                            WHEN customerId IN (SELECT id FROM customer WHERE state = 'removed') THEN 'released'
                            WHEN vpcEndpointId IS NULL AND state IN ('pending','available','failed','deleting') THEN 'deleted'
                            ELSE state END,
                       awsState, dnsName, lastError, createdAt, updatedAt
                FROM endpoint;
            DROP TABLE endpoint;
            ALTER TABLE endpoint_v4 RENAME TO endpoint;
            -- At most one endpoint generation per customer is being created or alive; failed and deleting
            -- ones are on their way out.
            CREATE UNIQUE INDEX endpoint_one_live ON endpoint(customerId) WHERE state IN ('creating','pending','available');
            CREATE UNIQUE INDEX endpoint_open_id ON endpoint(vpcEndpointId)
                WHERE vpcEndpointId IS NOT NULL AND state NOT IN ('deleted','released');
            CREATE INDEX endpoint_open ON endpoint(customerId) WHERE state NOT IN ('deleted','released');

            CREATE TRIGGER customer_starts_awaiting_share BEFORE INSERT ON customer
            WHEN NEW.state <> 'awaiting_share' OR NEW.stateActor NOT GLOB 'cli:?*'
            BEGIN
                SELECT RAISE(ABORT, 'lifecycle: a customer is registered by the CLI in awaiting_share');
            END;
            CREATE TRIGGER customer_lifecycle BEFORE UPDATE OF state ON customer
            WHEN OLD.state <> NEW.state
            BEGIN
                SELECT RAISE(ABORT, 'lifecycle: state change not in the lifecycle table')
                WHERE NOT EXISTS (SELECT 1 FROM lifecycle_edge WHERE fromState = OLD.state AND toState = NEW.state
                                  AND byActor = CASE WHEN NEW.stateActor = 'daemon' THEN 'daemon' ELSE 'cli' END);
                SELECT RAISE(ABORT, 'lifecycle: removal cannot finish while an endpoint is not confirmed gone')
                WHERE NEW.state = 'removed'
                  AND EXISTS (SELECT 1 FROM endpoint WHERE customerId = NEW.id AND state NOT IN ('deleted','released'));
            END;
            CREATE TRIGGER endpoint_not_for_removed BEFORE INSERT ON endpoint
            WHEN (SELECT state FROM customer WHERE id = NEW.customerId) IN ('removing','removed')
            BEGIN
                SELECT RAISE(ABORT, 'lifecycle: no new endpoint generation for a customer being removed');
            END;
            CREATE TRIGGER endpoint_closed_stays_closed BEFORE UPDATE OF state ON endpoint
            WHEN OLD.state IN ('deleted','released') AND NEW.state <> OLD.state
            BEGIN
                SELECT RAISE(ABORT, 'lifecycle: a closed endpoint generation stays closed');
            END;

            CREATE INDEX event_time ON event(time);
            CREATE INDEX invitation_sender ON invitation(senderAccountId);

            -- Events before this version were written to the health log by the daemon that made them.
            INSERT INTO meta (key, value) SELECT 'healthLogCursor', coalesce(max(id), 0) FROM event;
            -- Which state file wrote a health-log line: a new or restored file's event ids start again.
            INSERT INTO meta (key, value) VALUES ('stateId', abs(random() % 9007199254740991));
            """)
    }

    private static func createV1(_ db: Database) throws {
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
                state TEXT NOT NULL DEFAULT 'awaiting_share' CHECK (state IN ('awaiting_share','accepting','share_accepted','endpoint_pending','ready','share_expired','share_rejected','share_revoked','endpoint_failed','endpoint_missing','removing','removed')),
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
                fromState TEXT CHECK (fromState IS NULL OR fromState IN ('awaiting_share','accepting','share_accepted','endpoint_pending','ready','share_expired','share_rejected','share_revoked','endpoint_failed','endpoint_missing','removing','removed')),
                toState TEXT CHECK (toState IS NULL OR toState IN ('awaiting_share','accepting','share_accepted','endpoint_pending','ready','share_expired','share_rejected','share_revoked','endpoint_failed','endpoint_missing','removing','removed')),
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

    /// v6: an endpoint kept by `customer remove --keep-endpoint` (a released generation) is nobody's to adopt:
    /// no other generation may record its id, whoever writes.
    static func keepReleasedEndpoints(_ db: Database) throws {
        try db.execute(sql: """
            CREATE INDEX endpoint_released_id ON endpoint(vpcEndpointId) WHERE state = 'released' AND vpcEndpointId IS NOT NULL;
            CREATE TRIGGER endpoint_released_not_adopted_insert BEFORE INSERT ON endpoint
            WHEN NEW.vpcEndpointId IS NOT NULL AND NEW.state IN ('creating','pending','available','failed','deleting')
                 AND EXISTS (SELECT 1 FROM endpoint WHERE vpcEndpointId = NEW.vpcEndpointId AND state = 'released')
            BEGIN SELECT RAISE(ABORT, 'lifecycle: a released (kept) endpoint is never adopted'); END;
            CREATE TRIGGER endpoint_released_not_adopted_update BEFORE UPDATE OF vpcEndpointId ON endpoint
            WHEN NEW.vpcEndpointId IS NOT NULL AND NEW.state IN ('creating','pending','available','failed','deleting')
                 AND NEW.vpcEndpointId IS NOT OLD.vpcEndpointId
                 AND EXISTS (SELECT 1 FROM endpoint WHERE vpcEndpointId = NEW.vpcEndpointId AND state = 'released' AND id <> NEW.id)
            BEGIN SELECT RAISE(ABORT, 'lifecycle: a released (kept) endpoint is never adopted'); END;
            CREATE TRIGGER endpoint_released_id_once BEFORE UPDATE OF vpcEndpointId ON endpoint
            WHEN OLD.state = 'released' AND (OLD.vpcEndpointId IS NOT NULL AND NEW.vpcEndpointId IS NOT OLD.vpcEndpointId)
            BEGIN SELECT RAISE(ABORT, 'lifecycle: a released endpoint keeps its id'); END;
            """)
    }

    /// v7: the VPC of the pool each endpoint generation was made in (from its stored request for the rows
    /// written before), and the pool's capacity as the active daemon's last pass saw it (`status`).
    static func addVpcPool(_ db: Database) throws {
        try db.execute(sql: """
            ALTER TABLE endpoint ADD COLUMN vpcId TEXT CHECK (vpcId IS NULL OR vpcId GLOB 'vpc-?*');
            -- CASE: evaluated lazily, so that no row's request can make the upgrade fail; one naming no VPC is left without.
            UPDATE endpoint SET vpcId = json_extract(createRequest, '$.vpcId')
                WHERE CASE WHEN json_valid(createRequest) THEN coalesce(json_extract(createRequest, '$.vpcId') GLOB 'vpc-?*', 0) ELSE 0 END;
            -- An endpoint never moves: the VPC a generation records stays, whoever writes.
            CREATE TRIGGER endpoint_vpc_kept BEFORE UPDATE OF vpcId ON endpoint
            WHEN OLD.vpcId IS NOT NULL AND NEW.vpcId IS NOT OLD.vpcId
            BEGIN SELECT RAISE(ABORT, 'lifecycle: an endpoint never moves: its VPC is kept'); END;
            CREATE TABLE vpc_capacity (
                region TEXT NOT NULL CHECK (length(region) > 0),
                vpcId TEXT NOT NULL CHECK (vpcId GLOB 'vpc-?*'),
                position INTEGER NOT NULL CHECK (position >= 0),
                endpoints INTEGER NOT NULL CHECK (endpoints >= 0),
                endpointLimit INTEGER NOT NULL CHECK (endpointLimit >= 0),
                limitSource TEXT NOT NULL CHECK (limitSource IN ('service-quotas','default','maxEndpoints')),
                fullBecause TEXT,
                changedAt DATETIME NOT NULL,
                PRIMARY KEY (region, vpcId),
                UNIQUE (region, position)
            ) WITHOUT ROWID;
            """)
    }
}
