import AWSClient
import ConsumerStore
import Foundation
import Synchronization

/// What the daemon knows of each region's VPC pool between passes: the quota it last read from Service
/// Quotas (read at start and every 6 hours; AWS's default when it cannot be read), and the VPCs EC2 refused
/// an endpoint in (full until the quota is read again, so a full VPC is not asked pass after pass).
final class CapacityBook: Sendable {
    static let quotaInterval: TimeInterval = 6 * 3600

    struct Region: Sendable {
        var quota = VpcCapacity.defaultQuota
        var fromServiceQuotas = false
        var readAt: Date?
        /// VPC id → the EC2 code that said it is full, and how many of our endpoints it held then.
        var full: [String: (code: String, endpoints: Int)] = [:]
        /// The pool as the last pass left it (for metrics).
        var pool: [VpcCapacity] = []
        /// Whether the fallback to the default quota was said (said once, until a reading succeeds).
        var saidDefault = false
    }

    private let regions = Mutex<[String: Region]>([:])
    /// What the store holds (nil: not written by this process yet).
    private let written = Mutex<[CapacityRecord]?>(nil)

    /// Whether the quota of `region` should be read now.
    func quotaDue(_ region: String, now: Date) -> Bool {
        regions.withLock { $0[region]?.readAt.map { now.timeIntervalSince($0) >= Self.quotaInterval } ?? true }
    }

    /// A reading of the quota (nil: it could not be read, AWS's default applies); forgets the full marks.
    /// Returns whether the fallback is new (to be said once).
    @discardableResult
    func recordQuota(_ value: Int?, region: String, at time: Date) -> Bool {
        regions.withLock { regions in
            var entry = regions[region] ?? Region()
            entry.quota = value ?? VpcCapacity.defaultQuota
            entry.fromServiceQuotas = value != nil
            entry.readAt = time
            entry.full = [:]
            let newFallback = value == nil && !entry.saidDefault
            entry.saidDefault = value == nil
            regions[region] = entry
            return newFallback
        }
    }

    func markFull(_ vpcId: String, region: String, code: String, endpoints: Int) {
        regions.withLock { $0[region, default: Region()].full[vpcId] = (code, endpoints) }
    }

    /// The pool of `region` for this pass, from the listing.
    func pool(region: String, config: RegionConfig, listed: some Sequence<VpcEndpoint>) -> [VpcCapacity] {
        let entry = regions.withLock { $0[region] ?? Region() }
        return VpcCapacity.pool(config.vpcs.map { ($0.vpcId, $0.maxEndpoints) }, listed: listed, quota: entry.quota,
                                quotaFromServiceQuotas: entry.fromServiceQuotas, full: entry.full)
    }

    /// Keeps the pool as the pass left it (metrics read it).
    func keep(_ pool: [VpcCapacity], region: String) {
        regions.withLock { $0[region, default: Region()].pool = pool }
    }

    func pools() -> [String: [VpcCapacity]] {
        regions.withLock { $0.mapValues(\.pool) }
    }

    /// The rows `status` should show for `regions` (in that order), when they differ from what this process last
    /// wrote; nil when nothing changed (a steady pass writes nothing).
    func rowsToWrite(regions names: [String], at time: Date) -> [CapacityRecord]? {
        let pools = pools()
        let rows = names.flatMap { CapacityRecord.rows(region: $0, pool: pools[$0] ?? [], at: time) }
        return written.withLock { written in
            if let written, written.count == rows.count, zip(written, rows).allSatisfy({ $0.sameReading(as: $1) }) { return nil }
            return rows
        }
    }

    /// The store holds `rows` now.
    func wrote(_ rows: [CapacityRecord]) {
        written.withLock { $0 = rows }
    }
}
