import Foundation
import Logging
import PostgresNIO

/// The PostgreSQL schema: the same tables, checks, unique indexes and lifecycle triggers as the SQLite
/// file's (its version 7), numbered on their own. Migrations are append-only, run in one transaction
/// each, under a transaction-level advisory lock, so that however many daemons and CLIs start at once
/// against a new database exactly one runs each migration and the others wait and then see it done.
///
/// Identifiers are unquoted: PostgreSQL folds `customerId` to `customerid`, and rows are read by those
/// folded names.
public enum PostgresSchema {
    struct Migration: Sendable {
        let name: String
        let sql: String
    }

    /// The advisory lock key of migrations ("plc-migr").
    static let migrationLock: Int64 = 0x706C_632D_6D69_6772

    static let migrations: [Migration] = [
        Migration(name: "v1-state", sql: v1),
        Migration(name: "v2-leadership", sql: v2),
        Migration(name: "v3-released-endpoints-kept", sql: v3),
        Migration(name: "v4-vpc-pool", sql: v4),
    ]

    /// The newest schema version this build knows.
    public static var currentVersion: Int { migrations.count }

    /// Brings the database to the current version. Refuses one written by a newer build, untouched.
    static func migrate(_ connection: PostgresConnection, known: Int = currentVersion, logger: Logger) async throws {
        try await PostgresTransaction.run(on: connection, logger: logger) { connection in
            try await connection.statement("SELECT pg_advisory_xact_lock(\(migrationLock))", logger: logger)
            try await connection.statement("""
                CREATE TABLE IF NOT EXISTS schema_migration (
                    version INTEGER PRIMARY KEY CHECK (version >= 1),
                    name TEXT NOT NULL,
                    appliedAt TIMESTAMPTZ NOT NULL DEFAULT now())
                """, logger: logger)
            let version = Int(try await connection.statement("SELECT coalesce(max(version), 0)::bigint FROM schema_migration", logger: logger).firstInt() ?? 0)
            if version > known {
                throw StoreError.newerSchema(found: version, known: known)
            }
            for index in version..<known {
                let migration = migrations[index]
                for statement in SQLStatements.split(migration.sql) {
                    try await connection.statement(StoreQuery(unsafeSQL: statement), logger: logger)
                }
                let number = index + 1
                try await connection.statement("INSERT INTO schema_migration (version, name) VALUES (\(number), \(migration.name))", logger: logger)
                logger.info("state schema migrated", metadata: ["version": "\(number)", "migration": "\(migration.name)"])
            }
        }
    }

    static func version(_ connection: PostgresConnection, logger: Logger) async throws -> Int {
        Int(try await connection.statement("SELECT coalesce(max(version), 0)::bigint FROM schema_migration", logger: logger).firstInt() ?? 0)
    }

    /// Every table the state has, in an order that respects foreign keys (what `state copy` fills).
    static let tables = ["meta", "customer", "endpoint", "invitation", "event", "probeResult", "customer_check"]

    private static let states = "'awaiting_share','accepting','share_accepted','endpoint_pending','ready','share_expired','share_rejected','share_revoked','endpoint_failed','endpoint_missing','removing','removed'"

    /// The VPC of the pool each endpoint generation was made in (from its stored request for the rows written
    /// before), and the pool's capacity as the active daemon's last pass saw it (`status`).
    private static let v4 = """
        ALTER TABLE endpoint ADD COLUMN vpcId TEXT CHECK (vpcId IS NULL OR vpcId ~ '^vpc-.+');
        CREATE FUNCTION plc_request_vpc(request TEXT) RETURNS TEXT LANGUAGE plpgsql AS $$
        BEGIN
            RETURN CASE WHEN (request::jsonb->>'vpcId') ~ '^vpc-.+' THEN request::jsonb->>'vpcId' END;
        EXCEPTION WHEN others THEN
            RETURN NULL; -- no row's request can make the upgrade fail: one that names no VPC leaves the row without
        END $$;
        UPDATE endpoint SET vpcId = plc_request_vpc(createRequest) WHERE createRequest IS NOT NULL;
        DROP FUNCTION plc_request_vpc(TEXT);
        CREATE FUNCTION endpoint_vpc_kept() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'lifecycle: an endpoint never moves: its VPC is kept' USING ERRCODE = 'check_violation';
        END $$;
        CREATE TRIGGER endpoint_vpc_kept BEFORE UPDATE OF vpcId ON endpoint
            FOR EACH ROW WHEN (OLD.vpcId IS NOT NULL AND NEW.vpcId IS DISTINCT FROM OLD.vpcId)
            EXECUTE FUNCTION endpoint_vpc_kept();
        CREATE TABLE vpc_capacity (
            region TEXT NOT NULL CHECK (length(region) > 0),
            vpcId TEXT NOT NULL CHECK (vpcId ~ '^vpc-.+'),
            position INTEGER NOT NULL CHECK (position >= 0),
            endpoints INTEGER NOT NULL CHECK (endpoints >= 0),
            endpointLimit INTEGER NOT NULL CHECK (endpointLimit >= 0),
            limitSource TEXT NOT NULL CHECK (limitSource IN ('service-quotas','default','maxEndpoints')),
            fullBecause TEXT,
            changedAt TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (region, vpcId),
            UNIQUE (region, position)
        );
        """

    /// An endpoint kept by `customer remove --keep-endpoint` (a released generation) is nobody's to adopt: no
    /// other generation may record its id, and a released one keeps the id it has.
    private static let v3 = """
        CREATE INDEX endpoint_released_id ON endpoint(vpcEndpointId) WHERE state = 'released' AND vpcEndpointId IS NOT NULL;
        CREATE FUNCTION endpoint_released_kept() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' AND OLD.state = 'released' AND OLD.vpcEndpointId IS NOT NULL
               AND NEW.vpcEndpointId IS DISTINCT FROM OLD.vpcEndpointId THEN
                RAISE EXCEPTION 'lifecycle: a released endpoint keeps its id' USING ERRCODE = 'check_violation';
            END IF;
            IF NEW.vpcEndpointId IS NOT NULL AND NEW.state IN ('creating','pending','available','failed','deleting')
               AND (TG_OP = 'INSERT' OR NEW.vpcEndpointId IS DISTINCT FROM OLD.vpcEndpointId)
               AND EXISTS (SELECT 1 FROM endpoint WHERE vpcEndpointId = NEW.vpcEndpointId AND state = 'released' AND id <> NEW.id) THEN
                RAISE EXCEPTION 'lifecycle: a released (kept) endpoint is never adopted' USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER endpoint_released_kept BEFORE INSERT OR UPDATE ON endpoint FOR EACH ROW EXECUTE FUNCTION endpoint_released_kept();
        """

    /// The leadership lease: one row; `epoch` fences every write of the active daemon.
    private static let v2 = """
        CREATE TABLE leader (
            singleton BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
            epoch BIGINT NOT NULL DEFAULT 0 CHECK (epoch >= 0),
            holder TEXT CHECK (holder IS NULL OR length(holder) BETWEEN 1 AND 300),
            host TEXT,
            pid INTEGER,
            since TIMESTAMPTZ,
            renewedAt TIMESTAMPTZ,
            expiresAt TIMESTAMPTZ,
            CHECK ((holder IS NULL) = (expiresAt IS NULL))
        );
        INSERT INTO leader (singleton, epoch) VALUES (true, 0);
        -- An epoch never goes back: a restored or hand-edited row cannot reopen an old leader's writes.
        CREATE FUNCTION leader_epoch_grows() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.epoch < OLD.epoch THEN
                RAISE EXCEPTION 'leadership: the epoch never goes back' USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER leader_epoch_grows BEFORE UPDATE ON leader FOR EACH ROW EXECUTE FUNCTION leader_epoch_grows();
        """

    private static let v1 = """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
        INSERT INTO meta (key, value) VALUES ('registryVersion', 0), ('healthLogCursor', 0),
            ('stateId', floor(random() * 9007199254740991)::bigint);

        CREATE TABLE customer (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            name TEXT NOT NULL CHECK (name ~ '^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$'),
            resourceConfigurationArn TEXT NOT NULL
                CHECK (resourceConfigurationArn ~ '^arn:.*:vpc-lattice:.*:[0-9]{12}:resourceconfiguration/rcfg-'),
            partition TEXT NOT NULL CHECK (partition LIKE 'aws%'),
            region TEXT NOT NULL CHECK (length(region) > 0),
            accountId TEXT NOT NULL CHECK (accountId ~ '^[0-9]{12}$'),
            port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
            note TEXT,
            state TEXT NOT NULL DEFAULT 'awaiting_share' CHECK (state IN (\(states))),
            stateDetail TEXT,
            hint TEXT,
            keepEndpoint BOOLEAN NOT NULL DEFAULT false,
            resourceShareArn TEXT,
            invitationArn TEXT,
            createdAt TIMESTAMPTZ NOT NULL,
            updatedAt TIMESTAMPTZ NOT NULL,
            stateChangedAt TIMESTAMPTZ NOT NULL,
            removedAt TIMESTAMPTZ,
            endpointFailures INTEGER NOT NULL DEFAULT 0 CHECK (endpointFailures >= 0),
            nextEndpointAttemptAt TIMESTAMPTZ,
            probeUser TEXT CHECK (probeUser IS NULL OR length(probeUser) BETWEEN 1 AND 63),
            probePasswordFile TEXT CHECK (probePasswordFile IS NULL OR probePasswordFile LIKE '/%'),
            probeDatabase TEXT,
            stateActor TEXT NOT NULL DEFAULT 'daemon'
                CHECK (stateActor = 'daemon' OR (stateActor ~ '^cli:.' AND length(stateActor) <= 68)),
            CHECK ((state = 'removed') = (removedAt IS NOT NULL))
        );
        -- Names and ARNs are free again as soon as removal starts.
        CREATE UNIQUE INDEX customer_registered_name ON customer(name) WHERE state NOT IN ('removing','removed');
        CREATE UNIQUE INDEX customer_registered_arn ON customer(resourceConfigurationArn) WHERE state NOT IN ('removing','removed');

        CREATE TABLE endpoint (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            customerId BIGINT NOT NULL REFERENCES customer(id) ON DELETE CASCADE,
            region TEXT NOT NULL,
            clientToken TEXT NOT NULL UNIQUE CHECK (length(clientToken) BETWEEN 1 AND 64),
            generation INTEGER NOT NULL CHECK (generation >= 1),
            vpcEndpointId TEXT CHECK (vpcEndpointId IS NULL OR vpcEndpointId LIKE 'vpce-%'),
            state TEXT NOT NULL CHECK (state IN ('creating','pending','available','failed','deleting','deleted','released')),
            awsState TEXT,
            dnsName TEXT,
            lastError TEXT,
            createRequest TEXT CHECK (createRequest IS NULL OR json_typeof(createRequest::json) IS NOT NULL),
            createAnsweredAt TIMESTAMPTZ,
            lastSeenAt TIMESTAMPTZ,
            deleteRequestedAt TIMESTAMPTZ,
            createdAt TIMESTAMPTZ NOT NULL,
            updatedAt TIMESTAMPTZ NOT NULL,
            UNIQUE (customerId, generation),
            CHECK (state NOT IN ('pending','available','failed','deleting') OR vpcEndpointId IS NOT NULL)
        );
        -- At most one endpoint generation per customer is being created or alive.
        CREATE UNIQUE INDEX endpoint_one_live ON endpoint(customerId) WHERE state IN ('creating','pending','available');
        CREATE UNIQUE INDEX endpoint_open_id ON endpoint(vpcEndpointId)
            WHERE vpcEndpointId IS NOT NULL AND state NOT IN ('deleted','released');
        CREATE INDEX endpoint_open ON endpoint(customerId) WHERE state NOT IN ('deleted','released');

        CREATE TABLE invitation (
            invitationArn TEXT PRIMARY KEY CHECK (invitationArn LIKE 'arn:%:ram:%'),
            region TEXT NOT NULL,
            resourceShareArn TEXT NOT NULL,
            resourceShareName TEXT,
            senderAccountId TEXT NOT NULL,
            status TEXT NOT NULL,
            resources TEXT NOT NULL DEFAULT '[]' CHECK (json_typeof(resources::json) = 'array'),
            decision TEXT NOT NULL CHECK (decision IN ('pending','accepted','ignored','rejected')),
            reason TEXT CHECK (reason IS NULL OR reason IN ('unregistered_resource','sender_mismatch','unexpected_resource_type','empty_share')),
            acceptClientToken TEXT,
            firstSeen TIMESTAMPTZ NOT NULL,
            lastSeen TIMESTAMPTZ NOT NULL,
            decidedAt TIMESTAMPTZ,
            CHECK ((decision IN ('ignored','rejected')) = (reason IS NOT NULL))
        );
        CREATE INDEX invitation_sender ON invitation(senderAccountId);

        CREATE TABLE event (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            time TIMESTAMPTZ NOT NULL,
            customerId BIGINT REFERENCES customer(id) ON DELETE SET NULL,
            customerName TEXT,
            event TEXT NOT NULL CHECK (length(event) > 0),
            fromState TEXT CHECK (fromState IS NULL OR fromState IN (\(states))),
            toState TEXT CHECK (toState IS NULL OR toState IN (\(states))),
            detail TEXT,
            actor TEXT NOT NULL DEFAULT 'daemon' CHECK (actor = 'daemon' OR (actor ~ '^cli:.' AND length(actor) <= 68)),
            checkName TEXT CHECK (checkName IS NULL OR checkName IN ('type','definition','port','status')),
            verdict TEXT CHECK (verdict IS NULL OR verdict IN ('pass','fail','unknown')),
            hint TEXT
        );
        CREATE INDEX event_customer ON event(customerId, id);
        CREATE INDEX event_time ON event(time);

        CREATE TABLE probeResult (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            customerId BIGINT NOT NULL REFERENCES customer(id) ON DELETE CASCADE,
            time TIMESTAMPTZ NOT NULL,
            ok BOOLEAN NOT NULL,
            stage TEXT NOT NULL CHECK (stage IN ('dns','connect','postgres','login')),
            errorKind TEXT,
            error TEXT,
            hint TEXT,
            latencyMs TEXT NOT NULL DEFAULT '{}' CHECK (json_typeof(latencyMs::json) IS NOT NULL),
            vpcEndpointId TEXT,
            dnsName TEXT,
            port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
            CHECK (ok = (errorKind IS NULL))
        );
        CREATE INDEX probeResult_customer_time ON probeResult(customerId, id);

        CREATE TABLE customer_check (
            customerId BIGINT NOT NULL REFERENCES customer(id) ON DELETE CASCADE,
            name TEXT NOT NULL CHECK (name IN ('type','definition','port','status')),
            verdict TEXT NOT NULL CHECK (verdict IN ('pass','fail','unknown')),
            detail TEXT NOT NULL,
            hint TEXT,
            checkedAt TIMESTAMPTZ NOT NULL,
            changedAt TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (customerId, name)
        );

        -- The lifecycle table as it stood at SQLite's v4 (CustomerLifecycle.table), and who may make each edge.
        CREATE TABLE lifecycle_edge (
            fromState TEXT NOT NULL,
            toState TEXT NOT NULL,
            byActor TEXT NOT NULL CHECK (byActor IN ('daemon','cli')),
            PRIMARY KEY (fromState, toState, byActor)
        );
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

        CREATE FUNCTION customer_starts_awaiting_share() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.state <> 'awaiting_share' OR NEW.stateActor !~ '^cli:.' THEN
                RAISE EXCEPTION 'lifecycle: a customer is registered by the CLI in awaiting_share' USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER customer_starts_awaiting_share BEFORE INSERT ON customer
            FOR EACH ROW EXECUTE FUNCTION customer_starts_awaiting_share();

        CREATE FUNCTION customer_lifecycle() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM lifecycle_edge WHERE fromState = OLD.state AND toState = NEW.state
                           AND byActor = CASE WHEN NEW.stateActor = 'daemon' THEN 'daemon' ELSE 'cli' END) THEN
                RAISE EXCEPTION 'lifecycle: state change not in the lifecycle table' USING ERRCODE = 'check_violation';
            END IF;
            IF NEW.state = 'removed'
               AND EXISTS (SELECT 1 FROM endpoint WHERE customerId = NEW.id AND state NOT IN ('deleted','released')) THEN
                RAISE EXCEPTION 'lifecycle: removal cannot finish while an endpoint is not confirmed gone' USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER customer_lifecycle BEFORE UPDATE OF state ON customer
            FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION customer_lifecycle();

        CREATE FUNCTION endpoint_not_for_removed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF (SELECT state FROM customer WHERE id = NEW.customerId) IN ('removing','removed') THEN
                RAISE EXCEPTION 'lifecycle: no new endpoint generation for a customer being removed' USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER endpoint_not_for_removed BEFORE INSERT ON endpoint
            FOR EACH ROW EXECUTE FUNCTION endpoint_not_for_removed();

        CREATE FUNCTION endpoint_closed_stays_closed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'lifecycle: a closed endpoint generation stays closed' USING ERRCODE = 'check_violation';
        END $$;
        CREATE TRIGGER endpoint_closed_stays_closed BEFORE UPDATE OF state ON endpoint
            FOR EACH ROW WHEN (OLD.state IN ('deleted','released') AND NEW.state IS DISTINCT FROM OLD.state)
            EXECUTE FUNCTION endpoint_closed_stays_closed();
        """
}
