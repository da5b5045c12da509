import Foundation
import GRDB

extension SQLiteStore {
    /// Registers a customer (`customer add`), refusing a name or ARN that is already registered.
    public func addCustomer(_ new: NewCustomer, by actor: LifecycleActor) async throws -> Customer {
        try StoreRules.validate(new)
        let time = now()
        return try await write { db in
            if let existing = try Self.registeredCustomer(new.name, db) {
                throw StoreRules.duplicateName(new.name, registeredArn: existing.resourceConfigurationArn)
            }
            let arn = new.arn.description
            if let existing = try Customer.fetchOne(db, sql: "SELECT * FROM customer WHERE resourceConfigurationArn = ? AND state NOT IN ('removing', 'removed')",
                                                    arguments: [arn]) {
                throw StoreRules.duplicateArn(arn, registeredAs: existing.name)
            }
            var customer = try StoreRules.newCustomer(new, by: actor, at: time)
            try customer.insert(db)
            try Self.bumpRegistryVersion(db)
            var event = LifecycleEvent(time: time, customerId: customer.id, customerName: customer.name,
                                       event: CustomerLifecycle.Event.registered.rawValue, fromState: nil, toState: .awaitingShare,
                                       detail: StoreRules.registeredDetail(new), actor: actor)
            try event.insert(db)
            // Re-read: stored times have millisecond precision, and callers should see what is stored.
            return try Customer.fetchOne(db, key: customer.id) ?? customer
        }
    }

    /// Registered customers by name; removed ones only when asked for.
    public func customers(includeRemoved: Bool) async throws -> [Customer] {
        try await read { db in
            if includeRemoved {
                return try Customer.order(Column("name"), Column("id")).fetchAll(db)
            }
            return try Customer.filter(Column("state") != CustomerState.removed.rawValue)
                .order(Column("name")).fetchAll(db)
        }
    }

    /// How many live customers there are, and how many of them are ready.
    public func customerCounts() async throws -> (live: Int, ready: Int) {
        try await read { db in
            let row = try Row.fetchOne(db, sql: """
                SELECT count(*) AS live, coalesce(sum(state = ?), 0) AS ready FROM customer WHERE state != ?
                """, arguments: [CustomerState.ready.rawValue, CustomerState.removed.rawValue])
            return (row?["live"] ?? 0, row?["ready"] ?? 0)
        }
    }

    /// The customer named `name`: the registered one, else one still being removed.
    public func customer(named name: String) async throws -> Customer? {
        try await read { db in
            try Self.liveCustomer(name, db)
        }
    }

    /// Deregisters a customer (`customer remove`). With nothing to clean up (or `keepEndpoint`: its current
    /// endpoint is released, left in place) it is removed at once; otherwise it goes to `removing` and the
    /// daemon deletes every endpoint ever created for it. The name and ARN are free again at once.
    public func requestRemoval(named name: String, keepEndpoint: Bool, by actor: LifecycleActor) async throws -> Customer {
        let time = now()
        return try await write { db in
            guard var customer = try Self.registeredCustomer(name, db), let id = customer.id else {
                if try Self.liveCustomer(name, db) != nil { throw StoreRules.alreadyRemoving(name) }
                throw StoreRules.notFound(name)
            }
            if keepEndpoint {
                try db.execute(sql: """
                    UPDATE endpoint SET state = 'released', updatedAt = ? WHERE customerId = ? AND state IN ('creating', 'pending', 'available')
                    """, arguments: [StoredDateArgument(time), id])
            }
            let open = try EndpointRecord.filter(sql: "customerId = ? AND state NOT IN ('deleted', 'released')", arguments: [id]).fetchCount(db)
            let (event, detail) = StoreRules.removal(open: open, keepEndpoint: keepEndpoint)
            customer.keepEndpoint = keepEndpoint
            let outcome = try Self.applyTransition(&customer, from: customer.state, event: event, detail: detail, hint: nil,
                                                   by: actor, at: time, in: db)
            if case .refused(let refusal) = outcome { throw StoreError(.invalid, refusal.description) }
            try Self.bumpRegistryVersion(db)
            return customer
        }
    }

    /// The live customer named `name`: the registered one, else one still being removed (the newest).
    static func liveCustomer(_ name: String, _ db: Database) throws -> Customer? {
        try Customer.filter(Column("name") == name && Column("state") != CustomerState.removed.rawValue)
            .order(sql: "state = 'removing', id DESC").fetchOne(db)
    }

    /// The registered (not removing, not removed) customer named `name`.
    static func registeredCustomer(_ name: String, _ db: Database) throws -> Customer? {
        try Customer.filter(sql: "name = ? AND state NOT IN ('removing', 'removed')", arguments: [name]).fetchOne(db)
    }

    /// Each live customer's endpoint to show: the newest generation not closed.
    static func liveEndpoints(_ db: Database) throws -> [Int64: EndpointRecord] {
        let endpoints = try EndpointRecord.fetchAll(db, sql: """
            SELECT \(EndpointRecord.columnsForPasses) FROM endpoint
            WHERE state NOT IN ('deleted', 'released') AND customerId IN (SELECT id FROM customer WHERE state <> 'removed')
            ORDER BY generation
            """)
        return Dictionary(endpoints.map { ($0.customerId, $0) }, uniquingKeysWith: { _, newer in newer })
    }

    /// Tells a sleeping daemon that the registry changed (it polls this cheaply every few seconds).
    static func bumpRegistryVersion(_ db: Database) throws {
        try db.execute(sql: "UPDATE meta SET value = value + 1 WHERE key = 'registryVersion'")
    }

    /// A number that changes whenever the CLI changes the registry.
    public func registryVersion() async throws -> Int {
        try await read { db in try Int.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'registryVersion'") ?? 0 }
    }

    /// The newest `limit` events of a customer, oldest first.
    public func events(customerId: Int64, limit: Int) async throws -> [LifecycleEvent] {
        try await read { db in
            try LifecycleEvent.filter(Column("customerId") == customerId)
                .order(Column("id").desc).limit(limit).fetchAll(db).reversed()
        }
    }

    /// The customer's current (not deleted) endpoint, if it has one.
    public func liveEndpoint(customerId: Int64) async throws -> EndpointRecord? {
        try await read { db in
            try EndpointRecord.filter(sql: "customerId = ? AND state NOT IN ('deleted', 'released')", arguments: [customerId])
                .order(Column("generation").desc).fetchOne(db)
        }
    }
}

extension SQLiteStore {
    /// Sets or clears (`user: nil`) the probe's login stage for a customer.
    public func setProbeLogin(named name: String, user: String?, passwordFile: String?, database: String?,
                              by actor: LifecycleActor) async throws -> Customer {
        let time = now()
        return try await write { db in
            guard var customer = try Self.registeredCustomer(name, db) else { throw StoreRules.notFound(name) }
            customer.probeUser = user
            customer.probePasswordFile = user == nil ? nil : passwordFile
            customer.probeDatabase = user == nil ? nil : database
            customer.updatedAt = time
            try customer.update(db)
            var event = StoreRules.probeLoginEvent(customer, user: user, passwordFile: passwordFile, by: actor, at: time)
            try event.insert(db)
            try Self.bumpRegistryVersion(db)
            return customer
        }
    }

    /// Records probe results, keeping the newest `history` per customer (latest + bounded history).
    public func recordProbes(_ results: [ProbeResultRecord], history: Int) async throws {
        guard !results.isEmpty else { return }
        try await write { db in
            for var result in results {
                try result.insert(db)
            }
            for customerId in Set(results.map(\.customerId)) {
                try db.execute(sql: """
                    DELETE FROM probeResult WHERE customerId = ? AND id <= (
                        SELECT id FROM probeResult WHERE customerId = ? ORDER BY id DESC LIMIT 1 OFFSET ?)
                    """, arguments: [customerId, customerId, history])
            }
        }
    }

    /// The newest probe results of a customer, newest first.
    public func probeHistory(customerId: Int64, limit: Int) async throws -> [ProbeResultRecord] {
        try await read { db in
            try ProbeResultRecord.filter(Column("customerId") == customerId).order(Column("id").desc).limit(limit).fetchAll(db)
        }
    }
}
